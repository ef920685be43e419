"""What one run is asked to do (RunSettings), its training budget (Budget), and the checks of them that need no data.

A training budget is a number with a unit, the same for every model in a run.

`3000steps` is 3000 optimisation steps; `500000images` is that many real images consumed;
`20epochs` is 20 passes over the training split; `90s` is 90 seconds of training (evaluation
excluded); `2e13flops` is that many training FLOPs (forward, backward and optimiser of every
network the model trains, counted once per configuration by compare.train.cost). All but seconds
resolve to a whole number of steps before training, rounded up so no model gets less than
the budget; a seconds budget stops at the first step that reaches it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from compare.data import DataOptions
from compare.errors import UserError, did_you_mean
from compare.stats import RESAMPLES
from compare.models import ModelSpec

# Steps between checkpoints (compare.train.checkpoint): a checkpoint of the default models takes 30-40 ms, under 1%
# of 500 steps' training on a laptop CPU (benchmarks/checkpoint_overhead.py), and a SIGKILL loses at most 500 steps.
DEFAULT_CHECKPOINT_EVERY = 500
MAX_SEED = 2**32 - 1  # torch seeds are 64-bit; a run derives further streams at seed + small offsets
# Bounds on the count flags of the multi-trial commands, checked before any directory is made: a count
# past them is a typo, and unchecked it would only grow in memory (trial lists, draws) until killed.
MAX_SEEDS = 1000
MAX_TUNE = 1000
MAX_WIDTHS = 64
# Fewest bootstrap resamples an interval may rest on: the 2.5th percentile of 100 lies between its 2nd and 3rd
# smallest values; fewer leave an end set by one or two draws.
MIN_RESAMPLES = 100


UNITS = ("steps", "images", "epochs", "s", "flops")
DEFAULT_BUDGET = "4000steps"  # of `compare run`, sweep, study and compare.run
_NUMBER = re.compile(r"^\s*[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?\s*$", re.IGNORECASE)
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Budget:
    amount: float
    unit: str

    @classmethod
    def parse(cls, text: str) -> "Budget":
        match = _PATTERN.match(text)
        if _NUMBER.match(text):  # `--budget 4000`: the unit left out (or split off: `--budget 4000 steps`)
            raise UserError(f"budget {text!r} has no unit: did you mean {text.strip()}steps? (units: "
                            f"{', '.join(UNITS)}, written without a space)")
        if match and match.group(2).lower() not in UNITS:
            raise UserError(f"malformed budget {text!r}: unknown unit "
                            f"{match.group(2)!r}{did_you_mean(match.group(2), UNITS)}; units: "
                            f"{', '.join(UNITS)}, e.g. 3000steps")
        if not match:
            raise UserError(f"malformed budget {text!r}: write a number and a unit ({', '.join(UNITS)}), "
                            "e.g. 3000steps, 20epochs, 90s or 2e13flops")
        amount, unit = float(match.group(1)), match.group(2).lower()
        if amount <= 0 or not math.isfinite(amount):
            raise UserError(f"budget must be positive, got {text!r}")
        if unit == "steps" and amount != int(amount):
            raise UserError(f"a steps budget must be a whole number, got {text!r}")
        return cls(amount, unit)

    @property
    def seconds(self) -> float | None:
        """The wall-clock limit of a seconds budget; None for every other unit."""
        return self.amount if self.unit == "s" else None

    def steps(self, batch_size: int, train_size: int, flops_per_step: int) -> int | None:
        """Optimisation steps this budget buys (None for a seconds budget: known only when it runs out)."""
        if self.unit == "s":
            return None
        per_step = {"steps": 1, "images": batch_size, "epochs": batch_size / train_size,
                    "flops": flops_per_step}[self.unit]
        return max(1, math.ceil(self.amount / per_step - 1e-9))

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"


def consumed(steps: int, batch_size: int, train_size: int, seconds: float, flops_per_step: int) -> dict[str, float]:
    """What `steps` training steps consumed, in every budget unit."""
    images = steps * batch_size
    return {"steps": steps, "images": images, "epochs": images / train_size, "s": seconds,
            "flops": steps * flops_per_step}


def check_matched(budget: Budget, used: dict[str, dict[str, float]]) -> None:
    """Refuse a comparison whose models consumed the budget's unit differently by more than one step's worth.

    A seconds budget stops each model at the first step that ends past it, so how far past depends on
    that one step's length, which the machine's load sets (a loaded CPU stalls a step for several
    average ones): there only a model that stopped short of the budget is unmatched."""
    amounts = {label: u[budget.unit] for label, u in used.items()}
    if budget.unit == "s":
        if short := {label: a for label, a in amounts.items() if a < budget.amount}:
            detail = ", ".join(f"{label} {a:g}" for label, a in short.items())
            raise UserError(f"models stopped short of the {budget} budget ({detail} s); the comparison is not matched")
        return
    if len(used) < 2:
        return
    one_step = max(u[budget.unit] / u["steps"] for u in used.values() if u["steps"])
    spread = max(amounts.values()) - min(amounts.values())
    if spread > one_step * (1 + 1e-9):
        detail = ", ".join(f"{label} {amount:g}" for label, amount in amounts.items())
        raise UserError(f"models consumed different budgets ({budget.unit}: {detail}); the comparison is not matched")


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
    # samples per view for the quality metrics; default the held-out size (see compare.metrics.scoring)
    eval_samples: int | None = None
    features: str = "evaluator"  # feature extractor of the quality metrics (compare.metrics.evaluator.FEATURES)
    data_options: DataOptions = DataOptions()  # --data-root, --download, --image-size, --channels
    curve_points: int = 8  # evaluations along the budget for the quality-vs-compute curves (the last is the final one)
    # extra curve points evenly spaced in claim 3's early window (compare.train.early_window; a study's)
    early_curve_points: int = 0
    # samples per view at each curve point: must equal the final evaluation's N (check_curve_samples)
    curve_samples: int | None = None
    # bootstrap resamples behind each quality interval and fid_inf (compare.stats)
    resamples: int = RESAMPLES


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but CUDA is not available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def check_settings(settings: RunSettings) -> torch.device:
    """Every check of `settings` that needs no data; returns the device the run trains on.

    One function for `compare run` and `compare sweep`, so a sweep refuses a bad flag once, before
    its directory exists, with the same message as a run, instead of failing in every trial.
    """
    check_seeds((settings.seed,))
    if settings.batch_size <= 0:
        raise UserError(f"--batch-size must be positive, got {settings.batch_size}")
    if not (settings.width > 0 and math.isfinite(settings.width)):
        raise UserError(f"--width must be a positive number, got {settings.width}")
    if settings.early_curve_points < 0:
        raise UserError(f"early curve points must be 0 or more, got {settings.early_curve_points}")
    # the early window is in steps, unknown before a seconds budget ends
    if settings.early_curve_points and settings.budget.unit == "s":
        raise UserError(f"early curve points need a budget of steps, images, epochs or flops, not {settings.budget}")
    check_resamples(settings.resamples)
    if settings.checkpoint_every <= 0:
        raise UserError(f"--checkpoint-every must be a positive number of steps, got {settings.checkpoint_every}")
    return resolve_device(settings.device)


def check_resamples(resamples: int) -> None:
    """At least MIN_RESAMPLES bootstrap resamples, a whole number (`compare run`, sweep, study, score)."""
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < MIN_RESAMPLES:
        raise UserError(f"--resamples must be a whole number of at least {MIN_RESAMPLES}, got {resamples}")


def check_seeds(seeds: tuple[int, ...] | list[int]) -> None:
    """Every seed in 0..MAX_SEED, the range `compare run --seed` takes, and at most MAX_SEEDS of them: --seed
    MAX_SEED --seeds 2 would otherwise train seed MAX_SEED + 1, which `run` refuses."""
    if len(seeds) > MAX_SEEDS:
        raise UserError(f"--seeds {len(seeds)} is more than {MAX_SEEDS}, the most one command takes")
    if bad := [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED]:
        raise UserError(f"seed {bad[0]} is outside 0..{MAX_SEED} (the seeds are --seed .. --seed+N-1); "
                        "lower --seed or --seeds")
