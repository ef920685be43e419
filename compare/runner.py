"""Train every requested model under the same budget, then write samples, grids and numbers.

The runner sees models only through compare.protocol.GenerativeModel and the registry in
compare.models: there is no branch on the model family here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click
import torch
from torch import Tensor

from compare.budget import Budget, check_matched, consumed
from compare.checkpoint import (DEFAULT_CHECKPOINT_EVERY, check_compatible, load_checkpoint, nonfinite_loss, read_run_config,
                                restore, save_checkpoint, settings_to_json, unhealthy)
from compare.continuity import continuity_outputs
from compare.curves import eval_steps, final_point, make_point_evaluator, save_curves
from compare.cost import match_widths, parameter_counts, reset_peak_memory, size_table, train_step_flops
from compare.data import DataOptions, ImageDataset, batches, in_memory, load_dataset
from compare.errors import UserError
from compare.evaluate import attach_first_view, attach_model_quality, eval_sample_count, evaluate_views, write_quality_table
from compare.evaluator import load_extractor
from compare.figures import save_interpolations, save_loss_curves, save_nearest_neighbours, save_reconstructions
from compare.guard import Interrupted, StopSignals, claimed_run_dir
from compare.io import write_json
from compare.models import ModelSpec
from compare.report import write_report
from compare.plots import save_grid, save_side_by_side
from compare.protocol import GenerativeModel

GRID_SAMPLES = 64
LOG_EVERY = 50  # steps between loss readings: each reading waits for the device, so not every step
SAMPLE_SEED_OFFSET = 10_000  # fixed-noise stream for grids, apart from every training stream
# Gradient norm of every part after each of the first steps: where the source's two generator
# losses differ most (minimax's gradient vanishes while D rejects the fakes).
GRAD_NORM_STEPS = 200


@dataclass(frozen=True)
class RunSettings:
    models: tuple[ModelSpec, ...]
    budget: Budget
    dataset: str = "mnist5k"
    seed: int = 0
    device: str = "auto"
    batch_size: int = 128  # the same for every model, so a steps budget is also an images budget
    out: Path | None = None  # default runs/<timestamp>
    width: float = 1.0  # multiplier on every model's hidden width (its config's `width`)
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY  # steps between checkpoints; changes no result
    match_params: str = "none"  # "generator" | "total": scale widths to the first model's parameter count
    eval_samples: int | None = None  # samples per view for the quality metrics; default the held-out size (see compare.evaluate)
    features: str = "evaluator"  # feature extractor of the quality metrics (compare.evaluator.FEATURES)
    data_options: DataOptions = DataOptions()  # --data-root, --download, --image-size, --channels
    curve_points: int = 8  # evaluations along the budget for the quality-vs-compute curves (the last is the final one)
    curve_samples: int | None = None  # samples per view at each curve point; default the final evaluation's


@dataclass
class TrainRecord:
    steps: int = 0
    images: int = 0
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)  # {"step": s, loss: value, ...} every LOG_EVERY
    grad_norms: list[dict[str, float]] = field(default_factory=list)  # {"step": s, part: |grad|} for the first GRAD_NORM_STEPS
    size: dict[str, Any] | None = None  # compare.cost.size_table, measured once when training finishes
    curve: list[dict[str, Any]] = field(default_factory=list)  # compare.curves points before the end
    status: str = "training"  # "training" | "finished" | "diverged"
    diverged: dict[str, Any] | None = None  # {"step": N, "reason": why} once a health check failed

    def diverge(self, step: int, reason: str) -> None:
        self.status, self.diverged = "diverged", {"step": step, "reason": reason}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but CUDA is not available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def train(
    model: GenerativeModel,
    images: Tensor,
    steps: int,
    batch_size: int,
    seed: int,
    on_log: Callable[[TrainRecord], None] | None = None,
    *,
    record: TrainRecord | None = None,
    max_seconds: float | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[TrainRecord], str | None] | None = None,
    stop: StopSignals | None = None,
    eval_due: Callable[[int, float], bool] | None = None,
    on_eval: Callable[[TrainRecord], None] | None = None,
) -> TrainRecord:
    """Train up to step `steps` (or until `max_seconds` of training) on batches of `images` drawn in an
    order fixed by `seed`.

    Continues `record` (a checkpoint's) where it stopped; the data order is replayed from the seed.
    The host waits for the device only at loss readings (every LOG_EVERY steps), checkpoints (every
    `checkpoint_every` steps and the last) and a stop request (`stop.requested`, set by a signal).
    There a non-finite loss marks the record diverged (a NaN poisons the weights, so the next reading
    still sees it), and `on_checkpoint(record)` saves it or returns why the model is unhealthy.
    When `eval_due(step, training seconds)` says so, `on_eval(record)` evaluates the model; its time
    is not training time, so a seconds budget does not pay for it.
    """
    record = record or TrainRecord()
    order_rng = torch.Generator().manual_seed(seed)
    start = time.perf_counter() - record.seconds
    early_norms: list[tuple[int, dict[str, Tensor]]] = []  # kept on the device until the first reading
    for step, batch in zip(range(record.steps + 1, steps + 1), batches(images, batch_size, order_rng, skip=record.steps)):
        losses = model.train_step(batch)
        if step <= GRAD_NORM_STEPS:
            early_norms.append((step, _grad_norms(model)))
        if max_seconds is not None:  # a seconds budget: the clock must see the finished step
            if model.device.type == "cuda":
                torch.cuda.synchronize(model.device)
            if time.perf_counter() - start >= max_seconds:
                steps = step
        log = step % LOG_EVERY == 0 or step == steps
        checkpoint = step == steps or (checkpoint_every > 0 and step % checkpoint_every == 0)
        stopping = stop is not None and stop.requested is not None
        evaluate = eval_due is not None and step != steps and eval_due(step, time.perf_counter() - start)
        if log or checkpoint or stopping or evaluate:
            values = {k: float(v) for k, v in losses.items()}  # the only host sync
            record.steps, record.images, record.seconds = step, step * batch_size, time.perf_counter() - start
            if problem := nonfinite_loss(values):
                record.diverge(step, problem)
                break
            record.losses = values
            # null where a step's gradient overflowed (an fp16 step the grad scaler skipped): JSON has no inf
            record.grad_norms += [{"step": s, **{k: _finite_or_none(float(v)) for k, v in norms.items()}} for s, norms in early_norms]
            early_norms.clear()
            if evaluate and on_eval:
                paused = time.perf_counter()
                on_eval(record)
                start += time.perf_counter() - paused
            if log:
                record.history.append({"step": step, **values})
                if on_log:
                    on_log(record)
            if step == steps:
                record.status = "finished"
            if (checkpoint or stopping) and on_checkpoint and (problem := on_checkpoint(record)):
                record.diverge(step, problem)
                break
        if stopping or step == steps:
            break
    return record


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _grad_norms(model: GenerativeModel) -> dict[str, Tensor]:
    """L2 norm of each part's gradient left by the last train_step (0-d tensors: no host sync).

    A part frozen during the last backward keeps the gradient of its own update (the GAN's D)."""
    norms = {}
    for name, part in model.parts().items():
        grads = [p.grad.detach().flatten() for p in part.parameters() if p.grad is not None]
        if grads:
            norms[name] = torch.linalg.vector_norm(torch.cat(grads))
    return norms


def _progress_trainer(label: str, steps: int | None, seconds: float | None):
    """A click progress bar (to stderr) over the budget's steps, or its seconds for a seconds budget,
    showing steps/s and the latest losses; returns (bar, on_log)."""
    shown = {"done": 0}
    done_of = (lambda r: r.steps) if seconds is None else (lambda r: min(int(r.seconds), int(seconds)))

    def describe(record: TrainRecord | None) -> str:
        if record is None or record.seconds == 0:
            return ""
        losses = "  ".join(f"{k} {v:.3f}" for k, v in record.losses.items())
        return f"{record.steps / record.seconds:6.0f} steps/s  {losses}"

    length = steps if seconds is None else int(seconds)
    bar = click.progressbar(length=length, label=f"{label:>12}", file=sys.stderr, item_show_func=describe, show_eta=True)

    def on_log(record: TrainRecord) -> None:
        bar.update(done_of(record) - shown["done"], record)
        shown["done"] = done_of(record)

    return bar, on_log


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str | None:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": v("torchvision"),
            "gan-vae-compare": v("gan-vae-compare"), "git": _git_hash()}


def _run_key(config: dict) -> dict:
    """What a model's training depends on besides its own config: checked when a checkpoint is loaded."""
    return {"dataset": config.get("dataset"), "seed": config.get("seed"), "batch_size": config.get("batch_size"),
            "steps": config.get("budget", {}).get("steps"), "device": config.get("device", {}).get("type")}


def _resumed_config(out: Path, config: dict) -> dict:
    """The config.json of the run being resumed, checked against what this process resolved for it."""
    saved = read_run_config(out)
    check_compatible({"models": saved.get("models"), "run": _run_key(saved)}, out / "config.json",
                     {"models": config["models"], "run": _run_key(config)})
    return {**saved, "settings": config["settings"], "resumed": [*saved.get("resumed", []), config["created"]]}


def _train_model(spec: ModelSpec, model: GenerativeModel, images: Tensor, steps: int | None, step_flops: int,
                 settings: RunSettings, config: dict, out: Path, stop: StopSignals, show_progress: bool,
                 evaluate_point: Callable[[], dict] | None = None, resident_bytes: int = 0) -> TrainRecord:
    """Train `model` from its checkpoint, if it has one, up to `steps`, checkpointing as it goes.

    Returns its record: finished (with its size table, measured once and checkpointed, so a resumed
    run reports the same figures); diverged, with the model back at its last good checkpoint; or still
    "training" when a signal stopped it (its checkpoint is then at the step it stopped).
    """
    path = out / spec.dirname / "ckpt.pt"
    identity = {"label": spec.label, "config": config["models"][spec.label], "run": _run_key(config)}

    def save(record: TrainRecord) -> None:
        save_checkpoint(path, {**identity, **dataclasses.asdict(record), "epochs": record.images / len(images),
                               "state": model.state_dict()})

    if path.exists():
        ckpt = load_checkpoint(path)
        check_compatible(ckpt, path, identity)
        restore(model, ckpt, path)
        record = TrainRecord(**{f.name: ckpt[f.name] for f in dataclasses.fields(TrainRecord) if f.name in ckpt})
    else:
        record = TrainRecord()
        save(record)  # step 0: a model that diverges before its first checkpoint still has a good one
    if record.status == "training" and stop.requested is None:
        def on_eval(r: TrainRecord) -> None:  # one point of the quality-vs-compute curve
            r.curve.append({**consumed(r.steps, settings.batch_size, len(images), r.seconds, step_flops), "views": evaluate_point()})

        record = _continue_training(spec, model, images, steps, settings, record, save, stop, show_progress, path,
                                    on_eval if evaluate_point else None)
    if record.status == "finished" and record.size is None:
        record.size = size_table(model, step_flops, record.images / record.seconds if record.seconds else None, resident_bytes)
        save(record)
    return record


def _continue_training(spec: ModelSpec, model: GenerativeModel, images: Tensor, steps: int | None, settings: RunSettings,
                       record: TrainRecord, save: Callable[[TrainRecord], None], stop: StopSignals,
                       show_progress: bool, path: Path, on_eval: Callable[[TrainRecord], None] | None) -> TrainRecord:
    """The training part of _train_model: checkpoints on the way, back to the last good one on divergence,
    curve points at K - 1 evenly spaced points of the budget (in steps, or seconds for a seconds budget)."""

    def on_checkpoint(record: TrainRecord) -> str | None:
        if problem := unhealthy(model):
            return problem  # not saved: the last good checkpoint stays
        save(record)
        return None

    seconds = settings.budget.seconds
    if steps is not None:
        due_steps = set(eval_steps(steps, settings.curve_points))

        def eval_due(step: int, elapsed: float) -> bool:
            return step in due_steps
    else:
        thresholds = [seconds * k / settings.curve_points for k in range(1, settings.curve_points)]

        def eval_due(step: int, elapsed: float) -> bool:  # the next point not yet taken (a resume has some)
            return len(record.curve) < len(thresholds) and elapsed >= thresholds[len(record.curve)]

    kwargs: dict[str, Any] = dict(record=record, max_seconds=seconds, checkpoint_every=settings.checkpoint_every,
                                  on_checkpoint=on_checkpoint, stop=stop, eval_due=eval_due if on_eval else None, on_eval=on_eval)
    max_steps = sys.maxsize if steps is None else steps  # a seconds budget stops on the clock
    if show_progress:
        bar, on_log = _progress_trainer(spec.label, steps, seconds)
        with bar:
            record = train(model, images, max_steps, settings.batch_size, settings.seed, on_log, **kwargs)
    else:
        record = train(model, images, max_steps, settings.batch_size, settings.seed, **kwargs)
    if record.status == "diverged":  # back to the last good checkpoint, marked so a resume leaves it be
        good = load_checkpoint(path)
        restore(model, good, path)
        record.steps, record.images = good["steps"], good["images"]
        save(record)
    return record


def _status_fields(record: TrainRecord) -> dict[str, Any]:
    if record.diverged is None:
        return {"status": record.status}
    step, reason = record.diverged["step"], record.diverged["reason"]
    return {"status": "diverged", "diverged_at_step": step,
            "failure": f"diverged at step {step} ({reason}); kept its last good checkpoint, step {record.steps}"}


def _write_interrupted_metrics(out: Path, results: dict, settings: RunSettings, spec: ModelSpec,
                               record: TrainRecord, signum: int) -> None:
    """metrics.json of a stopped run: finished models in full, the stopped one's progress, the rest pending."""
    models = {s.label: {"status": "pending"} for s in settings.models} | results
    models[spec.label] = {"status": "interrupted", "steps": record.steps, "images_seen": record.images,
                          "train_seconds": round(record.seconds, 3), "final_losses": record.losses,
                          "loss_history": record.history}
    write_json(out / "metrics.json", {"run": out.name, "interrupted": {"signal": signum, "model": spec.label, "step": record.steps},
                                      "models": models})


def samples_per_view(n_eval: int, n_heldout: int) -> int:
    """How many samples a run draws per view: enough for the grid, the continuity metrics (one per
    held-out image) and the quality metrics, each taking the first ones it needs of that one draw."""
    return max(GRID_SAMPLES, n_heldout, n_eval)


def sample_views(spec: ModelSpec, model: GenerativeModel, n: int, seed: int) -> dict[str, Tensor]:
    """n samples of every view of the model, each view from the same fixed noise seed."""
    return {
        view: model.sample(n, generator=torch.Generator().manual_seed(seed + SAMPLE_SEED_OFFSET), **kwargs).cpu()
        for view, kwargs in spec.views().items()
    }


def check_settings(settings: RunSettings) -> torch.device:
    """Every check of `settings` that needs no data; returns the device the run trains on.

    One function for `compare run` and `compare sweep`, so a sweep refuses a bad flag once, before
    its directory exists, with the same message as a run, instead of failing in every trial.
    """
    if settings.batch_size <= 0:
        raise UserError(f"--batch-size must be positive, got {settings.batch_size}")
    if not (settings.width > 0 and math.isfinite(settings.width)):
        raise UserError(f"--width must be a positive number, got {settings.width}")
    if settings.checkpoint_every <= 0:
        raise UserError(f"--checkpoint-every must be a positive number of steps, got {settings.checkpoint_every}")
    return resolve_device(settings.device)


def run(settings: RunSettings, show_progress: bool = True, resume: bool = False, overwrite: bool = False) -> dict:
    """Train, sample and record every model of `settings`; returns what metrics.json holds.

    `resume`: settings.out is an earlier run (compare.checkpoint.resume_settings reads its settings);
    finished and diverged models are loaded, not retrained, unfinished ones continue from their
    checkpoints. `overwrite` replaces an earlier run at settings.out. SIGINT / SIGTERM stop the run
    at a checkpoint and raise compare.guard.Interrupted.
    """
    device = check_settings(settings)
    data: ImageDataset = load_dataset(settings.dataset, device, settings.data_options)
    if settings.batch_size > len(data.train):
        raise UserError(f"--batch-size {settings.batch_size} is larger than the training split ({len(data.train)} images)")
    plan = _plan(settings, data)
    n_eval = eval_sample_count(settings.eval_samples, data)
    # Before any training: a missing extractor (Inception weights) must stop the run now, not after it.
    extractor = load_extractor(settings.features, data, device, on_train=(lambda m: click.echo(m, err=True)) if show_progress else None)
    out = Path(settings.out) if settings.out else Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    with claimed_run_dir(out, resume, overwrite), StopSignals() as stop:
        return _run_claimed(settings, out, data, device, plan, extractor, n_eval, stop, show_progress, resume)


@dataclass(frozen=True)
class Plan:
    """Per model: its width, its measured training FLOPs per step and the steps the budget buys it
    (None for a seconds budget, which is known only when it runs out)."""

    widths: dict[str, float]
    flops_per_step: dict[str, int]
    steps: dict[str, int | None]


def _plan(settings: RunSettings, data: ImageDataset) -> Plan:
    specs = list(settings.models)
    widths = match_widths(specs, data.image_shape, settings.match_params, settings.width)
    flops = {s.label: train_step_flops(s, data.image_shape, settings.batch_size, widths[s.label]) for s in specs}
    steps = {label: settings.budget.steps(settings.batch_size, len(data.train), f) for label, f in flops.items()}
    return Plan(widths, flops, steps)


def _run_claimed(settings: RunSettings, out: Path, data: ImageDataset, device: torch.device, plan: Plan,
                 extractor, n_eval: int, stop: StopSignals, show_progress: bool, resume: bool) -> dict:
    """run() once `out` is locked for this process and signals only request a stop."""
    config = {
        "models": {s.label: dataclasses.asdict(s.config(data.image_shape, width=plan.widths[s.label])) for s in settings.models},
        "dataset": {"name": data.name, "train": len(data.train), "heldout": len(data.heldout), "image_shape": list(data.image_shape)},
        "budget": {"spec": str(settings.budget), "steps": plan.steps, "train_flops_per_step": plan.flops_per_step},
        "match_params": {"mode": settings.match_params, "widths": plan.widths},
        "seed": settings.seed,
        "batch_size": settings.batch_size,
        "evaluation": {"features": settings.features, "eval_samples": n_eval},
        "device": {"type": device.type, "name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()},
        "torch_threads": torch.get_num_threads(),
        "versions": _versions(),
        "command": sys.argv,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "settings": settings_to_json(settings),  # what `compare run --resume` reads back
    }
    if resume:
        config = _resumed_config(out, config)
    write_json(out / "config.json", config)

    results: dict[str, dict] = {}
    records: dict[str, TrainRecord] = {}
    trained: dict[str, GenerativeModel] = {}
    n_curve = settings.curve_samples or n_eval
    point_eval = make_point_evaluator(data, extractor, n_curve)
    heldout = in_memory(data.heldout).cpu()  # the real reference (of a streamed split, its evaluated part)
    # One draw per view serves the grid (first 64), the continuity metrics (as many as held-out
    # real images) and the quality metrics (n_eval): the same fixed noise, sampled once.
    n_samples = samples_per_view(n_eval, len(heldout))
    grids: dict[str, Tensor] = {"real (held-out)": heldout[:GRID_SAMPLES]}
    continuity_views: dict[str, Tensor] = {}
    eval_views: dict[str, Tensor] = {}
    for spec in settings.models:
        resident = reset_peak_memory(device)  # so each model's size table has its own peak, less the data's
        model = spec.build(data.image_shape, device, settings.seed, width=plan.widths[spec.label])
        record = _train_model(spec, model, data.train, plan.steps[spec.label], plan.flops_per_step[spec.label],
                              settings, config, out, stop, show_progress,
                              lambda: point_eval(sample_views(spec, model, n_curve, settings.seed)) if settings.curve_points > 1 else None,
                              resident_bytes=resident)  # the peak includes the curve points' sampling
        records[spec.label] = record
        if record.status == "training":  # a signal stopped it at a checkpoint
            _write_interrupted_metrics(out, results, settings, spec, record, stop.requested)
            raise Interrupted(stop.requested, out, f"at step {record.steps} of {spec.label!r}: checkpoint and partial metrics saved")
        views = sample_views(spec, model, n_samples, settings.seed)
        for view, images in views.items():
            save_grid(images[:GRID_SAMPLES], out / f"samples_{view}.png", nrow=8)
            grids[view] = images[:GRID_SAMPLES]
            continuity_views[view] = images[:len(heldout)]
            eval_views[view] = images[:n_eval]
        trained[spec.label] = model
        save_reconstructions(model, heldout, out / f"reconstructions_{spec.dirname}.png")
        results[spec.label] = {
            "family": spec.family,
            "views": list(views),
            "width": plan.widths[spec.label],
            "steps": record.steps,
            "images_seen": record.images,
            "train_seconds": round(record.seconds, 3),
            "steps_per_second": round(record.steps / record.seconds, 2) if record.seconds else None,
            "consumed": consumed(record.steps, settings.batch_size, len(data.train), record.seconds, plan.flops_per_step[spec.label]),
            "parameters": parameter_counts(model),
            "size": record.size,
            "final_losses": record.losses,
            "loss_history": record.history,
            "grad_norms": record.grad_norms,
            **_status_fields(record),
        }
    # Evaluation has no step to finish: a signal stops it at once; a resume loads the trained models.
    stop.stop_at_once(lambda signum: Interrupted(signum, out, "during evaluation: every model is trained and checkpointed"))
    check_matched(settings.budget, {label: r["consumed"] for label, r in results.items() if r["status"] == "finished"})
    save_side_by_side(grids, out / "side_by_side.png", title=f"{data.name}, {settings.budget} each, seed {settings.seed}")
    save_loss_curves({label: r["loss_history"] for label, r in results.items()}, out / "loss_curves.png")
    save_interpolations(trained, out / "interpolations.png", settings.seed + SAMPLE_SEED_OFFSET)
    save_nearest_neighbours({v: g for v, g in grids.items() if v != "real (held-out)"}, in_memory(data.train), out / "nearest_neighbours.png")
    metrics = {"run": out.name, "models": results}
    # Pixel artifacts of every view beside held-out real; train real at the same count is the floor.
    metrics["continuity"] = continuity_outputs(continuity_views, heldout, out, floor=data.train[:len(heldout)].cpu())
    metrics["quality"] = evaluate_views(eval_views, data, extractor)
    write_quality_table(out, metrics["quality"])
    attach_model_quality(results, settings.models, metrics["quality"])
    attach_first_view(results, settings.models, "continuity", metrics["continuity"]["views"])
    for spec in settings.models:  # each curve ends on the final evaluation itself
        r = results[spec.label]
        r["curve"] = records[spec.label].curve + [final_point(r["consumed"], metrics["quality"]["views"],
                                                              metrics["continuity"]["views"], r["views"])]
    save_curves({label: r["curve"] for label, r in results.items()}, out / "curves.png")
    write_json(out / "metrics.json", metrics)
    write_report([out])
    return {"out": str(out), **metrics}
