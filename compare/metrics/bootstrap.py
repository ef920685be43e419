"""Bootstrap intervals of the feature-space metrics of one run, over features already extracted.

A single run's FID moves by several units when its samples or its reference subset are drawn again
(issue 14: about +-6 at N = 500). Both sets are therefore resampled with replacement, RESAMPLES
times from a generator seeded with SEED, so the same sets always give the same interval; every
resample is scored by the metric's weighted form (compare.metrics.quality), so nothing is extracted again.
The interval is the 2.5th to 97.5th percentile of the resampled values (Efron & Tibshirani 1993,
ch. 13) shifted by the bootstrap's estimate of its own bias (mean of the resamples minus the value,
ibid. ch. 10): a resample repeats images, which inflates FID much as a smaller N would, so plain
percentiles sat almost wholly above the value at N = 180. The standard error is the resamples' spread.

Two sets of the same sizes get the same resamples: every view of a run (and its real-data floor,
at the same N) is resampled alike, so their intervals differ only through the sets themselves.
"""

from __future__ import annotations

import torch
from torch import Tensor

RESAMPLES = 50
SEED = 0
LEVEL = 0.95
METHOD = (f"bias-corrected percentile bootstrap, {RESAMPLES} resamples (seed {SEED}) of both the judged set and the "
          "reference set")


def resample_weights(n: int, resamples: int, generator: torch.Generator) -> Tensor:
    """(n, resamples) float64 multiplicities: column b counts how often each of n items was drawn in
    the b-th draw of n items with replacement (each column sums to n)."""
    draws = torch.randint(n, (resamples, n), generator=generator)
    counts = torch.zeros(resamples, n, dtype=torch.float64).scatter_add_(1, draws, torch.ones(resamples, n, dtype=torch.float64))
    return counts.T


def resample_pair(n_real: int, n_fake: int, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[Tensor, Tensor]:
    """Weights of the reference set (n_real, resamples) and of the judged set (n_fake, resamples)."""
    generator = torch.Generator().manual_seed(seed)
    return resample_weights(n_real, resamples, generator), resample_weights(n_fake, resamples, generator)


def interval(values: Tensor, value: float) -> dict | None:
    """{"ci95": [low, high], "se": .., "bias": .., "resamples": B} of resampled values (B,) around the full
    sets' `value`; None when any is NaN (no value)."""
    if values.isnan().any() or value != value:
        return None
    bias = values.mean().item() - value
    low, high = torch.quantile(values, torch.tensor([(1 - LEVEL) / 2, (1 + LEVEL) / 2], dtype=values.dtype)).tolist()
    return {"ci95": [low - bias, high - bias], "se": values.std().item(), "bias": bias, "resamples": len(values)}
