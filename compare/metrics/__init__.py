"""Metric registry: every metric the runner, `compare score` and the report compute, by name, in one place.

Each metric is a pure function of tensors returning a dict of named numbers.
- space "features": fn(real, fake) on evaluator features / class probabilities (see compare.metrics.quality).
- space "pixels":   fn(images) on raw pixels in [0, 1]; reported beside the real set's value (see compare.metrics.continuity).
`better` says, per returned key, whether "lower" or "higher" is better (the report's arrows);
keys not listed are shown without an arrow. A features metric is called as
fn(*(sets[name] for name in inputs), **params); `params` (k) go into its protocol. One with a
`weighted` form also gets a bootstrap interval on each of its numbers (compare.metrics.scoring).
"""

from __future__ import annotations

from compare.metrics.continuity import CONTINUITY_METRICS
from compare.metrics.quality import QUALITY_METRICS
from compare.metrics.registry import Metric

# Quality first: the order tables list them in.
METRICS: dict[str, Metric] = {**QUALITY_METRICS, **CONTINUITY_METRICS}

__all__ = ["METRICS", "Metric"]
