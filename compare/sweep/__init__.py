"""Capacity sweeps and seed statistics: how quality and continuity change with network size.

`sweep` trains every (model, width, seed) trial of a grid under one budget rule, each as a plain
runner.run into its own directory, and aggregates one quality and one continuity metric per
(model, width) over seeds (compare.stats: mean, std, 95% t interval). From the curves it finds,
per model, the smallest size that reaches a target quality and decides the source's claim (b),
"a VAE needs a larger network than a GAN for the same sample quality", as yes / no / undecided.

On disk (`out/`):
    sweep.json             settings, every trial's numbers, the curves, targets and the verdict
    sweep_<metric>.png     metric against parameter count per model, mean and 95% interval
    trials/<id>/           the trial's run directory (config.json, metrics.json, weights, grids)
    trials/<id>.json       the trial's record: done with its metrics, or failed with its error

A trial is done when its record says so; a rerun skips done trials, resumes a trial a signal stopped
(from its checkpoints) and retries failed ones. Any signal stops the whole sweep, every trial resumable.

`run_seeds` is `compare run --seeds N`: the same run once per seed, every metric summarised over
seeds, and every other model compared with the first by paired differences.
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

from compare import pipeline as runner
from compare.train.budget import Budget
from compare.errors import UserError
from compare.sweep.executors import Trial
from compare.io import read_json, read_run_json, write_json
from compare.metrics import METRICS
from compare.models import ModelSpec
from compare.report.plots import save_interval_curves
from compare.results import summary_from_metrics
from compare.train.guard import Interrupted, RunLock, StopSignals, claimed_directory, read_marker, write_errors, write_marker
from compare.settings import RunSettings, check_settings
from compare.stats import METHOD, numeric_leaves, paired_difference, summarize

SWEEP_VERSION = 1
SIZE_BY = ("total", "generator")  # all trained parameters, or only the part that samples (GAN generator, VAE decoder)
CLAIM_B = "a VAE needs a larger network than a GAN for the same sample quality"
SETTINGS_THAT_MUST_MATCH = ("budget", "dataset", "batch_size")  # a resumed sweep must not mix trials trained otherwise


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
    target: float | None = None  # quality every model must reach; None: the best mean of the other family

    def describe(self) -> dict[str, Any]:
        return {"models": [s.label for s in self.models], "widths": list(self.widths), "seeds": list(self.seeds),
                "budget": str(self.budget), "dataset": self.dataset, "device": self.device, "batch_size": self.batch_size,
                "quality": self.quality, "continuity": self.continuity, "size_by": self.size_by, "target": self.target}

    def run_settings(self) -> RunSettings:
        """What every trial's runner.run shares; each trial replaces models, width, seed and out."""
        return RunSettings(models=self.models, budget=self.budget, dataset=self.dataset, device=self.device,
                           batch_size=self.batch_size)


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
    return f"{spec.dirname}-w{width:g}-s{seed}"


def first_view_numbers(entry: dict) -> dict[str, dict[str, float | None]]:
    """{"quality": {...}, "continuity": {...}} of a model's first view (the VAE's per-pixel means) in a
    trial's summary (compare.results.RunResult.summary): the view a model is judged by."""
    return next(iter(entry["views"].values()))


def lookup(entry: dict, key: str) -> float | None:
    """A number of a model's first view, by its key ("fid") or its section and key ("quality.fid")."""
    numbers = first_view_numbers(entry)
    section, _, name = key.rpartition(".")
    for part in [section] if section else list(numbers):
        value = numbers.get(part, {}).get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


SECTIONS = {"features": "quality", "pixels": "continuity"}  # where a model's metrics.json entry holds each space's numbers


def metric_keys() -> dict[str, str]:
    """Every key --quality and --continuity take, bare ("fid") or as its path in a model's entry
    ("quality.fid"), with its better direction: the metric registry's keys that have one, since a
    sweep needs the direction to say which sizes reach a target."""
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
    if not settings.seeds:
        raise UserError("--seeds must be at least 1")
    keys = metric_keys()
    for flag, key in (("--quality", settings.quality), ("--continuity", settings.continuity)):
        if key not in keys:
            bare = [k for k in keys if "." not in k]
            raise UserError(f"unknown {flag} {key!r}; choose one of: {', '.join(bare)} (or by its path in metrics.json, e.g. quality.fid, continuity.lone_pixels_per_image)")
    if settings.target is not None and not math.isfinite(settings.target):
        raise UserError(f"--target must be a finite number, got {settings.target}")
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
            if old.get(key) != new[key]:
                raise UserError(f"{out} holds a sweep with {key} {old.get(key)!r}, not {new[key]!r}; "
                                "rerun with the same settings to resume, or pass another --out")
        return out.resolve()
    return claimed_directory(out, "sweep")[0].resolve()  # anything else already there is refused, never overwritten


def _load_record(path: Path) -> dict | None:
    try:
        return read_json(path, "trial", "")
    except (OSError, UserError):
        return None  # absent, damaged or torn: the trial runs (again)


def resume_command(settings: SweepSettings, out: Path) -> str:
    """The `compare sweep` command that continues this sweep (executor flags may be added: they change no result)."""
    d = settings.describe()
    target = f" --target {d['target']!r}" if d["target"] is not None else ""
    return (f"compare sweep --models {' '.join(d['models'])} --widths {','.join(f'{w:g}' for w in d['widths'])} "
            f"--seeds {len(d['seeds'])} --seed {d['seeds'][0]} --dataset {d['dataset']} --budget {d['budget']} "
            f"--device {d['device']} --batch-size {d['batch_size']} --quality {d['quality']} --continuity {d['continuity']} "
            f"--size-by {d['size_by']}{target} --out {out}")


def _set_aside(run_dir: Path) -> None:
    """A failed or interrupted trial's partial run directory is kept, renamed, never deleted."""
    if run_dir.exists():
        attempt = 1
        while run_dir.with_name(f"{run_dir.name}.failed-{attempt}").exists():
            attempt += 1
        run_dir.rename(run_dir.with_name(f"{run_dir.name}.failed-{attempt}"))


def _echo(message: str) -> None:
    click.echo(message, err=True)


def sweep(settings: SweepSettings, executor, log: Callable[[str], None] = _echo) -> dict:
    """Run every trial of the grid not already done, then aggregate, plot and write sweep.json; returns its content."""
    check_sweep(settings)
    out = _open_sweep_dir(settings)
    resume = resume_command(settings, out)
    with write_errors(out), RunLock(out), StopSignals() as stop:
        # Between trials there is nothing to finish: a signal stops the sweep at once. During a trial
        # the trial's own run takes the signal, checkpoints and raises Interrupted, which ends the sweep.
        stop.stop_at_once(lambda signum: Interrupted(signum, out, "between trials: every trial is done or checkpointed", resume))
        try:
            return _sweep_claimed(settings, executor, out, log)
        except Interrupted as e:
            raise Interrupted(e.signum, out, "during the sweep: every trial is done or checkpointed", resume) from None


def _sweep_claimed(settings: SweepSettings, executor, out: Path, log: Callable[[str], None]) -> dict:
    grid = [(spec, width, seed) for spec in settings.models for width in settings.widths for seed in settings.seeds]
    records: dict[str, dict] = {}
    todo: list[Trial] = []
    for spec, width, seed in grid:
        tid = trial_id(spec, width, seed)
        record = _load_record(out / "trials" / f"{tid}.json")
        if record and record.get("status") == "done" and spec.label in record.get("summary", {}):
            records[tid] = record
            continue
        # No record: a signal stopped the trial, and its checkpoints continue it; a failed one starts afresh.
        stopped = record is None and (out / "trials" / tid / "config.json").is_file()
        if not stopped:
            _set_aside(out / "trials" / tid)
        run = dataclasses.replace(settings.run_settings(), models=(spec,), width=width, seed=seed, out=out / "trials" / tid)
        todo.append(Trial(tid, run, resume=stopped))
    skipped = len(records)
    log(f"sweep {out}: {len(grid)} trials, {skipped} already done, {len(todo)} to run ({executor.description})")
    write_json(out / "sweep.json", summarize_sweep(settings, grid, records, executor.description, skipped))
    for k, record in enumerate(executor.map(todo), start=1):
        record["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        write_json(out / "trials" / f"{record['id']}.json", record)
        records[record["id"]] = record
        if record["status"] == "done":
            log(f"  [{k}/{len(todo)}] {record['id']} done in {record['seconds']:.1f}s")
        else:
            log(f"  [{k}/{len(todo)}] {record['id']} FAILED: {record['error']}")
        write_json(out / "sweep.json", summarize_sweep(settings, grid, records, executor.description, skipped))  # progress so far
    summary = summarize_sweep(settings, grid, records, executor.description, skipped)
    summary["plots"] = plot_sweep(summary, out)
    write_json(out / "sweep.json", summary)
    return {"out": str(out), **summary}


def _trial_row(settings: SweepSettings, spec: ModelSpec, width: float, seed: int, record: dict | None) -> dict:
    row: dict[str, Any] = {"id": trial_id(spec, width, seed), "model": spec.label, "family": spec.family, "width": width,
                           "seed": seed, "status": record["status"] if record else "pending",
                           "run_dir": f"trials/{trial_id(spec, width, seed)}"}
    if record and record["status"] == "done":
        entry = record["summary"][spec.label]
        parameters = entry["parameters"]
        row.update(parameters=parameters,
                   size=parameters["total"] if settings.size_by == "total" else parameters[spec.entry.sampler_part],
                   quality=lookup(entry, settings.quality), continuity=lookup(entry, settings.continuity),
                   steps=entry.get("steps"), train_seconds=entry.get("train_seconds"), seconds=record.get("seconds"))
    elif record:
        row.update(error=record.get("error"), user_error=record.get("user_error", False))
    return row


def _curves(settings: SweepSettings, rows: list[dict]) -> dict[str, dict]:
    """Per model, one point per width with at least one done trial: its size and both metrics over seeds."""
    curves = {}
    for spec in settings.models:
        points = []
        for width in settings.widths:
            done = [r for r in rows if r["model"] == spec.label and r["width"] == width and r["status"] == "done"]
            if not done:
                continue
            points.append({
                "width": width, "size": done[0]["size"], "parameters": done[0]["parameters"], "seeds": [r["seed"] for r in done],
                "quality": summarize(r["quality"] for r in done if r["quality"] is not None),
                "continuity": summarize(r["continuity"] for r in done if r["continuity"] is not None),
            })
        curves[spec.label] = {"family": spec.family, "points": points}
    return curves


def _reaches(value: float | None, target: float, better: str) -> bool:
    return value is not None and (value <= target if better == "lower" else value >= target)


def size_to_reach(points: list[dict], target: float, better: str) -> dict[str, Any]:
    """The smallest swept size whose quality reaches `target`, with an interval from the 95% intervals.

    point: the smallest size whose mean reaches it. low: the smallest size whose interval's good end
    reaches it (every smaller size surely falls short). high: the smallest size whose whole interval
    reaches it (it surely suffices). None means no swept size qualifies: the size needed lies above
    the largest one swept. The size needed lies in [low, high].
    """
    good, bad = (0, 1) if better == "lower" else (1, 0)

    def first(test) -> dict | None:
        for p in sorted(points, key=lambda p: p["size"]):
            if test(p["quality"]):
                return {"width": p["width"], "size": p["size"]}
        return None

    return {
        "point": first(lambda q: _reaches(q["mean"], target, better)),
        "low": first(lambda q: q["ci95"] is not None and _reaches(q["ci95"][good], target, better)),
        "high": first(lambda q: q["ci95"] is not None and _reaches(q["ci95"][bad], target, better)),
    }


def _best(points: list[dict], better: str) -> float | None:
    means = [p["quality"]["mean"] for p in points if p["quality"]["mean"] is not None]
    return (min if better == "lower" else max)(means) if means else None


def _targets(settings: SweepSettings, curves: dict[str, dict], better: str) -> dict[str, dict]:
    """Per model: the quality it must reach (given, or the best mean of any model of another family) and the size it takes."""
    targets = {}
    for label, curve in curves.items():
        if settings.target is not None:
            target, source = settings.target, "--target"
        else:
            others = {o: _best(c["points"], better) for o, c in curves.items() if c["family"] != curve["family"]}
            others = {o: b for o, b in others.items() if b is not None}
            if not others:
                targets[label] = {"target": None, "source": "no model of another family has a quality value"}
                continue
            source = (min if better == "lower" else max)(others, key=others.get)
            target, source = others[source], f"best mean of {source}"
        targets[label] = {"target": target, "source": source, **size_to_reach(curve["points"], target, better)}
    return targets


def _fmt_size(bound: dict | None, points: list[dict]) -> str:
    return f"{bound['size']:,}" if bound else f">{max(p['size'] for p in points):,}"


def _pair_verdict(gan: str, vae: str, curves: dict[str, dict], settings: SweepSettings, better: str) -> dict[str, Any]:
    """Claim (b) for one GAN and one VAE: at one common target, is the VAE's size interval wholly above the GAN's?

    The common target is --target, else the worse of the two best means: the best quality both
    models reach on average, so each has a size that reaches it.
    """
    bests = {m: _best(curves[m]["points"], better) for m in (gan, vae)}
    if None in bests.values():
        return {"gan": gan, "vae": vae, "verdict": "undecided", "reason": f"no {settings.quality} values for both models"}
    if any(p["quality"]["n"] < 2 for m in (gan, vae) for p in curves[m]["points"]):
        return {"gan": gan, "vae": vae, "verdict": "undecided", "reason": "an interval needs at least 2 seeds at every size"}
    target = settings.target if settings.target is not None else (max if better == "lower" else min)(bests.values())
    g, v = (size_to_reach(curves[m]["points"], target, better) for m in (gan, vae))
    # yes: the smallest size at which the VAE might reach the target exceeds one at which the GAN surely does
    yes = g["high"] is not None and (v["low"] is None or v["low"]["size"] > g["high"]["size"])
    # no: the VAE surely reaches it at a size no larger than the smallest at which the GAN might
    no = v["high"] is not None and (g["low"] is None or v["high"]["size"] <= g["low"]["size"])
    verdict = "yes" if yes else "no" if no else "undecided"
    sign = "<=" if better == "lower" else ">="
    gp, vp = curves[gan]["points"], curves[vae]["points"]
    reason = (f"to reach {settings.quality} {sign} {target:.4g}, {gan} needs {_fmt_size(g['low'], gp)} to {_fmt_size(g['high'], gp)} "
              f"parameters, {vae} {_fmt_size(v['low'], vp)} to {_fmt_size(v['high'], vp)} ({settings.size_by}; 95% intervals over seeds)")
    return {"gan": gan, "vae": vae, "target": target, "verdict": verdict, "reason": reason, "sizes": {gan: g, vae: v}}


def claim_b(settings: SweepSettings, curves: dict[str, dict], better: str) -> dict[str, Any]:
    gans = [label for label, c in curves.items() if c["family"] == "gan"]
    vaes = [label for label, c in curves.items() if c["family"] == "vae"]
    pairs = [_pair_verdict(g, v, curves, settings, better) for g in gans for v in vaes]
    verdicts = {p["verdict"] for p in pairs}
    verdict = verdicts.pop() if len(verdicts) == 1 else "undecided"
    reason = pairs[0]["reason"] if len(pairs) == 1 else ("models disagree" if pairs else "needs at least one GAN and one VAE model")
    return {"statement": CLAIM_B, "verdict": verdict, "reason": reason, "pairs": pairs,
            "rule": "yes when the VAE's size interval lies wholly above the GAN's, no when wholly at or below, else undecided"}


def summarize_sweep(settings: SweepSettings, grid, records: dict[str, dict], executor: str, skipped: int) -> dict:
    """What sweep.json holds, self-describing: settings, one row per trial, the curves, the targets, the verdict."""
    rows = [_trial_row(settings, spec, w, s, records.get(trial_id(spec, w, s))) for spec, w, s in grid]
    better = better_direction(settings.quality)
    curves = _curves(settings, rows)
    done = [r for r in rows if r["status"] == "done"]
    missing = {key: [r["id"] for r in done if r[metric] is None]
               for metric, key in (("quality", settings.quality), ("continuity", settings.continuity))}
    return {
        "kind": "sweep",
        "version": SWEEP_VERSION,
        "settings": settings.describe(),
        "executor": executor,
        "metrics": {"quality": {"key": settings.quality, "better": better},
                    "continuity": {"key": settings.continuity, "better": better_direction(settings.continuity)},
                    "size": f"{settings.size_by} parameter count", "interval": METHOD},
        "counts": {"trials": len(rows), "done": len(done), "failed": sum(r["status"] == "failed" for r in rows),
                   "pending": sum(r["status"] == "pending" for r in rows), "skipped_as_done": skipped},
        "missing_metrics": {k: ids for k, ids in missing.items() if ids},
        "trials": rows,
        "curves": curves,
        "targets": _targets(settings, curves, better),
        "claim_b": claim_b(settings, curves, better),
        "updated": dt.datetime.now().isoformat(timespec="seconds"),
    }


def plot_sweep(summary: dict, out: Path) -> list[str]:
    """sweep_<metric>.png for the quality and continuity metric: mean and 95% interval against size, per model."""
    written = []
    for metric in ("quality", "continuity"):
        key = summary["metrics"][metric]["key"]
        lines = {}
        for label, curve in summary["curves"].items():
            points = [p for p in curve["points"] if p[metric]["mean"] is not None]
            if points:
                lines[label] = [(p["size"], p[metric]["mean"], *(p[metric]["ci95"] or (p[metric]["mean"],) * 2)) for p in points]
        if not lines:
            continue  # the metric is missing from every trial: sweep.json says so under missing_metrics
        name = f"sweep_{key.replace('.', '_')}.png"
        target = summary["claim_b"]["pairs"][0].get("target") if metric == "quality" and summary["claim_b"]["pairs"] else None
        save_interval_curves(lines, out / name, xlabel=summary["metrics"]["size"], ylabel=f"{key} ({summary['metrics'][metric]['better']} is better)",
                             title=f"{summary['settings']['dataset']}, {summary['settings']['budget']} each, mean and 95% interval over seeds",
                             hline=target, hline_label="claim (b) target")
        written.append(name)
    return written


def seeds_to_resume(path: Path) -> tuple[Path, int] | None:
    """For a `run --seeds` directory: (its first seed's run directory, whose settings every seed shares;
    the number of seeds); None for anything else."""
    seeds = read_marker(path).get("seeds") if read_marker(path).get("kind") == "seeds" else None
    if not seeds:
        return None
    return Path(path) / f"seed-{seeds[0]}", len(seeds)


def _finished_run(run_dir: Path) -> dict | None:
    """A seed run's summary (compare.results.summary_from_metrics), when it finished (metrics.json complete), else None."""
    if not (run_dir / "metrics.json").is_file():
        return None
    metrics = read_run_json(run_dir, "metrics.json")
    return None if "interrupted" in metrics else summary_from_metrics(metrics)


def run_seeds(settings: RunSettings, n_seeds: int, show_progress: bool = True) -> dict:
    """The run once per seed (settings.seed, +1, ...) under out/seed-<s>/, summarised over seeds in out/seeds.json.

    An earlier --seeds directory at out is continued: finished seeds are read back, the others resumed
    from their checkpoints. A signal stops every seed (Interrupted), each one resumable."""
    if n_seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {n_seeds}")
    seeds = list(range(settings.seed, settings.seed + n_seeds))
    out, _ = claimed_directory(Path(settings.out or dt.datetime.now().strftime("runs/seeds-%Y%m%d-%H%M%S")), "seeds", resume=True)
    with write_errors(out), RunLock(out), StopSignals() as stop:
        def stopped(signum: int, where: str = "between seeds: every seed run is finished or checkpointed") -> Interrupted:
            return Interrupted(signum, out, where, f"compare run --resume {out}")

        stop.stop_at_once(stopped)
        write_marker(out, "seeds", seeds=seeds)
        runs = {}
        for seed in seeds:
            run_dir = out / f"seed-{seed}"
            try:
                runs[seed] = _finished_run(run_dir) or runner.run(dataclasses.replace(settings, seed=seed, out=run_dir), show_progress,
                                                                  resume=(run_dir / "config.json").is_file(), artifacts=False).summary()
            except Interrupted as e:
                raise stopped(e.signum, f"in seed {seed}: every seed run is finished or checkpointed") from None
        summary = summarize_seeds(runs)
        summary["runs"] = {seed: str(out / f"seed-{seed}") for seed in runs}
        write_json(out / "seeds.json", summary)
        from compare.report import write_report  # the report over every seed, with the intervals

        write_report([out])
    return {"out": str(out), **summary}


def seed_numbers(entry: dict) -> dict[str, float]:
    """Every number of one model in one seed's summary, its first view's as "quality.fid", "continuity.x"."""
    return numeric_leaves({**{k: v for k, v in entry.items() if k != "views"}, **first_view_numbers(entry)})


def summarize_seeds(runs: dict[int, dict]) -> dict:
    """Every number of every model over seeds ({seed: RunResult.summary()}), and each later model minus
    the first, paired by seed."""
    labels = list(next(iter(runs.values())))
    values = {label: {seed: seed_numbers(r[label]) for seed, r in runs.items()} for label in labels}
    keys = {label: sorted({k for v in values[label].values() for k in v}) for label in labels}
    models = {label: {k: summarize(v[k] for v in values[label].values() if k in v) for k in keys[label]} for label in labels}
    first = labels[0]
    differences = {
        f"{other} - {first}": {k: paired_difference({s: v[k] for s, v in values[first].items() if k in v},
                                                    {s: v[k] for s, v in values[other].items() if k in v})
                               for k in keys[other] if k in keys[first]}
        for other in labels[1:]
    }
    return {"kind": "seeds", "seeds": sorted(runs), "interval": METHOD, "models": models, "differences": differences}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def seed_table(summary: dict) -> list[str]:
    """The comparison table: mean ± interval half-width per model, and each difference with n.s. where it may be zero.

    Numbers that do not vary over seeds (steps, parameter counts) are left out.
    """
    labels = list(summary["models"])
    diffs = summary["differences"]
    keys = [k for k in dict.fromkeys(k for label in labels for k in summary["models"][label])
            if any((summary["models"][label].get(k) or {}).get("std") for label in labels)]
    header = ["metric", *labels, *diffs]
    rows = [header]
    for k in keys:
        row = [k]
        for label in labels:
            s = summary["models"][label].get(k)
            row.append("" if not s else f"{_fmt(s['mean'])} ± {_fmt(s['ci95'] and (s['ci95'][1] - s['ci95'][0]) / 2)}")
        for name in diffs:
            d = diffs[name].get(k)
            if not d or d["ci95"] is None:
                row.append("")
            else:
                mark = "" if d["significant"] else "  n.s."
                row.append(f"{d['mean']:+.4g} [{_fmt(d['ci95'][0])}, {_fmt(d['ci95'][1])}]{mark}")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
