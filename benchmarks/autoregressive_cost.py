"""What vae:autoregressive costs beside vae on mnist5k's 28x28 images: parameters, a train step, pixel
draws, the likelihood.

Target: 500 joint pixel draws in under 10 s on one CPU thread. A joint draw is H*W = 784 passes of the PixelCNN head,
each over only the (reach + 1) x (2 reach + 1) window its pixel depends on, batched over all images
(vae.autoregressive); the independent draw is one decoder pass. The weights do not change the cost: untrained models.
Run: python benchmarks/autoregressive_cost.py [--threads 1] [--samples 500]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vae, not an installed one

from vae import VAE, VAEConfig  # noqa: E402

TARGET_S = 10.0
SHAPE = (1, 28, 28)


def seconds(fn, repeats: int) -> float:
    """The fastest of `repeats` timed calls after one warm-up: on a shared machine the minimum is the cost."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--samples", type=int, default=500, help="images per draw")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch, heldout = torch.rand(128, *SHAPE), (torch.rand(100, *SHAPE) > 0.5).float()
    print(f"torch {torch.__version__}, {args.threads} thread(s), {SHAPE[1]}x{SHAPE[2]} images")
    for decoder in ("independent", "autoregressive"):
        model = VAE(VAEConfig(image_shape=SHAPE, decoder=decoder), seed=0)
        counts = {name: sum(p.numel() for p in net.parameters()) for name, net in model.parts().items()}
        step = seconds(lambda: model.train_step(batch), args.repeats)
        draw = seconds(lambda: model.sample(args.samples, torch.Generator().manual_seed(0), mode="pixels"),
                       args.repeats)
        iwae = seconds(lambda: model.iwae_nll(heldout, k=200, generator=torch.Generator().manual_seed(0)), 1)
        print(f"{decoder:>14}: {sum(counts.values()):,} parameters "
              f"({', '.join(f'{k} {v:,}' for k, v in counts.items())}); train step (batch 128) {step * 1e3:.1f} ms; "
              f"{args.samples} pixel draws {draw:.2f} s; IWAE k=200 on 100 images {iwae:.1f} s")
        if decoder == "autoregressive":
            verdict = "meets" if draw <= TARGET_S else "misses"
            print(f"joint draws: {draw:.2f} s for {args.samples} images, {verdict} the {TARGET_S:g} s target "
                  f"({draw / args.samples * 1e3:.2f} ms per image, {SHAPE[1] * SHAPE[2]} head passes per draw)")


if __name__ == "__main__":
    main()
