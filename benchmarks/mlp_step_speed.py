"""Default-path speed: steps/s of the default (mlp, fp32, CPU) GAN and VAE on mnist5k, batch 128.

Target: the default `compare run --models gan vae` is no slower than the walking skeleton's. Pass
`--baseline DIR` (a checkout of the older tree, e.g. `git archive <commit> | tar -x -C DIR`) to
time both trees in alternating subprocesses and print the ratio of their best rounds; the target is a ratio >= 0.97
(timing noise on a shared machine is a few per cent either way). Each tree is timed on one thread
by the process's CPU time, which other processes on a shared machine disturb far less than wall time.

    python benchmarks/mlp_step_speed.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(steps: int) -> dict[str, float]:
    import torch

    from compare.data import load_dataset
    from compare.models import parse_model_specs
    from compare.train.loop import train

    torch.set_num_threads(1)
    data = load_dataset("mnist5k", "cpu")
    rates = {}
    for spec in parse_model_specs(["gan", "vae"]):
        model = spec.build(data.image_shape, torch.device("cpu"), seed=0)
        train(model, data.train, 20, 128, seed=0)  # warm-up: allocator, first-call overheads
        start = time.process_time()
        train(model, data.train, steps, 128, seed=1)
        rates[spec.family] = steps / (time.process_time() - start)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per tree when comparing")
    parser.add_argument("--baseline", type=Path, help="an older tree to compare against")
    parser.add_argument("--tree", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.json:  # child process: time one tree, print one JSON line
        sys.path.insert(0, str(args.tree))
        print(json.dumps(measure(args.steps)))
        return
    trees = {"this tree": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds if args.baseline else 1):
        for name, tree in trees.items():
            out = subprocess.run([sys.executable, __file__, "--json", "--tree", str(tree), "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True, cwd=tree)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for family in ("gan", "vae"):
        # the best round: on a shared machine contention only ever slows a round down
        best = {name: max(r[family] for r in rs) for name, rs in runs.items()}
        line = "  ".join(f"{name} {rate:7.1f} steps/s" for name, rate in best.items())
        if args.baseline:
            ratio = best["this tree"] / best["baseline"]
            line += f"  ratio {ratio:.3f} (target >= 0.97: {'met' if ratio >= 0.97 else 'NOT met'})"
        print(f"{family}: {line}")


if __name__ == "__main__":
    main()
