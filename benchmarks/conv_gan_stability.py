"""How often the conv GAN collapses early under Adam (issue 21): the flipped-label GAN trained for 2,000 steps on
mnist5k at each (d_width, R1 weight, width, seed), two processes of one torch thread, and the runs that collapsed: the
discriminator won (D(G(z)) below 0.1 on average over steps 500-1,000, the share the saturation readings call
rejected) and the generator never recovered (FID of 500 samples against 500 held-out images above 400 at the end).
Not a speed figure: the measurement behind gan.model.DEFAULT_D_WIDTH and DEFAULT_R1_WEIGHT, kept so it can be rerun.

    python benchmarks/conv_gan_stability.py                      # d_width 0.5, R1 off and 1, width 2, seeds 0-5
    python benchmarks/conv_gan_stability.py 1,0.5 0.25,1 0,1,2,3 0   # d_widths, widths, seeds, R1 weights

Target: no collapsed run at the defaults.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import sys

STEPS, BATCH, REJECTED, FAILED_FID = 2000, 128, 0.1, 400.0
WINDOW = range(500, 1001)


def train_one(job: tuple[float, float, int, float | None]) -> tuple[float, float, int, float, float]:
    """(d_width, width, seed, mean D(G(z)) over WINDOW, FID at the end) of one conv GAN run with R1 weight r1."""
    import torch

    import compare
    from gan.model import GAN, GANConfig

    torch.set_num_threads(1)
    d_width, width, seed, r1 = job
    data = compare.load_dataset("mnist5k")
    config = GANConfig(image_shape=(1, 28, 28), arch="conv", width=width, d_width=d_width, r1_weight=r1)
    model = GAN(config, "cpu", seed)
    order = torch.Generator().manual_seed(seed)

    def batches():  # shuffled epochs of whole batches
        while True:
            order_idx = torch.randperm(len(data.train), generator=order)
            yield from (idx for idx in order_idx.split(BATCH) if len(idx) == BATCH)

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
    args = sys.argv[1:] + [None] * 4
    d_widths = [float(x) for x in (args[0] or "0.5").split(",")]
    widths = [float(x) for x in (args[1] or "2").split(",")]
    seeds = [int(x) for x in (args[2] or "0,1,2,3,4,5").split(",")]
    r1_weights = [float(x) for x in (args[3] or "0,1").split(",")]
    settings = list(itertools.product(d_widths, r1_weights))
    jobs = [(d_width, width, seed, r1) for (d_width, r1), width, seed in itertools.product(settings, widths, seeds)]
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.map(train_one, jobs, chunksize=1)
    for d_width, r1 in settings:
        runs = [result for job, result in zip(jobs, results) if (job[0], job[3]) == (d_width, r1)]
        for _, width, seed, d_fake, fid in runs:
            print(f"d_width {d_width:g} r1 {r1:g} width {width:g} seed {seed}: D(G(z)) {d_fake:.3f} over steps "
                  f"500-1,000, FID {fid:.1f}" + ("  COLLAPSED" if collapsed(d_fake, fid) else ""))
        print(f"d_width {d_width:g} r1 {r1:g}: {sum(collapsed(r[3], r[4]) for r in runs)} of {len(runs)} runs "
              "collapsed; target: none at the defaults")


if __name__ == "__main__":
    main()
