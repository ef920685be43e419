"""How long a fresh `compare` process takes before it does any work: what a user waits for on every command, and
what each of the test suite's subprocesses, spawned workers and Ray tasks pays again.

Target: `compare score --help` in under 3.0 s (torch alone takes about 2 s to import here). Each command runs in a
new interpreter; the figure is the fastest of `--repeats` runs (on a shared machine the minimum is the cost), with the
packages' bytecode compiled first so that the figure does not depend on PYTHONDONTWRITEBYTECODE.
Run: python benchmarks/cli_startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import compileall
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 3.0
COMMANDS = {
    "import torch (the floor)": ["-c", "import torch"],
    "compare --help": ["-m", "compare", "--help"],
    "compare score --help": ["-m", "compare", "score", "--help"],
    "import compare.api": ["-c", "import compare.api"],
}


def seconds(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for package in ("compare", "gan", "vae"):
        compileall.compile_dir(ROOT / package, quiet=1)
    figures = {name: seconds(command, args.repeats) for name, command in COMMANDS.items()}
    for name, s in figures.items():
        print(f"{name:28s} {s:5.2f} s")
    verdict = "met" if figures["compare score --help"] <= TARGET_S else "NOT met"
    print(f"target: compare score --help <= {TARGET_S:.1f} s: {verdict}")


if __name__ == "__main__":
    main()
