"""Speed of the pixel continuity metrics: every registered pixel metric on 5,000 28x28 images.

Target (issue #4): under 5 s for 5,000 28x28 images on a laptop-class CPU.
Run: python benchmarks/continuity_speed.py [--threads N]
Also times a whole continuity_report (one 5,000-image view against 5,000 reference images, with
the bad-pixel rates' bootstrap intervals and their counts at the 0.3 and 0.7 thresholds) and the
per-image artifact scores (lone pixels + specks) the worst-16 galleries rank by.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's compare, not an installed one

from compare.metrics import continuity  # noqa: E402
from compare.data import load_dataset  # noqa: E402

TARGET_S = 5.0


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("mnist5k")
    images = torch.cat([data.train, data.heldout])  # (5000, 1, 28, 28)
    shuffled = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))]
    continuity.pixel_metrics(images[:100])  # warm-up: first-call allocations and lazy imports

    rows = {
        f"all pixel metrics, {len(images)} images": timed(lambda: continuity.pixel_metrics(images), args.repeats),
        f"continuity_report, {len(images)} view + {len(images)} real": timed(
            lambda: continuity.continuity_report({"view": shuffled}, images), args.repeats),
        f"artifact_scores, {len(images)} images": timed(lambda: continuity.artifact_scores(images), args.repeats),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best / median of {args.repeats}")
    for name, times in rows.items():
        print(f"  {name:<48} {min(times):6.3f} s / {statistics.median(times):6.3f} s")
    best = min(next(iter(rows.values())))
    print(f"target: < {TARGET_S:.1f} s for 5,000 28x28 images -> {best:.3f} s "
          f"({'met' if best < TARGET_S else 'MISSED'})")


if __name__ == "__main__":
    main()
