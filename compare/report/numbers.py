"""The one number formatter of the toolkit: every table, line and report prints numbers through it.

4 significant digits, thousands separators on integers, "n/a" for a missing value; an interval is
always written `value [low, high]` (bootstrap intervals are not symmetric, so no `±`).
"""

from __future__ import annotations

import math
from typing import Sequence

MISSING = "n/a"
ARROWS = {"lower": "↓", "higher": "↑"}  # which way is better, from the registry's Key.better


def fmt(value, digits: int = 4, signed: bool = False) -> str:
    """A number as text: 4 significant digits ("13.21", "0.0264"), integers as "12,345", None as "n/a";
    signed puts "+" before a positive difference. Anything else is shown as it is."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:+,}" if signed else f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:{'+' if signed else ''}.{digits}g}"


def interval(ci: Sequence | None) -> tuple[float, float] | None:
    """A stored interval [low, high] as a pair, or None when it is absent or has a missing end."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or not all(isinstance(x, (int, float)) for x in ci):
        return None
    return float(ci[0]), float(ci[1])


def with_interval(value, ci: Sequence | None, digits: int = 4, signed: bool = False) -> str:
    """"5.5 [5.1, 5.9]": a value and its 95% interval; the value alone when it has none."""
    bounds = interval(ci)
    text = fmt(value, digits, signed)
    return text if bounds is None else f"{text} [{fmt(bounds[0], digits)}, {fmt(bounds[1], digits)}]"
