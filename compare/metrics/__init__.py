"""Metric registry: every metric the runner, `compare score` and the report compute, by name, in one place.

Each metric is a pure function of tensors returning a dict of named numbers.
- space "features": fn(real, fake) on evaluator features / class probabilities (see compare.metrics.quality).
- space "pixels":   fn(images) on raw pixels in [0, 1]; reported beside the real set's value (see
                    compare.metrics.continuity).
`keys` says, per returned key, how every table shows it (compare.metrics.registry.Key: better direction,
unit, headline) and `group` which table it is in; keys not listed are shown without arrow or unit. A
features metric is called as fn(*(sets[name] for name in inputs), **params); `params` (k) go into its
protocol. One with a `weighted` form also gets a bootstrap interval on each of its numbers
(compare.metrics.scoring).
"""

from __future__ import annotations

from compare.metrics.continuity import CONTINUITY_METRICS
from compare.metrics.quality import QUALITY_METRICS
from compare.metrics.registry import GROUPS, SECTIONS, Key, Metric

# Quality first: the order tables list them in.
METRICS: dict[str, Metric] = {**QUALITY_METRICS, **CONTINUITY_METRICS}


def keys_of(group: str) -> dict[str, Key]:
    """Every key the metrics of one group (compare.metrics.registry.GROUPS) show, in registry order."""
    return {k: key for metric in METRICS.values() if metric.group == group for k, key in metric.keys.items()}


def key_info(key: str) -> Key:
    """How a key is shown; a key no metric lists (a count in metrics.json, a loss) gets the plain Key()."""
    for metric in METRICS.values():
        if key in metric.keys:
            return metric.keys[key]
    return Key()


def label_of(key: str, n: int | None = None) -> str:
    """A key in words with its unit: "lone pixels per image", "precision (share of samples)", "FID" ("FID at N = n"
    given the set size); a key no metric lists, as it is."""
    info = key_info(key)
    name = info.name(key, n)
    if not info.unit:
        return name
    return f"{name} {info.unit}" if info.unit.startswith("per ") else f"{name} ({info.unit})"


__all__ = ["GROUPS", "METRICS", "SECTIONS", "Key", "Metric", "key_info", "keys_of", "label_of"]
