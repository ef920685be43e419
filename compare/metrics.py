"""Metric registry: every metric the runner, `compare score` and the report compute, by name, in one place.

Each metric is a pure function of tensors returning a dict of named numbers.
- space "features": fn(real, fake) on evaluator features / class probabilities (see compare.quality).
- space "pixels":   fn(images) on raw pixels in [0, 1]; reported beside the real set's value (see compare.continuity).
`better` says, per returned key, whether "lower" or "higher" is better (the report's arrows);
keys not listed are shown without an arrow. A features metric is called as
fn(*(sets[name] for name in inputs), **params); `params` (k) go into its protocol. One with a
`weighted` form also gets a bootstrap interval on each of its numbers (compare.evaluate).
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
    inputs: tuple[str, ...] = ()  # features metrics: which named feature sets fn takes, in order
    params: dict[str, int] = field(default_factory=dict)  # keyword arguments of fn, recorded in the protocol
    # features metrics with a bootstrap: weighted(real, fake, w_real, w_fake, **params) -> {key: (C,) tensor},
    # one value per column of multiplicity weights (see compare.quality, compare.bootstrap)
    weighted: Callable[..., dict] | None = None


METRICS: dict[str, Metric] = {}

# Importing the metric modules fills METRICS; they import Metric and METRICS above, so this comes last.
import compare.quality  # noqa: E402,F401
import compare.continuity  # noqa: E402,F401
