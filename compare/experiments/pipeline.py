"""One run, stage by stage: train every model under the same budget -> sample each view once ->
evaluate -> write. Sweeps, seed runs and studies call the same stages with artifacts=False.

The pipeline sees models only through compare.protocol.GenerativeModel and the registry in
compare.models: there is no branch on the model family here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Callable

import click
import torch
from torch import Tensor

from compare.data import ImageDataset, in_memory, load_dataset
from compare.errors import UserError
from compare.io import read_run_json, write_json
from compare.stats import RESAMPLES
from compare.metrics.curves import check_curve_samples, make_point_evaluator
from compare.metrics.evaluator import FEATURES, load_extractor
from compare.metrics.scoring import eval_sample_count, evaluate, evaluate_views, heldout_evaluated
from compare.models import ModelSpec, parse_model_specs
from compare.protocol import GenerativeModel
from compare.report.text import write_metrics_md
from compare.report.write import write_interrupted, write_run
from compare.results import RunResult
from compare.sample import sample_views, samples_per_view
from compare.settings import RunSettings, check_settings, resolve_device
from compare.train import Plan, Trained, budget_extended, plan, run_key, train_model
from compare.settings import check_matched
from compare.train.checkpoint import (check_compatible, data_options_from_json, load_model, read_run_config,
                                      settings_to_json)
from compare.train.cost import reset_peak_memory
from compare.rundir import Interrupted, RunLock, StopSignals, claimed_run_dir, write_errors
from compare.watch.files import Watch
from compare.watch.terminal import Display


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str | None:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": v("torchvision"),
            "gan-vae-compare": v("gan-vae-compare"), "git": _git_hash()}


def run_config(settings: RunSettings, data: ImageDataset, device: torch.device, run_plan: Plan, n_eval: int) -> dict:
    """config.json: the resolved configuration and its provenance (versions, device, command line)."""
    return {
        "models": {s.label: dataclasses.asdict(s.config(data.image_shape, width=run_plan.widths[s.label]))
                   for s in settings.models},
        "dataset": {"name": data.name, "train": len(data.train), "heldout": len(data.heldout),
                    "image_shape": list(data.image_shape)},
        "budget": {"spec": str(settings.budget), "steps": run_plan.steps,
                   "train_flops_per_step": run_plan.flops_per_step},
        "match_params": {"mode": settings.match_params, "widths": run_plan.widths},
        "seed": settings.seed,
        "batch_size": settings.batch_size,
        "evaluation": {"features": settings.features, "eval_samples": n_eval},
        "device": {"type": device.type,
                   "name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                            else platform.processor() or platform.machine())},
        "torch_threads": torch.get_num_threads(),
        "versions": versions(),
        "command": sys.argv,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "settings": settings_to_json(settings),  # what `compare run --resume` reads back
    }


def _resumed_config(out: Path, config: dict) -> dict:
    """The config.json of the run being resumed, checked against what this process resolved for it; a larger
    budget extends the run (compare.train.budget_extended) and is recorded under "extended"."""
    saved = read_run_config(out)
    extended = budget_extended(saved, config)
    saved_run = {**run_key(saved), "steps": run_key(config)["steps"]} if extended else run_key(saved)
    check_compatible({"models": saved.get("models"), "run": saved_run}, out / "config.json",
                     {"models": config["models"], "run": run_key(config)})
    resumed = {**saved, "settings": config["settings"], "resumed": [*saved.get("resumed", []), config["created"]]}
    if extended:
        resumed["extended"] = [*saved.get("extended", []), {"from": saved["budget"], "at": config["created"]}]
        resumed["budget"] = config["budget"]
    return resumed


def nothing_left_to_do(config: dict, metrics: dict) -> bool:
    """Whether a run's config.json and metrics.json say it is finished: every model at its planned steps or diverged,
    metrics.json complete (the one test of it: the resume, `run --seeds` and compare.api read it)."""
    planned, models = config.get("budget", {}).get("steps") or {}, metrics.get("models") or {}
    if "interrupted" in metrics or not planned or set(models) != set(planned):
        return False
    # not finished, e.g.: killed while an extension trained, metrics.json still the smaller budget's
    return all(models[label].get("status") == "diverged"
               or (models[label].get("status") == "finished" and steps in (None, models[label].get("steps")))
               for label, steps in planned.items())


def finished_run(run_dir: Path) -> tuple[Path, list[str]] | None:
    """For a run with nothing left to do (nothing_left_to_do): its report (report.html, or metrics.json for a run
    written without pictures) and its diverged models; else None."""
    run_dir = Path(run_dir)
    try:
        config, metrics = read_run_json(run_dir, "config.json"), read_run_json(run_dir, "metrics.json")
    except UserError:
        return None  # no metrics.json yet (stopped before or during evaluation), or unreadable: the resume sees to it
    if not nothing_left_to_do(config, metrics):
        return None
    report = run_dir / "report.html" if (run_dir / "report.html").is_file() else run_dir / "metrics.json"
    return report, [label for label, m in metrics["models"].items() if m.get("status") == "diverged"]


def run(settings: RunSettings, show_progress: bool = True, resume: bool = False, overwrite: bool = False,
        artifacts: bool = True, tensorboard: bool = False) -> RunResult:
    """Train, sample, evaluate and write every model of `settings`.

    `resume`: settings.out is an earlier run (compare.train.checkpoint.resume_settings reads its settings);
    finished and diverged models are loaded, not retrained, unfinished ones continue from their
    checkpoints; with a larger budget than the run's, finished models train on to it. `overwrite` replaces
    an earlier run at settings.out. `artifacts=False` writes only the JSON files and checkpoints (what a
    sweep or study trial keeps), no pictures, no report and no progress/ (compare.watch.files), which
    `tensorboard` adds TensorBoard event files to. `show_progress`: bars and phase lines on stderr.
    SIGINT / SIGTERM stop the run at a checkpoint and raise compare.rundir.Interrupted.
    """
    device = check_settings(settings)
    out = Path(settings.out) if settings.out else Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    # writes nothing yet; tensorboard missing is refused here, before any work
    watch = Watch(out, tensorboard) if artifacts else None
    data: ImageDataset = load_dataset(settings.dataset, device, settings.data_options)
    if settings.batch_size > len(data.train):
        raise UserError(f"--batch-size {settings.batch_size} is larger than the training split "
                        f"({len(data.train)} images)")
    run_plan = plan(settings, data)
    n_eval = eval_sample_count(settings.eval_samples, data, FEATURES[settings.features].feature_dim)
    check_curve_samples(settings.curve_samples, n_eval)
    # Before any training: a missing extractor (Inception weights) must stop the run now, not after it.
    extractor = load_extractor(settings.features, data, device,
                               on_train=(lambda m: click.echo(m, err=True)) if show_progress else None)
    with claimed_run_dir(out, resume, overwrite), StopSignals() as stop:
        config = run_config(settings, data, device, run_plan, n_eval)
        if resume:
            config = _resumed_config(out, config)
        write_json(out / "config.json", config)
        display = Display() if show_progress else None
        try:
            trained = train_all(settings, data, device, run_plan, config, out, extractor, n_eval, stop, display, watch)
            # Evaluation has no step to finish: a signal stops it at once; a resume loads the trained models.
            stop.stop_at_once(lambda signum: Interrupted(signum, out,
                                                         "during evaluation: every model is trained and checkpointed"))
            check_matched(settings.budget,
                          {label: t.consumed for label, t in trained.items() if t.record.status == "finished"})
            n_samples = samples_per_view(n_eval, len(in_memory(data.heldout)))
            views = {view: images for t in trained.values()
                     for view, images in sample_views(t.spec, t.model, n_samples, settings.seed).items()}
            if display:
                display.line(f"final evaluation: {', '.join(views)} against {n_eval:,} real images")
            scores = evaluate(views, data, extractor, n_eval, {label: t.model for label, t in trained.items()},
                              settings.resamples)
            result = RunResult(out, config, trained, views, scores)
            if watch:  # the final evaluation is every curve's last point
                for label, t in trained.items():
                    final = result.curve(label)[-1]
                    watch.point(label, t.spec.dirname, t.consumed, {v: views[v] for v in final["views"]},
                                final["views"])
            if display and artifacts:
                display.line("writing the figures and the report")
            write_run(result, data, artifacts=artifacts)
        finally:
            if watch:
                watch.close()
        return result


def train_all(settings: RunSettings, data: ImageDataset, device: torch.device, run_plan: Plan, config: dict, out: Path,
              extractor, n_eval: int, stop: StopSignals, display: Display | None,
              watch: Watch | None) -> dict[str, Trained]:
    """The train stage over every model of the run, one after another; a signal ends it at a checkpoint
    with a partial metrics.json (compare.rundir.Interrupted)."""
    point_eval = make_point_evaluator(data, extractor, n_eval)
    trained: dict[str, Trained] = {}
    for spec in settings.models:
        resident = reset_peak_memory(device)  # so each model's size table has its own peak, less the data's
        model = spec.build(data.image_shape, device, settings.seed, width=run_plan.widths[spec.label])
        curve = settings.curve_points > 1 or settings.early_curve_points
        point = (_curve_point(point_eval, spec, model, n_eval, settings.seed, run_plan.steps[spec.label], display,
                              watch) if curve else None)
        t = train_model(spec, model, data, run_plan, settings, config, out, stop, display, point,
                        resident_bytes=resident)  # the peak includes the curve points' sampling
        if t.record.status == "training":  # a signal stopped it at a checkpoint
            write_interrupted(out, settings.models, trained, t, stop.requested)
            raise Interrupted(stop.requested, out,
                              f"at step {t.record.steps} of {spec.label!r}: checkpoint and partial metrics saved")
        trained[spec.label] = t
    return trained


def _curve_point(point_eval, spec: ModelSpec, model: GenerativeModel, n: int, seed: int, steps: int | None,
                 display: Display | None, watch: Watch | None):
    """consumed -> the model's curve point, shown on the terminal and written to progress/ as it is taken."""
    def point(consumed: dict) -> dict:
        views = sample_views(spec, model, n, seed)
        scores = point_eval(views)
        if display:
            display.curve_point(int(consumed["steps"]), steps, scores)
        if watch:
            watch.point(spec.label, spec.dirname, consumed, views, scores)
        return scores
    return point


def evaluate_run(run_dir: Path, eval_samples: int | None = None, features: str | None = None, device: str = "auto",
                 on_train: Callable[[str], None] | None = None) -> dict:
    """Re-evaluate a finished run from its saved weights, with the same sampling noise as the run itself.

    Writes the new "quality" block into metrics.json (an earlier, different one moves to
    "quality_history": nothing is lost) and metrics.md; returns the block.
    """
    run_dir = Path(run_dir)
    config = read_run_json(run_dir, "config.json")
    # The run's lock, as `compare run` takes it: never score a checkpoint a resume is still writing.
    with write_errors(run_dir), RunLock(run_dir):
        return _evaluate_locked(run_dir, config, eval_samples, features, device, on_train)


def _evaluate_locked(run_dir: Path, config: dict, eval_samples: int | None, features: str | None, device: str,
                     on_train: Callable[[str], None] | None) -> dict:
    metrics = read_run_json(run_dir, "metrics.json")  # checked before the work, rewritten after it
    evaluation = config.get("evaluation", {})
    options = config.get("settings", {}).get("data_options")
    data = load_dataset(config["dataset"]["name"], "cpu", data_options_from_json(options) if options else None)
    dev = resolve_device(device)
    features = features or evaluation.get("features", "evaluator")
    n = eval_sample_count(eval_samples if eval_samples is not None else evaluation.get("eval_samples"), data,
                          # an unknown name: load_extractor says so
                          FEATURES[features].feature_dim if features in FEATURES else 0)
    extractor = load_extractor(features, data, dev, on_train)
    views: dict[str, Tensor] = {}
    for spec in parse_model_specs(list(config["models"])):
        model = load_model(run_dir, spec.label, dev)
        # the run's own draw (see compare.sample.samples_per_view), so the same settings give the same numbers
        draw = sample_views(spec, model, samples_per_view(n, heldout_evaluated(data)), config["seed"])
        views.update({view: images[:n] for view, images in draw.items()})
    # the run's own count
    quality = evaluate_views(views, data, extractor, config.get("settings", {}).get("resamples", RESAMPLES))

    previous = metrics.get("quality")
    if previous is not None and previous != json.loads(json.dumps(quality)):
        metrics.setdefault("quality_history", []).append(previous)
    metrics["quality"] = quality
    write_json(run_dir / "metrics.json", metrics)
    write_metrics_md(run_dir, metrics)
    return quality
