"""Metric registry: every metric the runner, `compare score` and the report compute, by name, in one place.

Each metric is a pure function of tensors returning a dict of named numbers.
- space "features": fn(real, fake) on evaluator features / class probabilities (see compare.quality).
- space "pixels":   fn(images) on raw pixels in [0, 1]; reported beside the real set's value (see compare.continuity).
`better` says, per returned key, whether "lower" or "higher" is better (the report's arrows);
keys not listed are shown without an arrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Metric:
    space: str  # "features" | "pixels"
    fn: Callable[..., dict[str, float]]
    description: str
    better: dict[str, str] = field(default_factory=dict)


METRICS: dict[str, Metric] = {}
