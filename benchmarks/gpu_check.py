"""GPU path check: both families, mlp and conv, in fp32 / bf16 / fp16, a few hundred steps each.

Prints images/s, peak GPU memory and the final losses per configuration, and fails (exit 1) if a
loss is NaN or infinite, or if a train step makes the host wait for the GPU (checked with
torch.cuda.set_sync_debug_mode("error") over a few steps after warm-up).
Targets: every row finite and sync-free; bf16 and fp16 conv rows faster than their fp32 rows.

    python benchmarks/gpu_check.py            # ~1-2 minutes on one H100
    python benchmarks/gpu_check.py --steps 50 # quicker
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compare.data import batches, load_dataset  # noqa: E402
from compare.models import parse_model_specs, with_fields  # noqa: E402

SHAPES = {"mnist5k 1x28x28": None, "synthetic 3x64x64": (3, 64, 64)}
MODELS = ["gan", "gan:wgan-gp", "vae"]  # wgan-gp: the double backward of the gradient penalty under autocast


def images_for(shape: tuple[int, int, int] | None, device: torch.device) -> torch.Tensor:
    if shape is None:
        return load_dataset("mnist5k", device).train
    # Smooth random colour fields: what matters here is the speed and the numerics, not the content.
    g = torch.Generator(device="cpu").manual_seed(0)
    coarse = torch.rand(4096, shape[0], 8, 8, generator=g)
    return torch.nn.functional.interpolate(coarse, size=shape[1:], mode="bilinear").to(device)


def check(spec, images: torch.Tensor, steps: int, batch_size: int, device: torch.device) -> dict:
    model = spec.build(images.shape[1:], device, seed=0)
    source = batches(images, batch_size, torch.Generator().manual_seed(0))
    for _ in range(20):  # warm-up: cuDNN autotuning, lazy optimiser state
        model.train_step(next(source))
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        losses = model.train_step(next(source))
    torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    batch = next(source)
    torch.cuda.set_sync_debug_mode("error")
    synced = None
    try:
        for _ in range(3):
            model.train_step(batch)
    except RuntimeError as e:
        synced = str(e).strip().splitlines()[0]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    values = {k: float(v) for k, v in losses.items()}
    return {"images/s": steps * batch_size / seconds, "peak MiB": torch.cuda.max_memory_allocated(device) / 2**20,
            "losses": values, "finite": all(math.isfinite(v) for v in values.values()), "synced": synced}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    device = torch.device("cuda")
    print(f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, {args.steps} steps of "
          f"batch {args.batch_size}")
    print(f"{'data':<18} {'model':<11} {'arch':<4} {'prec':<4} {'images/s':>10} {'peak MiB':>9}  sync  losses")
    failures = 0
    for name, shape in SHAPES.items():
        images = images_for(shape, device)
        for arch in ("mlp", "conv"):
            for precision in ("fp32", "bf16", "fp16"):
                for spec in with_fields(parse_model_specs(MODELS), arch=arch, precision=precision):
                    r = check(spec, images, args.steps, args.batch_size, device)
                    bad = not r["finite"] or r["synced"] is not None
                    failures += bad
                    losses = " ".join(f"{k} {v:.3f}" for k, v in r["losses"].items())
                    print(f"{name:<18} {spec.label:<11} {arch:<4} {precision:<4} {r['images/s']:>10.0f} "
                          f"{r['peak MiB']:>9.1f}  {'YES ' if r['synced'] else 'no  '}  "
                          f"{losses}{'   <-- FAIL' if bad else ''}",
                          flush=True)
                    if r["synced"]:
                        print(f"    host sync inside the step: {r['synced']}")
    print("all finite and sync-free" if not failures
          else f"{failures} configurations FAILED (NaN/inf loss or a host sync)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
