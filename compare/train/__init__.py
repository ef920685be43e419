"""The train stage: every model of a run trained under one budget, from its checkpoint when it has one.

`plan` turns the budget into steps per model (after parameter matching and FLOP counting);
`train_model` trains one model to its planned step, checkpointing on the way, and returns a
`Trained`: the live model and its TrainRecord. Nothing here samples, scores or draws.
"""

from __future__ import annotations

import dataclasses
import sys
from fractions import Fraction
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from torch import Tensor

from compare.data import ImageDataset, in_memory
from compare.errors import UserError
from compare.models import ModelSpec
from compare.protocol import GenerativeModel
from compare.settings import consumed
from compare.train.checkpoint import check_compatible, load_checkpoint, restore, save_checkpoint, unhealthy
from compare.train.cost import match_widths, size_table, train_step_flops
from compare.rundir import StopSignals
from compare.train.prior import fit_prior, needs_prior
from compare.train.loop import EARLY_WINDOW_STEPS, TrainRecord, early_window, train  # noqa: F401 (compare.train's API)

# annotations only: compare.settings imports compare.train's submodules, so a real import here is a cycle
if TYPE_CHECKING:
    from compare.settings import RunSettings
    from compare.watch.terminal import Display


@dataclass(frozen=True)
class Plan:
    """Per model: its width, its measured training FLOPs per step and the steps the budget buys it
    (None for a seconds budget, which is known only when it runs out)."""

    widths: dict[str, float]
    flops_per_step: dict[str, int]
    steps: dict[str, int | None]


def plan(settings: RunSettings, data: ImageDataset) -> Plan:
    specs = list(settings.models)
    widths = match_widths(specs, data.image_shape, settings.match_params, settings.width)
    flops = {s.label: train_step_flops(s, data.image_shape, settings.batch_size, widths[s.label]) for s in specs}
    steps = {label: settings.budget.steps(settings.batch_size, len(data.train), f) for label, f in flops.items()}
    return Plan(widths, flops, steps)


@dataclass
class Trained:
    """One model after the train stage: finished, diverged (back at its last good checkpoint) or
    still "training" when a signal stopped it."""

    spec: ModelSpec
    model: GenerativeModel
    record: TrainRecord
    width: float
    flops_per_step: int
    n_train: int  # training images: what an epoch is
    batch_size: int

    @property
    def consumed(self) -> dict[str, float]:
        r = self.record
        return consumed(r.steps, self.batch_size, self.n_train, r.seconds, self.flops_per_step)

    def status_fields(self) -> dict[str, Any]:
        r = self.record
        if r.diverged is None:
            return {"status": r.status}
        step, reason = r.diverged["step"], r.diverged["reason"]
        return {"status": "diverged", "diverged_at_step": step,
                "failure": f"diverged at step {step} ({reason}); kept its last good checkpoint, step {r.steps}"}


def curve_fractions(points: int) -> list[Fraction]:
    """Fractions of the budget at which the K - 1 evenly spaced curve points before the end fall."""
    return [Fraction(k, points) for k in range(1, points)]


def eval_steps(total_steps: int, points: int, early: int = 0) -> list[int]:
    """The steps of the curve points before the end (the end is the final evaluation): the evenly spaced ones
    merged with `early` more evenly spaced in (0, early_window(total_steps)], so the start is seen in detail
    whatever the budget (all `early` of them when the window has that many steps; the window's end may be
    the final one)."""
    window = Fraction(early_window(total_steps))
    early_steps = {max(1, round(window * Fraction(k, early))) for k in range(1, early + 1)}
    return sorted(({max(1, round(total_steps * f)) for f in curve_fractions(points)} | early_steps) - {total_steps})


def run_key(config: dict) -> dict:
    """What a model's training depends on besides its own config: checked when a checkpoint is loaded."""
    return {"dataset": config.get("dataset"), "seed": config.get("seed"), "batch_size": config.get("batch_size"),
            "steps": config.get("budget", {}).get("steps"), "device": config.get("device", {}).get("type")}


def _grown(old, new) -> bool:
    """Whether planned steps {label: steps} `new` are `old`'s with at least one model given more (a budget extended)."""
    if not (isinstance(old, dict) and isinstance(new, dict)) or old.keys() != new.keys() or old == new:
        return False
    return all(isinstance(v, int) and isinstance(new[k], int) and new[k] >= v for k, v in old.items())


def budget_extended(saved: dict, config: dict) -> bool:
    """Whether `config` trains the run whose config.json is `saved` on to a larger budget. A smaller budget, or a
    change of a seconds budget (its curve points are placed by the clock, so none can be continued), is a UserError.
    The data order and every model's RNG streams run on from the checkpoint, so the models end as a run
    straight to the larger budget ends."""
    old, new = saved.get("budget", {}), config.get("budget", {})
    old_steps, new_steps = old.get("steps"), new.get("steps")
    if (old_steps == new_steps or not (isinstance(old_steps, dict) and isinstance(new_steps, dict))
            or old_steps.keys() != new_steps.keys()):
        return False  # the same budget (or other models, which the config check refuses)
    if None in (*old_steps.values(), *new_steps.values()):
        raise UserError(f"cannot change the budget of a run from {old.get('spec')} to {new.get('spec')}: only "
                        "a budget of steps, images, epochs or flops can be extended (a seconds budget's curve "
                        "points follow the clock)")
    if shorter := [label for label, n in new_steps.items() if n < old_steps[label]]:
        label = shorter[0]
        raise UserError(f"--budget {new.get('spec')} is smaller than this run's {old.get('spec')} ({label}: "
                        f"{new_steps[label]:,} steps < {old_steps[label]:,}); a run can only be extended")
    return True


def train_model(spec: ModelSpec, model: GenerativeModel, data: ImageDataset, run_plan: Plan, settings: RunSettings,
                config: dict, out: Path, stop: StopSignals, display: Display | None = None,
                evaluate_point: Callable[[dict], dict] | None = None, resident_bytes: int = 0) -> Trained:
    """Train `model` from its checkpoint, if it has one, up to its planned steps, checkpointing as it goes.

    A finished model gets its size table, measured once and checkpointed, so a resumed run reports the
    same figures; a model with a prior to fit after training (the VAE's, compare.train.prior) gets it then,
    checkpointed likewise. A model finished under a smaller budget (the run extended, compare.train.budget_extended)
    trains on: its final evaluation becomes a curve point and its size table is measured again at the end.
    `evaluate_point(consumed)` scores the model for one point of its quality-vs-compute curve.
    `display` shows a bar and says what a resume found.
    """
    images, steps, step_flops = data.train, run_plan.steps[spec.label], run_plan.flops_per_step[spec.label]
    path = out / spec.dirname / "ckpt.pt"
    identity = {"label": spec.label, "config": config["models"][spec.label], "run": run_key(config)}

    def save(record: TrainRecord) -> None:
        save_checkpoint(path, {**identity, **dataclasses.asdict(record), "epochs": record.images / len(images),
                               "state": model.state_dict()})

    resumed = path.exists()
    if resumed:
        ckpt = load_checkpoint(path)
        saved_run = ckpt.get("run") if isinstance(ckpt.get("run"), dict) else {}
        # A checkpoint written before the run's budget was extended names the smaller one: it is continued.
        expected = {**identity, "run": {**identity["run"], "steps": saved_run.get("steps")}} if _grown(
            saved_run.get("steps"), identity["run"]["steps"]) else identity
        check_compatible(ckpt, path, expected)
        restore(model, ckpt, path)
        record = TrainRecord(**{f.name: ckpt[f.name] for f in dataclasses.fields(TrainRecord) if f.name in ckpt})
    else:
        record = TrainRecord()
        save(record)  # step 0: a model that diverges before its first checkpoint still has a good one
    trained = Trained(spec, model, record, run_plan.widths[spec.label], step_flops, len(images), settings.batch_size)
    extending = record.status == "finished" and steps is not None and record.steps < steps
    if display is not None and resumed:
        display.line(_resume_line(spec.label, record, steps, extending))
    if extending:
        if evaluate_point:  # the smaller budget's final evaluation, scored as every curve point is
            record.curve.append({**trained.consumed, "views": evaluate_point(trained.consumed)})
        record.status, record.size = "training", None
        if hasattr(model, "set_prior"):
            model.prior = None  # fitted to the shorter training's codes: fitted anew when the longer one ends
    if record.status == "training" and stop.requested is None:
        def on_eval(r: TrainRecord) -> None:  # one point of the quality-vs-compute curve
            r.curve.append({**trained.consumed, "views": evaluate_point(trained.consumed)})

        trained.record = _continue_training(trained, images, steps, settings, save, stop, display, path,
                                            on_eval if evaluate_point else None)
    record = trained.record
    changed = False
    if record.status != "training" and needs_prior(model):  # finished or back at its last good checkpoint: sampled next
        fit_prior(model, in_memory(images), settings.seed)  # a streamed split: its first images
        changed = True
    if record.status == "finished" and record.size is None:
        record.size = size_table(model, step_flops, record.images / record.seconds if record.seconds else None,
                                 resident_bytes)
        changed = True
    if changed:
        save(record)
    return trained


def _resume_line(label: str, record: TrainRecord, steps: int | None, extending: bool) -> str:
    """What a resume does with one model, e.g. "gan finished at step 4,000: kept", "resuming vae from step
    409 of 4,000"."""
    of = f" of {steps:,}" if steps else ""
    if record.status == "diverged":
        return f"{label} diverged: kept at its last good checkpoint, step {record.steps:,}"
    if extending:
        return f"{label} finished at step {record.steps:,}: training on to step {steps:,}"
    if record.status == "finished":
        return f"{label} finished at step {record.steps:,}: kept"
    return f"resuming {label} from step {record.steps:,}{of}"


def _continue_training(trained: Trained, images: Tensor, steps: int | None, settings: RunSettings,
                       save: Callable[[TrainRecord], None], stop: StopSignals, display: Display | None, path: Path,
                       on_eval: Callable[[TrainRecord], None] | None) -> TrainRecord:
    """The training part of train_model: checkpoints on the way, back to the last good one on divergence,
    curve points at K - 1 evenly spaced points of the budget (in steps, or seconds for a seconds budget)."""
    model, record = trained.model, trained.record

    def on_checkpoint(record: TrainRecord) -> str | None:
        if problem := unhealthy(model):
            return problem  # not saved: the last good checkpoint stays
        save(record)
        return None

    seconds = settings.budget.seconds
    if steps is not None:
        due_steps = set(eval_steps(steps, settings.curve_points, settings.early_curve_points))

        def eval_due(step: int, elapsed: float) -> bool:
            return step in due_steps
    else:
        # no early points: check_settings
        thresholds = [seconds * float(f) for f in curve_fractions(settings.curve_points)]

        def eval_due(step: int, elapsed: float) -> bool:  # the next point not yet taken (a resume has some)
            return len(record.curve) < len(thresholds) and elapsed >= thresholds[len(record.curve)]

    kwargs: dict[str, Any] = dict(record=record, max_seconds=seconds, checkpoint_every=settings.checkpoint_every,
                                  on_checkpoint=on_checkpoint, stop=stop, eval_due=eval_due if on_eval else None,
                                  on_eval=on_eval)
    max_steps = sys.maxsize if steps is None else steps  # a seconds budget stops on the clock
    if display is not None:
        with display.training(trained.spec.label, steps, seconds, record.steps, record.seconds) as bar:
            record = train(model, images, max_steps, settings.batch_size, settings.seed, bar.update, **kwargs)
    else:
        record = train(model, images, max_steps, settings.batch_size, settings.seed, **kwargs)
    if record.status == "diverged":  # back to the last good checkpoint, marked so a resume leaves it be
        good = load_checkpoint(path)
        restore(model, good, path)
        record.steps, record.images = good["steps"], good["images"]
        save(record)
    return record
