"""Wall time and files of a capacity sweep of 2 widths x 2 seeds (issue #13: one report per sweep, trials
write JSON and checkpoints only, so the sweep gets faster).

Runs `compare sweep` as a subprocess in the given checkout (default: this one), so the same trials can
be timed on an older commit too:

    python benchmarks/sweep_cost.py                       # this checkout
    git worktree add /tmp/before <commit>; python benchmarks/sweep_cost.py --repo /tmp/before

Prints the wall time, the report.html files and PNG pictures the sweep wrote, and the target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = "exactly one report.html; wall time below the commit before issue #13's"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--budget", default="300steps")
    parser.add_argument("--widths", default="0.5,1")
    parser.add_argument("--threads", default="1", help="OMP_NUM_THREADS of the sweep")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep"
        env = {**os.environ, "OMP_NUM_THREADS": args.threads, "COMPARE_CACHE_DIR": str(Path(tmp) / "cache")}
        command = [sys.executable, "-m", "compare", "sweep", "--models", "gan", "vae", "--widths", args.widths,
                   "--seeds", "2", "--dataset", args.dataset, "--budget", args.budget, "--out", str(out)]
        # The evaluator (trained on first use before it was pinned) is made ready first, outside the clock.
        warm = ("from compare.data import load_dataset\n"
                "try:\n    from compare.metrics.evaluator import load_domain_evaluator\n"
                "except ImportError:\n    from compare.evaluator import load_domain_evaluator\n"
                f"load_domain_evaluator(load_dataset({args.dataset!r}))")
        subprocess.run([sys.executable, "-c", warm], cwd=args.repo, env=env, check=True)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=args.repo, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"the sweep failed:\n{done.stderr[-2000:]}")
        reports = sorted(str(p.relative_to(out)) for p in out.rglob("report.html"))
        pngs = list(out.rglob("*.png"))
    print(f"sweep of 2 widths x 2 seeds x 2 models, {args.dataset}, {args.budget} each ({args.repo}):")
    print(f"  wall time {wall:.1f} s; {len(reports)} report.html ({', '.join(reports) or 'none'}); "
          f"{len(pngs)} PNG files")
    print(f"  target: {TARGET}")


if __name__ == "__main__":
    main()
