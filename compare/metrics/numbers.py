"""The one number formatter of the toolkit: every table, line, figure and report prints numbers through `fmt`.

A value with its 95% interval is written `value [low, high]` (bootstrap intervals are not symmetric, so no `±`), all
three rounded to one decimal place: that of the second significant digit of the interval's half-width, the usual "at
most two significant digits of an uncertainty" (GUM 7.2.6), so no digit is shown that the interval says is noise:
"0.026 [0.014, 0.042]", "49,500 [41,200, 59,300]", "93 [78, 104]". A value alone keeps 3 significant digits and its
whole part ("0.971", "8.76", "1,470"); integers (counts) are exact. Thousands separators throughout; e-notation only
outside [1e-3, 1e9), where a fixed point would print a row of zeros; "n/a" for a missing value.
"""

from __future__ import annotations

import math
from typing import Sequence

MISSING = "n/a"
ARROWS = {"lower": "↓", "higher": "↑"}  # which way is better, from the registry's Key.better
SIGNIFICANT = 3  # digits of a value without an interval
INTERVAL_DIGITS = 2  # significant digits of the half-width that set the decimal place of a value with an interval
PLAIN = (1e-3, 1e9)  # magnitudes printed in fixed point


def interval(ci: Sequence | None) -> tuple[float, float] | None:
    """A stored interval [low, high] as a pair, or None when it is absent or has a missing end."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or not all(isinstance(x, (int, float)) for x in ci):
        return None
    return float(ci[0]), float(ci[1])


def _place(x: float, digits: int) -> int:
    """The power of ten of the last of `digits` significant digits of x (x != 0): 25.7, 2 -> 0; 0.014, 2 -> -3."""
    return math.floor(math.log10(abs(x))) - digits + 1


def _plain(*xs: float) -> bool:
    """Whether fixed point suits these numbers: the largest magnitude inside PLAIN (or every one zero)."""
    top = max(abs(x) for x in xs)
    return top == 0 or PLAIN[0] <= top < PLAIN[1]


def _fixed(x: float, place: int, sign: str) -> str:
    rounded = round(x, -place) + 0.0  # + 0.0: -0.0 (a small negative rounded away) prints as "0"
    return f"{rounded:{sign},.{max(0, -place)}f}"


def _alone(value, sign: str) -> str:
    """One number without an interval (see the module's rules)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:{sign},}"
    if math.isinf(value):
        return "-∞" if value < 0 else ("+∞" if sign else "∞")
    if not _plain(value):
        return f"{value:{sign}.{SIGNIFICANT}g}"
    return _fixed(value, min(_place(value, SIGNIFICANT), 0) if value else 0, sign)


def parts(value, ci: Sequence | None = None, signed: bool = False) -> tuple[str, str | None, str | None]:
    """fmt's three texts: the value, its interval's low and high end (None without an interval), for a sentence that
    puts words between them ("5.4 fewer lone pixels per image than the GAN [5.1, 5.6]")."""
    sign = "+" if signed else ""
    bounds = interval(ci)
    if bounds is None or not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return _alone(value, sign), None, None
    low, high = bounds
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return _alone(value, sign), _alone(low, ""), _alone(high, "")  # no finite width to round to
    if not _plain(value, low, high):  # all three in e-notation, never one of them alone
        return f"{value:{sign}.{SIGNIFICANT}g}", f"{low:.{SIGNIFICANT}g}", f"{high:.{SIGNIFICANT}g}"
    half = float(f"{(high - low) / 2:.12g}")  # 5.01 - 4.99 is 0.0199999...: its float error must not add a digit
    place = _place(half, INTERVAL_DIGITS)
    return _fixed(value, place, sign), _fixed(low, place, ""), _fixed(high, place, "")


def fmt(value, ci: Sequence | None = None, signed: bool = False) -> str:
    """A number as text, with its 95% interval [low, high] when ci is given: "92.9", "0.026 [0.014, 0.042]",
    "12,345", "n/a". signed puts "+" before a positive value (a difference). Anything else is shown as it is."""
    text, low, high = parts(value, ci, signed)
    return text if low is None else f"{text} [{low}, {high}]"


def times(value, ci: Sequence | None = None) -> str:
    """A ratio with its interval as a multiple: "1.9x [1.5x, 2.4x]" (the "x" on every end, so no end
    reads as a count)."""
    text, low, high = parts(value, ci)
    return f"{text}x" if low is None else f"{text}x [{low}x, {high}x]"
