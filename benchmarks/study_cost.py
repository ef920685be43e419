"""Study overhead: a study's wall time against the sum of its trials' pure training time (train_seconds).

Everything else is overhead: loading data and the evaluator, the curve points (sampling, features, FID,
KID, bad pixels at every point), the final evaluations, checkpoints, the verdicts, the figures and the
report. Goal (issue 16): overhead <= 15% of the wall time for the default study (3 seeds, widths
0.25,0.5,1,2, mnist5k, 4000 steps). A tiny study is dominated by fixed costs and shows more.
Run: python benchmarks/study_cost.py [--dataset digits --budget 300steps --seeds 2 --widths 0.5,1 --jobs 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from compare.experiments.sweep import parse_widths
from compare.experiments.executors import ExecutorOptions, make_executor
from compare.experiments.study import StudySettings, study
from compare.settings import Budget

GOAL = 0.15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--budget", default="300steps")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--widths", default="0.5,1")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = StudySettings(budget=Budget.parse(args.budget), dataset=args.dataset, seeds=tuple(range(args.seeds)),
                                 widths=parse_widths(args.widths), device=args.device, batch_size=args.batch_size,
                                 out=Path(tmp) / "study")
        start = time.perf_counter()
        result = study(settings, make_executor("local", ExecutorOptions(jobs=args.jobs)), log=lambda m: None)
        wall = time.perf_counter() - start
    train = result["train_seconds"]
    trials = result["trials"]
    per_trial = sum(t.get("seconds") or 0 for t in trials)
    print(f"study: {args.dataset}, {args.budget}, {args.seeds} seeds, widths {args.widths}, jobs "
          f"{args.jobs}: {len(trials)} trials")
    print(f"wall time            {wall:8.1f} s")
    print(f"sum of trial runs    {per_trial:8.1f} s   (each trial's pipeline run: training, curve "
          "points, evaluation, writes)")
    print(f"sum of train_seconds {train:8.1f} s   (pure training)")
    share = 1 - train * 1 / (wall * args.jobs) if wall else float("nan")  # --jobs N trains N trials at once
    print(f"overhead share       {share:8.1%}   goal <= {GOAL:.0%} for the default study: "
          f"{'met' if share <= GOAL else 'NOT met'}")
    for claim in result["claims"]:
        print(f"  {claim['verdict']:<14} {claim['claim']}")


if __name__ == "__main__":
    main()
