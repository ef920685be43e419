"""Cost of the two mechanism readings (issue 21), on one CPU thread, by process time.

Claim 3 (saturation): the GAN's train step with and without the early window's readings (gan.GAN.saturation
after every step: a sigmoid and four reductions on the G step's own logits, no extra D pass). Target: at most
2% of a default step (mlp, width 1, batch 128, mnist5k).
Claim 2 (the prior): fitting the 10-component Gaussian mixture to a width-1 VAE's posterior means of the
mnist5k train split (compare.train.prior.fit_prior), once per VAE run. Target: at most 2 s, under 3% of the
default run (76 s), and drawing the vae-gmm view no slower than 1.5x the vae-mean view.

    OMP_NUM_THREADS=1 python benchmarks/mechanism_cost.py
"""

from __future__ import annotations

import time

import torch

from compare.data import load_dataset
from compare.models import parse_model_specs
from compare.train import loop
from compare.train.loop import train
from compare.train.prior import fit_prior
from gan import saturation

STEP_TARGET, FIT_TARGET_S, DRAW_TARGET = 0.02, 2.0, 1.5


def loop_step(model, images, steps: int, window: int) -> float:
    """Process seconds per step of compare.train.loop.train with claim 3's early window set to `window` steps
    (0: no readings, the loop as before them)."""
    loop.EARLY_WINDOW_STEPS = window
    start = time.process_time()
    train(model, images, steps, 128, seed=0)
    return (time.process_time() - start) / steps


def main(steps: int = 300, rounds: int = 5) -> None:
    torch.set_num_threads(1)
    data = load_dataset("mnist5k", "cpu")
    gan_spec, vae_spec = parse_model_specs(["gan", "vae"])
    gan = gan_spec.build(data.image_shape, "cpu", seed=0)
    loop_step(gan, data.train, 20, steps)  # warm-up
    plain, read = [], []
    for _ in range(rounds):  # alternating, best of each: a shared machine's noise only ever adds time
        plain.append(loop_step(gan, data.train, steps, 0))
        read.append(loop_step(gan, data.train, steps, steps))
    logits = torch.randn(128)
    start = time.process_time()
    for _ in range(5000):
        saturation(logits)
    alone = (time.process_time() - start) / 5000
    print(f"claim 3 readings: training loop {min(plain) * 1e3:.2f} ms a GAN step without them, {min(read) * 1e3:.2f} "
          f"ms with them ({min(read) / min(plain) - 1:+.1%}, timing noise included); the readings alone "
          f"{alone * 1e6:.0f} us a step ({alone / min(plain):.2%}; target <= {STEP_TARGET:.0%})")

    vae = vae_spec.build(data.image_shape, "cpu", seed=0)
    train(vae, data.train, 200, 128, seed=0)  # a little training, so the codes have structure to fit
    start = time.process_time()
    fit_prior(vae, data.train, seed=0)
    fit = time.process_time() - start
    print(f"claim 2 prior: fit on {len(data.train):,} codes in {fit:.2f} s (target <= {FIT_TARGET_S:g} s)")
    timings = {}
    for mode in ("mean", "gmm"):
        start = time.process_time()
        vae.sample(5000, torch.Generator().manual_seed(0), mode=mode)
        timings[mode] = time.process_time() - start
    ratio = timings["gmm"] / timings["mean"]
    print(f"claim 2 view: 5,000 vae-gmm samples {timings['gmm']:.3f} s against vae-mean {timings['mean']:.3f} s: "
          f"x{ratio:.2f} (target <= x{DRAW_TARGET:g})")


if __name__ == "__main__":
    main()
