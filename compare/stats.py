"""Statistics over seeds: mean, spread and a 95% interval of the mean, and paired differences.

Seeds are few (3 to 5), so intervals use Student's t distribution rather than a bootstrap: a
percentile bootstrap over 3 values has only 10 distinct resamples and its interval is far too
narrow, while the t interval is exact when the per-seed values are normal (Student 1908).
Two models trained with the same seed share the data order and the held-out split, so their
comparison is paired: the interval is the t interval of the per-seed differences, and a
difference whose interval includes zero is not significant at the 5% level (a paired t-test).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from scipy.stats import t as student_t

LEVEL = 0.95
METHOD = ("Student t 95% interval of the mean over seeds: mean ± t(0.975, n-1) · std / sqrt(n), std with n-1; "
          "differences between models are paired by seed (paired t-test), not significant when the interval includes 0")


def summarize(values: Iterable[float]) -> dict[str, Any]:
    """{"n", "mean", "std", "ci95": [low, high], "values"}; std and ci95 are None for fewer than 2 values."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None, "values": []}
    mean = sum(xs) / n
    if n < 2:
        return {"n": 1, "mean": mean, "std": None, "ci95": None, "values": xs}
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(student_t.ppf(0.5 + LEVEL / 2, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half], "values": xs}


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict[str, Any]:
    """Mean of b - a over the seeds both have, its interval, and whether the interval excludes zero."""
    seeds = sorted(set(a) & set(b))
    diff = summarize(b[s] - a[s] for s in seeds)
    ci = diff["ci95"]
    diff["significant"] = None if ci is None else not (ci[0] <= 0.0 <= ci[1])
    diff["seeds"] = seeds
    return diff


def numeric_leaves(tree: Any, prefix: str = "", skip: tuple[str, ...] = ()) -> dict[str, float]:
    """Every number in a nested dict as {"a.b.c": value}; bools, lists and keys in `skip` are left out."""
    out: dict[str, float] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in skip:
                continue
            out.update(numeric_leaves(value, f"{prefix}{key}.", skip))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool) and math.isfinite(tree):
        out[prefix[:-1]] = float(tree)
    return out
