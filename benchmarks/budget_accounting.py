"""Cost of budget accounting: FLOPs are counted once per configuration, never per step.

Prints the time of one FLOP count (a real train_step under FlopCounterMode), the time of a second
call (served from the cache), and both against the default run's 4,000 training steps.
Target: accounting adds under 1% to the default run. Run: python benchmarks/budget_accounting.py
"""

from __future__ import annotations

import time

import torch

from compare.train.cost import train_step_flops
from compare.data import load_dataset
from compare.models import parse_model_specs
from compare.train.loop import train

TARGET = 0.01


def main() -> None:
    images = load_dataset("mnist5k").train
    shape = tuple(images.shape[1:])
    for spec in parse_model_specs(["gan", "vae"]):
        train_step_flops.cache_clear()
        start = time.perf_counter()
        flops = train_step_flops(spec, shape, 128)
        first = time.perf_counter() - start
        start = time.perf_counter()
        train_step_flops(spec, shape, 128)
        cached = time.perf_counter() - start
        start = time.perf_counter()
        train(spec.build(shape, "cpu", 0), images, 200, 128, 0)
        step = (time.perf_counter() - start) / 200
        share = first / (first + 4000 * step)
        print(f"{spec.label}: {flops / 1e9:.2f} GFLOPs/step; counting {first * 1e3:.0f} ms once, cached "
              f"{cached * 1e6:.1f} us; step {step * 1e3:.2f} ms; share of a 4000-step run {share:.2%} (target < "
              f"{TARGET:.0%}) {'OK' if share < TARGET else 'MISSED'}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
