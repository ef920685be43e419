"""How often the conv GAN collapses early under Adam (issue 21): the flipped-label GAN trained for 2,000 steps on
mnist5k at each (d_width, width, seed), two processes of one torch thread, and the runs that collapsed: the
discriminator won (D(G(z)) below 0.1 on average over steps 500-1,000, the share the saturation readings call
rejected) and the generator never recovered (FID of 500 samples against 500 held-out images above 400 at the end).
Not a speed figure: the measurement behind gan.model.DEFAULT_D_WIDTH, kept here so that it can be rerun.

    python benchmarks/conv_gan_stability.py                  # d_width 1 and 0.5, widths 0.25 and 1, seeds 0-3 (~8 min)
    python benchmarks/conv_gan_stability.py 0.5 1,2 4,5,6,7  # d_widths, widths, seeds

Target: no collapsed run at the default d_width.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import sys

STEPS, BATCH, REJECTED, FAILED_FID = 2000, 128, 0.1, 400.0
WINDOW = range(500, 1001)


def train_one(job: tuple[float, float, int]) -> tuple[float, float, int, float, float]:
    """(d_width, width, seed, mean D(G(z)) over WINDOW, FID at the end) of one conv GAN run."""
    import torch

    import compare
    from gan.model import GAN, GANConfig

    torch.set_num_threads(1)
    d_width, width, seed = job
    data = compare.load_dataset("mnist5k")
    model = GAN(GANConfig(image_shape=(1, 28, 28), arch="conv", width=width, d_width=d_width), "cpu", seed)
    order = torch.Generator().manual_seed(seed)

    def batches():  # shuffled epochs of whole batches
        while True:
            yield from (idx for idx in torch.randperm(len(data.train), generator=order).split(BATCH)
                        if len(idx) == BATCH)

    d_fake = []
    for step, idx in zip(range(1, STEPS + 1), batches()):
        model.train_step(data.train[idx])
        if step in WINDOW:
            d_fake.append(float(model.saturation()["d_fake"]))
    samples = model.sample(500, torch.Generator().manual_seed(7))
    fid = compare.score(data.heldout[:500], samples).report["metrics"]["fid"]["values"]["fid"]
    return d_width, width, seed, sum(d_fake) / len(d_fake), fid


def collapsed(d_fake: float, fid: float) -> bool:
    return d_fake < REJECTED and fid > FAILED_FID


def main() -> None:
    args = sys.argv[1:] + [None] * 3
    d_widths = [float(x) for x in (args[0] or "1,0.5").split(",")]
    widths = [float(x) for x in (args[1] or "0.25,1").split(",")]
    seeds = [int(x) for x in (args[2] or "0,1,2,3").split(",")]
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.map(train_one, list(itertools.product(d_widths, widths, seeds)), chunksize=1)
    for d_width in d_widths:
        runs = [r for r in results if r[0] == d_width]
        for _, width, seed, d_fake, fid in runs:
            print(f"d_width {d_width:g} width {width:g} seed {seed}: D(G(z)) {d_fake:.3f} over steps "
                  f"500-1,000, FID {fid:.1f}" + ("  COLLAPSED" if collapsed(d_fake, fid) else ""))
        print(f"d_width {d_width:g}: {sum(collapsed(r[3], r[4]) for r in runs)} of {len(runs)} runs collapsed; "
              "target: none at the default")


if __name__ == "__main__":
    main()
