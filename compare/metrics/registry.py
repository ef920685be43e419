"""The Metric record every registered metric is described by (compare.metrics holds the registry itself)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

GROUPS = ("quality", "bad pixels", "blur")  # the report's tables, in order: a metric's `group` names its table
SECTIONS = {"features": "quality", "pixels": "continuity"}  # where a view's numbers of each space live ("quality.fid")


@dataclass(frozen=True)
class Key:
    """How every table shows one number a metric returns: the one place its presentation is defined."""

    better: str = ""  # "lower" | "higher" | "": no better value of its own (blur: the real images' value is the target)
    unit: str = ""  # in words, shown beside its name: "per image", "share of images", "nats"
    headline: bool = False  # a headline number: the report says whose intervals overlap
    # the range the value can take: its interval is clipped to it
    bounds: tuple[float | None, float | None] = (None, None)
    # its name in words in every table, line and figure (the key stays in metrics.json and the HTML's tooltips)
    label: str = ""
    at_n: bool = False  # its value depends on the set size N (FID's bias): a table names the N ("FID at N = 500")
    # the same for every set compared (a property of the real data): metrics.json keeps it, no table row
    constant: bool = False

    def name(self, key: str, n: int | None = None) -> str:
        """The row's name: the label (at N = n where the value depends on it), the key itself where there is none."""
        text = self.label or key
        return f"{text} at N = {n}" if self.at_n and n is not None else text


@dataclass(frozen=True)
class Metric:
    space: str  # "features" | "pixels"
    fn: Callable[..., dict[str, float]]
    description: str
    # The numbers a table shows, in order, each with its presentation; keys fn returns that are not
    # listed are shown without arrow or unit. A pixels metric may list a key computed beside fn
    # against the reference set (the spectrum's "spectrum_distance", see compare.metrics.continuity).
    keys: dict[str, Key] = field(default_factory=dict)
    group: str = "quality"  # one of GROUPS
    inputs: tuple[str, ...] = ()  # features metrics: which named feature sets fn takes, in order
    params: dict[str, int] = field(default_factory=dict)  # keyword arguments of fn, recorded in the protocol
    # features metrics with a bootstrap: weighted(real, fake, w_real, w_fake, **params) -> {key: (C,) tensor},
    # one value per column of multiplicity weights (see compare.metrics.quality, compare.stats)
    weighted: Callable[..., dict] | None = None
    extractor_params: tuple[str, ...] = ()  # keyword arguments of fn taken from the extractor's info (KID's feature_sd)

    @property
    def better(self) -> dict[str, str]:
        """{key: "lower" | "higher"} for the keys that have a better direction."""
        return {k: key.better for k, key in self.keys.items() if key.better}
