"""The training loop: any model of the protocol, one batch a step, the host waiting for the device only when it must."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor

from compare.data import batches
from compare.protocol import GenerativeModel
from compare.train.checkpoint import nonfinite_loss
from compare.rundir import StopSignals

LOG_EVERY = 50  # steps between loss readings: each reading waits for the device, so not every step
# Gradient norm of every part after each of the first steps: where the source's two generator
# losses differ most (minimax's gradient vanishes while D rejects the fakes).
GRAD_NORM_STEPS = 200


# Claim 3's "start" in steps, here where the loop records its readings (compare.train re-exports it for
# compare.claims.rules): the first 1,000 steps, or the whole budget when shorter. Fixed in steps, not as a share of the
# budget, so the window does not move when the budget changes.
EARLY_WINDOW_STEPS = 1000


def early_window(budget_steps: int) -> int:
    """The steps claim 3 calls "the start": the first EARLY_WINDOW_STEPS, or the whole budget when shorter."""
    return min(EARLY_WINDOW_STEPS, budget_steps)


@dataclass
class TrainRecord:
    steps: int = 0
    images: int = 0
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)  # {"step": s, loss: value, ...} every LOG_EVERY
    # {"step": s, part: |grad|} for the first GRAD_NORM_STEPS
    grad_norms: list[dict[str, float]] = field(default_factory=list)
    size: dict[str, Any] | None = None  # compare.train.cost.size_table, measured once when training finishes
    curve: list[dict[str, Any]] = field(default_factory=list)  # compare.metrics.curves points before the end
    # {"step": s, reading: value} after every step of claim 3's early window, for a model with saturation() (the GAN)
    saturation: list[dict[str, float]] = field(default_factory=list)
    status: str = "training"  # "training" | "finished" | "diverged"
    diverged: dict[str, Any] | None = None  # {"step": N, "reason": why} once a health check failed

    def diverge(self, step: int, reason: str) -> None:
        self.status, self.diverged = "diverged", {"step": step, "reason": reason}


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
    early_saturation: list[tuple[int, dict[str, Tensor]]] = []  # likewise
    read_saturation = getattr(model, "saturation", None)  # an optional method: the GAN's D(G(z)) readings
    window = early_window(steps)
    for step, batch in zip(range(record.steps + 1, steps + 1),
                           batches(images, batch_size, order_rng, skip=record.steps)):
        losses = model.train_step(batch)
        if step <= GRAD_NORM_STEPS:
            early_norms.append((step, _grad_norms(model)))
        if step <= window and read_saturation is not None and (readings := read_saturation()) is not None:
            early_saturation.append((step, readings))
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
            record.grad_norms += [{"step": s, **{k: _finite_or_none(float(v)) for k, v in norms.items()}}
                                  for s, norms in early_norms]
            early_norms.clear()
            record.saturation += _readings(early_saturation)
            early_saturation.clear()
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


def _readings(steps: list[tuple[int, dict[str, Tensor]]]) -> list[dict[str, float]]:
    """[(step, {name: 0-d tensor})] -> [{"step": s, name: float}], in one transfer from the device."""
    if not steps:
        return []
    names = list(steps[0][1])
    values = torch.stack([torch.stack([r[k] for k in names]) for _, r in steps]).tolist()
    return [{"step": s, **{k: _finite_or_none(v) for k, v in zip(names, row)}} for (s, _), row in zip(steps, values)]


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

