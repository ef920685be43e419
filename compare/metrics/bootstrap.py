"""Bootstrap intervals of the feature-space metrics, over features already extracted, and what each covers.

A single run's FID moves by several units when its samples are drawn again (issue 14: about +-6 at
N = 500). The sets are resampled with replacement, RESAMPLES times from a generator seeded with SEED,
so the same sets always give the same interval; every resample is scored by the metric's weighted
form (compare.metrics.quality), so nothing is extracted again. Which sets are resampled follows the
target (issue 19's coverage measurements):
- `compare run` pins its reference set (the first N train images of a fixed order): the interval is
  for the value at this N against THIS reference, so only the judged set is resampled. Resampling the
  pinned reference too gave FID an SE of 6.8 against a redraw SD of 3.7.
- `compare score` takes two sets a user drew: both are resampled.
The interval is the value plus the 2.5th and 97.5th percentiles of the resamples' deviations from
their mean (Efron & Tibshirani 1993, ch. 13, shifted by the bootstrap's bias estimate, ibid. ch. 10):
a resample repeats images, which inflates FID much as a smaller N would, so plain percentiles sat
almost wholly above the value. It is clipped to the range the value can take (FID >= 0, shares in
[0, 1]); the unbiased KID can be below 0 and is not clipped.

FID also gets `fid_inf`, FID as N -> infinity: the value less the bootstrap's bias estimate of BOTH
sides (a finite reference inflates FID as a finite sample set does, and the large-N value knows no
reference set). Its interval adds each side's resampled deviations, resample by resample: to first
order FID's finite-N bias and variance are sums of one term per side. Issue 19 measured the bias
estimate against the true finite-N bias (10.3 vs 10.7 real vs real, 7.1 vs 6.5 for a GAN at N = 500);
compare.calibrate.coverage measures the interval's coverage of the large-N value.

Two sets of the same sizes get the same resamples: every view of a run (and its real-data floor, at
the same N) is resampled alike, so their intervals differ only through the sets themselves.
"""

from __future__ import annotations

import torch
from torch import Tensor

RESAMPLES = 1000  # Monte Carlo error of a 95% interval's ends: ~0.4 FID units here, against 2-3 with 50
SEED = 0
LEVEL = 0.95
PINNED = "the judged set only (the reference set is pinned)"
BOTH = "both sets"


def resample_weights(n: int, resamples: int, generator: torch.Generator) -> Tensor:
    """(n, resamples) float64 multiplicities: column b counts how often each of n items was drawn in
    the b-th draw of n items with replacement (each column sums to n)."""
    draws = torch.randint(n, (resamples, n), generator=generator)
    counts = torch.zeros(resamples, n, dtype=torch.float64).scatter_add_(
        1, draws, torch.ones(resamples, n, dtype=torch.float64))
    return counts.T


def resample_pair(n_real: int, n_fake: int, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[Tensor, Tensor]:
    """Weights of the reference set (n_real, resamples) and of the judged set (n_fake, resamples)."""
    generator = torch.Generator().manual_seed(seed)
    return resample_weights(n_real, resamples, generator), resample_weights(n_fake, resamples, generator)


def _clip(x: float, bounds: tuple[float | None, float | None]) -> float:
    low, high = bounds
    x = x if low is None else max(x, low)
    return x if high is None else min(x, high)


def around(centre: float, deviations: Tensor, bias: float,
           bounds: tuple[float | None, float | None] = (None, None)) -> dict:
    """{"ci95", "se", "bias", "resamples"}: `centre` plus the percentiles of the resamples' `deviations`
    from their mean, clipped to `bounds` (the value's range)."""
    low, high = torch.quantile(deviations,
                               torch.tensor([(1 - LEVEL) / 2, (1 + LEVEL) / 2], dtype=deviations.dtype)).tolist()
    return {"ci95": [_clip(centre + low, bounds), _clip(centre + high, bounds)], "se": deviations.std().item(),
            "bias": bias, "resamples": len(deviations)}


def interval(values: Tensor, value: float, bounds: tuple[float | None, float | None] = (None, None)) -> dict | None:
    """The interval of the full sets' `value` from its resampled values (B,); None when any is NaN (no value)."""
    if values.isnan().any() or value != value:
        return None
    return around(value, values - values.mean(), values.mean().item() - value, bounds)


def large_n(value: float, judged: Tensor, reference: Tensor) -> tuple[float, dict] | tuple[None, None]:
    """(fid_inf, its interval) from the FIDs of resamples of the judged set (reference whole) and of
    resamples of the reference set (judged set whole), (B,) each; (None, None) when any is NaN."""
    if judged.isnan().any() or reference.isnan().any() or value != value:
        return None, None
    bias = judged.mean().item() + reference.mean().item() - 2 * value
    deviations = (judged - judged.mean()) + (reference - reference.mean())
    return max(0.0, value - bias), around(value - bias, deviations, bias, (0.0, None))
