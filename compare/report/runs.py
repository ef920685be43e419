"""What the report reads: run, sweep and `run --seeds` directories, each through its checked JSON files."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from compare.io import read_json, read_run_json


@dataclass(frozen=True)
class Run:
    path: Path
    config: dict
    metrics: dict

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def models(self) -> dict[str, dict]:
        return self.metrics.get("models", {})


@dataclass(frozen=True)
class Sweep:
    path: Path
    summary: dict


@dataclass(frozen=True)
class Seeds:
    path: Path
    summary: dict


def load_run(path: Path) -> Run:
    """The run at `path`; an unfinished one (stopped, or still training) is reported as far as it got,
    with a warning."""
    run = Run(Path(path), read_run_json(path, "config.json"), read_run_json(path, "metrics.json"))
    unevaluated = [label for label, m in run.models.items() if "views" not in m and m.get("status") != "diverged"]
    if unevaluated or "interrupted" in run.metrics:
        stop = run.metrics.get("interrupted") or {}
        where = f" (stopped at step {stop['step']} of {stop['model']})" if {"step", "model"} <= set(stop) else ""
        warnings.warn(f"{path} is an unfinished run{where}: the report shows what is finished "
                      f"({', '.join(unevaluated) or 'no model'} not evaluated yet); continue it with: "
                      f"compare run --resume {path}")
    return run


def load_sweep(path: Path) -> Sweep:
    return Sweep(Path(path), read_json(Path(path) / "sweep.json", "sweep.json", "rerun the sweep to rewrite it"))


def load_seeds(path: Path) -> tuple[Seeds, list[Path]]:
    """A `compare run --seeds N` directory: its summary and its per-seed run directories (not a failed seed's run
    set aside as seed-<s>.failed-<n>: compare.experiments.trials.set_aside)."""
    summary = read_json(Path(path) / "seeds.json", "seeds.json", "rerun with --seeds to rewrite it")
    names = {f"seed-{seed}" for seed in summary["seeds"]}
    return Seeds(Path(path), summary), sorted(p for p in Path(path).glob("seed-*")
                                              if p.name in names and (p / "metrics.json").exists())
