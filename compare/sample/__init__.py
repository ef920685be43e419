"""The sample stage: one draw per view of every trained model, reused by every consumer.

The grid takes the first GRID_SAMPLES of a view, the continuity metrics as many as there are
held-out real images, the quality metrics the first n_eval: one fixed-noise draw serves them all.
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.models import ModelSpec
from compare.protocol import GenerativeModel

GRID_SAMPLES = 64
SAMPLE_SEED_OFFSET = 10_000  # fixed-noise stream for grids, apart from every training stream


def samples_per_view(n_eval: int, n_heldout: int) -> int:
    """How many samples a run draws per view: enough for the grid, the continuity metrics (one per
    held-out image) and the quality metrics, each taking the first ones it needs of that one draw."""
    return max(GRID_SAMPLES, n_heldout, n_eval)


def drawable_views(spec: ModelSpec, model: GenerativeModel) -> dict[str, dict[str, str]]:
    """The spec's views the model can draw now: a view of a prior fitted after training (the VAE's vae-gmm) only
    once it has one, so a curve point during training, or a checkpoint from before the view existed, leaves it out."""
    can_sample = getattr(model, "can_sample", None)
    return {view: kwargs for view, kwargs in spec.views().items()
            if can_sample is None or can_sample(kwargs.get("mode", ""))}


def sample_views(spec: ModelSpec, model: GenerativeModel, n: int, seed: int) -> dict[str, Tensor]:
    """n samples of every view the model can draw (drawable_views), each view from the same fixed noise seed."""
    return {
        view: model.sample(n, generator=torch.Generator().manual_seed(seed + SAMPLE_SEED_OFFSET), **kwargs).cpu()
        for view, kwargs in drawable_views(spec, model).items()
    }
