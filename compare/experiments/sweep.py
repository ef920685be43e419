"""Capacity sweeps: how quality and continuity change with network size.

`sweep` trains every (model, width, seed) trial of a grid under one budget rule, each as a plain
compare.experiments.pipeline.run into its own directory, and aggregates one quality and one continuity metric per
(model, width) over seeds (compare.stats: mean, std, 95% t interval). The source's claim 2, "a VAE
needs a larger network than a GAN for the same sample quality", is judged from the trials by
compare.claims.rules.judge_claim2 (inputs from compare.claims.inputs), like every claim.

On disk (`out/`):
    sweep.json             settings, every trial's numbers, the curves and the claim 2 verdict (Verdict.to_json(),
                           under the key "claim_b")
    sweep_<metric>.png     metric against parameter count per model, mean and 95% interval
    trials/<id>/           the trial's run directory (config.json, metrics.json, weights)
    trials/<id>.json       the trial's record: done with its metrics, or failed with its error

A trial is done when its record says so; a rerun skips done trials, resumes a trial a signal stopped
(from its checkpoints) and retries failed ones. Any signal stops the whole sweep, every trial resumable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click

from compare.settings import Budget
from compare.errors import UserError
from compare.experiments.trials import load_record, run_trials
from compare.io import read_json, write_json
from compare.metrics import METRICS, SECTIONS, label_of
from compare.stats import RESAMPLES
from compare.models import ModelSpec, with_fields
from compare.report import finished_trials, write_report
from compare.report.figures.common import save_interval_curves
from compare.claims.inputs import claim2_of_rows
from compare.claims.prior_gap import prior_gap_from_rows
from compare.claims.trial_row import TrialRow
from compare.report.tables import seed_table
from compare.rundir import claimed_directory, trials_session
from compare.settings import RunSettings, check_seeds, check_settings
from compare.stats import METHOD, summarize

SWEEP_VERSION = 2  # 2: one compare.claims.trial_row.TrialRow per trial
SIZE_BY = ("total", "generator")  # all trained parameters, or only the part that samples (GAN generator, VAE decoder)
# a resumed sweep must not mix trials trained otherwise
SETTINGS_THAT_MUST_MATCH = ("budget", "dataset", "batch_size", "resamples")


@dataclass(frozen=True)
class SweepSettings:
    models: tuple[ModelSpec, ...]
    widths: tuple[float, ...]
    seeds: tuple[int, ...]
    budget: Budget
    dataset: str = "mnist5k"
    device: str = "auto"
    batch_size: int = 128
    out: Path | None = None  # default runs/sweep-<timestamp>
    quality: str = "fid"  # a key of metric_keys(): the quality metric in a model's metrics.json entry
    continuity: str = "lone_pixels_per_image"  # the same for the continuity metric
    size_by: str = "total"
    optimizer: str = "adam"  # every model's optimiser (where its config has the field)
    # bootstrap resamples behind each trial's intervals and fid_inf, as `compare run --resamples`
    resamples: int = RESAMPLES

    def describe(self) -> dict[str, Any]:
        return {"models": [s.label for s in self.models], "widths": list(self.widths), "seeds": list(self.seeds),
                "budget": str(self.budget), "dataset": self.dataset, "device": self.device,
                "batch_size": self.batch_size, "quality": self.quality, "continuity": self.continuity,
                "size_by": self.size_by, "optimizer": self.optimizer, "resamples": self.resamples}

    def run_settings(self) -> RunSettings:
        """What every trial's runner.run shares; each trial replaces models, width, seed and out. A sweep
        reads each trial's final numbers only, so its trials evaluate no points along their budget."""
        return RunSettings(models=tuple(with_fields(list(self.models), optimizer=self.optimizer)), budget=self.budget,
                           dataset=self.dataset, device=self.device, batch_size=self.batch_size, curve_points=1,
                           resamples=self.resamples)


def parse_widths(text: str) -> tuple[float, ...]:
    """"0.25,0.5,1" (commas or spaces) -> (0.25, 0.5, 1.0); sorted, without repeats, all positive."""
    try:  # an empty item ("0.25,,0.5", a trailing comma) is float("") and fails: a lost width is likely a typo
        widths = sorted({float(w) for w in re.split(r"\s*,\s*|\s+", text.strip())})
    except ValueError:
        widths = []
    if not widths or not all(math.isfinite(w) and w > 0 for w in widths):
        raise UserError(f"malformed --widths {text!r}: give positive numbers separated by commas, e.g. 0.25,0.5,1,2,4")
    return tuple(widths)


def trial_id(spec: ModelSpec, width: float, seed: int) -> str:
    """e.g. gan-minimax-w1-s0; a trial under another optimiser than Adam says which: gan-sgd-w1-s0."""
    tag = f"-{spec.optimizer}" if spec.optimizer not in (None, "adam") else ""
    return f"{spec.dirname}{tag}-w{width:g}-s{seed}"


def metric_keys() -> dict[str, str]:
    """Every key --quality and --continuity take, bare ("fid") or as its path in a model's entry
    ("quality.fid"), with its better direction: the metric registry's keys that have one, since a
    sweep's curves are read (and plotted) by which way is better."""
    keys = {}
    # quality first: METRICS' own order is whichever of quality.py and continuity.py was imported first
    for metric in sorted(METRICS.values(), key=lambda m: SECTIONS[m.space] != "quality"):
        for key, better in metric.better.items():
            keys[key] = keys[f"{SECTIONS[metric.space]}.{key}"] = better
    return keys


def better_direction(key: str) -> str:
    """"lower" or "higher", from the metric registry's arrows."""
    return metric_keys()[key]


def check_sweep(settings: SweepSettings) -> None:
    """Every check that needs no trial, so that a bad flag is refused before the sweep directory exists."""
    if settings.size_by not in SIZE_BY:
        raise UserError(f"unknown --size-by {settings.size_by!r}; choose one of: {', '.join(SIZE_BY)}")
    if settings.size_by == "generator":
        for spec in settings.models:
            spec.sampler_part  # noqa: B018 - a model that names no sampler part is refused before any trial runs
    if not settings.seeds:
        raise UserError("--seeds must be at least 1")
    check_seeds(settings.seeds)
    keys = metric_keys()
    for flag, key in (("--quality", settings.quality), ("--continuity", settings.continuity)):
        if key not in keys:
            bare = [k for k in keys if "." not in k]
            raise UserError(f"unknown {flag} {key!r}; choose one of: {', '.join(bare)} (or by its path in "
                            "metrics.json, e.g. quality.fid, continuity.lone_pixels_per_image)")
    for width in settings.widths:
        check_settings(dataclasses.replace(settings.run_settings(), width=width))


def _open_sweep_dir(settings: SweepSettings) -> Path:
    """The sweep directory: new, or an earlier sweep's with the same budget, dataset and batch size."""
    out = Path(settings.out) if settings.out else Path("runs") / dt.datetime.now().strftime("sweep-%Y%m%d-%H%M%S")
    previous = out / "sweep.json"
    if previous.exists():
        old = read_json(previous, "sweep.json", "move it away to resume, or pass another --out")["settings"]
        new = settings.describe()
        for key in SETTINGS_THAT_MUST_MATCH:
            if key not in old:
                raise UserError(f"{out} holds a sweep from an earlier version (its sweep.json records no {key}); "
                                "pass another --out")
            if old[key] != new[key]:
                raise UserError(f"{out} holds a sweep with {key} {old[key]!r}, not {new[key]!r}; "
                                "rerun with the same settings to resume, or pass another --out")
        return out.resolve()
    return claimed_directory(out, "sweep")[0].resolve()  # anything else already there is refused, never overwritten


def resume_command(settings: SweepSettings, out: Path) -> str:
    """The `compare sweep` command that continues this sweep (executor flags may be added: they change no result)."""
    d = settings.describe()
    return (f"compare sweep --models {' '.join(d['models'])} --widths {','.join(f'{w:g}' for w in d['widths'])} "
            f"--seeds {len(d['seeds'])} --seed {d['seeds'][0]} --dataset {d['dataset']} --budget {d['budget']} "
            f"--device {d['device']} --batch-size {d['batch_size']} --quality {d['quality']} --continuity "
            f"{d['continuity']} --size-by {d['size_by']} --optimizer {d['optimizer']} --resamples {d['resamples']} "
            f"--out {out}")


def _echo(message: str) -> None:
    click.echo(message, err=True)


def sweep(settings: SweepSettings, executor, log: Callable[[str], None] = _echo) -> dict:
    """Run every trial of the grid not already done, then aggregate, plot and write sweep.json; returns its content."""
    check_sweep(settings)
    out = _open_sweep_dir(settings)
    resume = resume_command(settings, out)
    # Between trials there is nothing to finish: a signal stops the sweep at once. During a trial
    # the trial's own run takes the signal, checkpoints and raises Interrupted, which ends the sweep.
    with trials_session(out, "sweep", resume):
        return _sweep_claimed(settings, executor, out, log)


def _sweep_claimed(settings: SweepSettings, executor, out: Path, log: Callable[[str], None]) -> dict:
    grid = [(spec, width, seed) for spec in settings.run_settings().models for width in settings.widths
            for seed in settings.seeds]
    trials = [(trial_id(spec, width, seed),
               dataclasses.replace(settings.run_settings(), models=(spec,), width=width, seed=seed,
                                   out=out / "trials" / trial_id(spec, width, seed)))
              for spec, width, seed in grid]
    skipped = sum(1 for tid, _ in trials
                  if (r := load_record(out / "trials" / f"{tid}.json")) and r.get("status") == "done")
    write_json(out / "sweep.json", summarize_sweep(settings, grid, {}, executor.description, skipped))

    def progress(records: dict[str, dict]) -> None:  # sweep.json after every trial: the sweep so far
        write_json(out / "sweep.json", summarize_sweep(settings, grid, records, executor.description, skipped))

    records, _ = run_trials(trials, out / "trials", executor, log, progress)
    summary = summarize_sweep(settings, grid, records, executor.description, skipped)
    summary["plots"] = plot_sweep(summary, out)
    write_json(out / "sweep.json", summary)
    if finished_trials(out, summary):
        write_report([out])  # the sweep's one report: its trials write none
    return {"out": str(out), **summary}


def _points(settings: SweepSettings, rows: list[TrialRow], view: str | None = None) -> list[dict]:
    """One point per width with at least one done trial among `rows` (one model's): its size and both
    metrics (of the model's first view, or of `view`) over seeds."""
    points = []
    for width in settings.widths:
        done = [r for r in rows if r.width == width and r.status == "done"]
        if done:
            points.append({"width": width, "size": done[0].size, "parameters": done[0].parameters,
                           "seeds": [r.seed for r in done],
                           **{metric: summarize(v for r in done if (v := r.number(key, view)) is not None)
                              for metric, key in (("quality", settings.quality), ("continuity", settings.continuity))}})
    return points


def _curves(settings: SweepSettings, rows: list[TrialRow]) -> dict[str, dict]:
    """Per model, and per prior view beside it (vae-gmm, "view_of" its model), one point per width with a done trial."""
    curves = {spec.label: {"family": spec.family,
                           "points": _points(settings, [r for r in rows if r.model == spec.label])}
              for spec in settings.models}
    # a prior's view (vae-gmm), the same network drawn from its fitted prior: claim 2's mechanism
    for view in dict.fromkeys(view for r in rows for view in r.prior_views):
        mine = [r for r in rows if view in r.views]
        curves[view] = {"family": mine[0].family, "view_of": mine[0].model, "points": _points(settings, mine, view)}
    return curves


def summarize_sweep(settings: SweepSettings, grid, records: dict[str, dict], executor: str, skipped: int) -> dict:
    """What sweep.json holds, self-describing: settings, one row per trial (TrialRow.to_json()), the curves, the claim 2
    verdict (under "claim_b")."""
    rows = [TrialRow.from_record(trial_id(spec, w, s), spec, w, s, records.get(trial_id(spec, w, s)), settings.size_by)
            for spec, w, s in grid]
    better = better_direction(settings.quality)
    curves = _curves(settings, rows)
    done = [r for r in rows if r.status == "done"]
    missing = {key: [r.id for r in done if r.number(key) is None] for key in (settings.quality, settings.continuity)}
    summary = {
        "kind": "sweep",
        "version": SWEEP_VERSION,
        "settings": settings.describe(),
        "executor": executor,
        "metrics": {"quality": {"key": settings.quality, "better": better},
                    "continuity": {"key": settings.continuity, "better": better_direction(settings.continuity)},
                    "size": f"{settings.size_by} parameter count", "interval": METHOD},
        "counts": {"trials": len(rows), "done": len(done), "failed": sum(r.status == "failed" for r in rows),
                   "pending": sum(r.status == "pending" for r in rows), "skipped_as_done": skipped},
        "missing_metrics": {k: ids for k, ids in missing.items() if ids},
        "trials": [r.to_json() for r in rows],
        "curves": curves,
        "updated": dt.datetime.now().isoformat(timespec="seconds"),
    }
    # claim 2's mechanism, where the quality is FID: does the VAE's fitted prior close its gap to the GAN at equal size?
    gap = prior_gap_from_rows(done, settings.quality) if settings.quality.rpartition(".")[2] == "fid" else None
    # judged from the trials, as every claim (compare.claims.rules)
    return {**summary, "claim_b": claim2_of_rows(rows, settings.quality).to_json(),
            **({"prior_gap": gap.to_json()} if gap else {})}


def plot_sweep(summary: dict, out: Path) -> list[str]:
    """sweep_<metric>.png for the quality and continuity metric: mean and 95% interval against size, per model."""
    written = []
    for metric in ("quality", "continuity"):
        key = summary["metrics"][metric]["key"]
        lines = {}
        for label, curve in summary["curves"].items():
            points = [p for p in curve["points"] if p[metric]["mean"] is not None]
            if points:
                lines[label] = [(p["size"], p[metric]["mean"], *(p[metric]["ci95"] or (p[metric]["mean"],) * 2))
                                for p in points]
        if not lines:
            continue  # the metric is missing from every trial: sweep.json says so under missing_metrics
        name = f"sweep_{key.replace('.', '_')}.png"
        save_interval_curves(lines, out / name, xlabel=summary["metrics"]["size"],
                             ylabel=f"{label_of(key.rpartition('.')[2])} "
                                    f"({summary['metrics'][metric]['better']} is better)",
                             title=f"{summary['settings']['dataset']}, {summary['settings']['budget']} each, mean and "
                                   "95% interval over seeds")
        written.append(name)
    return written


__all__ = ["SIZE_BY", "SWEEP_VERSION", "SweepSettings", "better_direction", "check_sweep", "metric_keys",
           "parse_widths", "plot_sweep", "resume_command", "seed_table", "summarize_sweep", "sweep", "trial_id"]
