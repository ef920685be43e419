"""The Metric record every registered metric is described by (compare.metrics holds the registry itself)."""

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
    # one value per column of multiplicity weights (see compare.metrics.quality, compare.metrics.bootstrap)
    weighted: Callable[..., dict] | None = None
