"""The evaluate stage's share of the default run's wall time (issue 19: <= 15% with 1,000 bootstrap resamples).

Runs `compare run --models gan vae` (mnist5k, 4,000 steps each) with compare.metrics.scoring.evaluate timed as the
pipeline calls it (quality with its intervals and fid_inf, pixel continuity, the held-out likelihood), and prints
its seconds, the run's wall time and the share.

    python benchmarks/eval_share.py OUT_DIR   # from the repository root, package installed (or PYTHONPATH=.)
"""

from __future__ import annotations

import sys
import time

import compare.experiments.pipeline as pipeline
from compare.cli import main as cli

TARGET = 0.15


def main(out: str) -> None:
    seconds = {"evaluate": 0.0}
    evaluate = pipeline.evaluate

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return evaluate(*args, **kwargs)
        finally:
            seconds["evaluate"] += time.perf_counter() - start

    pipeline.evaluate = timed
    start = time.perf_counter()
    cli(["run", "--models", "gan", "vae", "--out", out, "--quiet"], standalone_mode=False)
    wall = time.perf_counter() - start
    share = seconds["evaluate"] / wall
    print(f"evaluate {seconds['evaluate']:.1f}s of the run's {wall:.1f}s wall: {share:.1%} (target <= {TARGET:.0%}) -> "
          f"{'OK' if share <= TARGET else 'OVER TARGET'}")


if __name__ == "__main__":
    main(sys.argv[1])
