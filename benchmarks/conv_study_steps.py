"""The conv study's training cost: seconds a step of every trial kind of `compare study --arch conv`, timed as the
study runs them (two processes at once, one torch thread each, like `--jobs 2` on two cores), and the default
study's training time projected from them.

Per seed the study trains gan and vae at widths 0.25, 0.5, 1 and 2, and three more GANs at width 1 for claim 3
(gan:minimax under Adam, gan and gan:minimax under SGD): sum of (seconds a step x 4,000 steps), times 5 seeds,
over 2 processes. Evaluation and curve points come on top (the study's wall time in study.json has them).
Target (issue 21): the whole default conv study within 60 min on 2 cores, so this projection must leave room.

    python benchmarks/conv_study_steps.py
"""

from __future__ import annotations

import multiprocessing as mp
import time

WIDTHS = (0.25, 0.5, 1.0, 2.0)
STEPS, SEEDS, JOBS, CLAIM3_GANS = 4000, 5, 2, 3
TARGET_MIN = 60.0
TIMED, WARMUP = 20, 3


def seconds_a_step(job: tuple[str, float]) -> tuple[str, float, float, int]:
    import torch

    from gan.model import GAN, GANConfig
    from vae.model import VAE, VAEConfig

    torch.set_num_threads(1)
    family, width = job
    model_cls, config_cls = (GAN, GANConfig) if family == "gan" else (VAE, VAEConfig)
    model = model_cls(config_cls(image_shape=(1, 28, 28), arch="conv", width=width), torch.device("cpu"), 0)
    batch = torch.rand(128, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for _ in range(WARMUP):
        model.train_step(batch)
    start = time.perf_counter()
    for _ in range(TIMED):
        model.train_step(batch)
    parameters = sum(p.numel() for net in model.parts().values() for p in net.parameters())
    return family, width, (time.perf_counter() - start) / TIMED, parameters


def main() -> None:
    jobs = [(family, w) for w in WIDTHS for family in ("gan", "vae")]
    with mp.get_context("spawn").Pool(JOBS) as pool:
        timed = {(f, w): (s, n) for f, w, s, n in pool.map(seconds_a_step, jobs, chunksize=1)}
    for (family, width), (seconds, parameters) in timed.items():
        print(f"{family} width {width:g}: {seconds * 1000:.1f} ms a step, {parameters:,} parameters")
    per_seed = sum(s for s, _ in timed.values()) + CLAIM3_GANS * timed[("gan", 1.0)][0]
    minutes = per_seed * STEPS * SEEDS / JOBS / 60
    print(f"training of the default conv study: {minutes:.1f} min on {JOBS} processes (evaluation on top); "
          f"target: the whole study <= {TARGET_MIN:.0f} min")


if __name__ == "__main__":
    main()
