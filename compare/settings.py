"""What one run is asked to do (RunSettings), and the checks of it that need no data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from compare.data import DataOptions
from compare.errors import UserError
from compare.metrics.bootstrap import RESAMPLES
from compare.models import ModelSpec
from compare.train.budget import Budget
from compare.train.checkpoint import DEFAULT_CHECKPOINT_EVERY

MAX_SEED = 2**32 - 1  # torch seeds are 64-bit; a run derives further streams at seed + small offsets
# Bounds on the count flags of the multi-trial commands, checked before any directory is made: a count
# past them is a typo, and unchecked it would only grow in memory (trial lists, draws) until killed.
MAX_SEEDS = 1000
MAX_TUNE = 1000
MAX_WIDTHS = 64
# Fewest bootstrap resamples an interval may rest on: the 2.5th percentile of 100 lies between its 2nd and 3rd
# smallest values; fewer leave an end set by one or two draws.
MIN_RESAMPLES = 100


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
    eval_samples: int | None = None  # samples per view for the quality metrics; default the held-out size (see compare.metrics.scoring)
    features: str = "evaluator"  # feature extractor of the quality metrics (compare.metrics.evaluator.FEATURES)
    data_options: DataOptions = DataOptions()  # --data-root, --download, --image-size, --channels
    curve_points: int = 8  # evaluations along the budget for the quality-vs-compute curves (the last is the final one)
    early_curve_points: int = 0  # extra curve points evenly spaced in claim 3's early window (compare.train.early_window; a study's)
    curve_samples: int | None = None  # samples per view at each curve point: must equal the final evaluation's N (check_curve_samples)
    resamples: int = RESAMPLES  # bootstrap resamples behind each quality interval and fid_inf (compare.metrics.bootstrap)


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
    if settings.early_curve_points and settings.budget.unit == "s":  # the early window is in steps, unknown before a seconds budget ends
        raise UserError(f"early curve points need a budget of steps, images, epochs or flops, not {settings.budget}")
    if isinstance(settings.resamples, bool) or not isinstance(settings.resamples, int) or settings.resamples < MIN_RESAMPLES:
        raise UserError(f"--resamples must be a whole number of at least {MIN_RESAMPLES}, got {settings.resamples}")
    if settings.checkpoint_every <= 0:
        raise UserError(f"--checkpoint-every must be a positive number of steps, got {settings.checkpoint_every}")
    return resolve_device(settings.device)


def check_seeds(seeds: tuple[int, ...] | list[int]) -> None:
    """Every seed in 0..MAX_SEED, the range `compare run --seed` takes, and at most MAX_SEEDS of them: --seed
    MAX_SEED --seeds 2 would otherwise train seed MAX_SEED + 1, which `run` refuses."""
    if len(seeds) > MAX_SEEDS:
        raise UserError(f"--seeds {len(seeds)} is more than {MAX_SEEDS}, the most one command takes")
    if bad := [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED]:
        raise UserError(f"seed {bad[0]} is outside 0..{MAX_SEED} (the seeds are --seed .. --seed+N-1); lower --seed or --seeds")
