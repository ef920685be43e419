"""How every claim's readings become its verdict: one decision, stated in compare.claims.rules, shared by all its rules.

paired_reading makes a deciding reading (a paired difference over seeds with its Student t 95% interval),
reading_state places its interval against the rule's minimum effect ("for", "against", "within" or "open"),
combine_states turns the states into one of VERDICTS, and seed_notes says what the seeds could and could not decide.
"""

from __future__ import annotations

import statistics
from typing import Callable, Mapping, Sequence

from compare.metrics import key_info
from compare.claims.types import Number
from compare.stats import classify, detectable_difference, paired_difference, seeds_needed, zero_width

SUPPORTED, NOT_SUPPORTED, MIXED, NOT_DECIDED, NOT_MEASURED = ("supported", "not supported", "mixed", "not decided",
                                                              "not measured")
NO_PRACTICAL_DIFFERENCE = "no practical difference"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, MIXED, NO_PRACTICAL_DIFFERENCE, NOT_DECIDED, NOT_MEASURED)
ONE_SEED = "not decided: one seed"
ONE_SEED_WHY = ("a claim about a model family needs the spread between training seeds (`compare study "
                "--seeds 5` measures it)")


def paired_reading(name: str, base: Mapping[int, float], other: Mapping[int, float], key: str = "",
                   subject: str = "") -> Number:
    """other - base paired by seed, with the Student t 95% interval over seeds (compare.stats)."""
    d = paired_difference(base, other)
    return Number(name, d["mean"], tuple(d["ci95"]) if d["ci95"] else None, d["n"], tuple(d["values"]),
                  seeds=tuple(d["seeds"]), key=key, subject=subject)

def reading_state(number: Number, margin: float) -> str:
    """A deciding reading against its minimum effect: "for", "against", "within" the margin, or "open"
    (compare.stats.classify)."""
    return classify(number.mean, number.ci95, number.n, margin)


def combine_states(states: Sequence[str], deciding: Sequence[str] | None = None) -> str:
    """The shared verdict rule: mixed when readings go both ways; supported when every deciding reading is "for",
    not supported when every one is "against"; no practical difference when every deciding reading is within the
    margin and none at all is decided; else not decided. deciding defaults to every reading."""
    deciding = states if deciding is None else deciding
    if "for" in states and "against" in states:
        return MIXED
    for state, verdict in (("for", SUPPORTED), ("against", NOT_SUPPORTED)):
        if deciding and all(s == state for s in deciding):
            return verdict
    if deciding and all(s == "within" for s in deciding) and not {"for", "against"} & set(states):
        return NO_PRACTICAL_DIFFERENCE
    return NOT_DECIDED


def seed_notes(deciding: Sequence[Number], verdict: str, margin: float, show: Callable[[float], str]) -> list[str]:
    """One seed: not decided; two: too few, with the seeds this spread needs; a "not decided": the smallest true
    difference the design decides with 80% power (5% two-sided, at the measured seed spread): the margin, which the
    interval must clear, plus compare.stats.detectable_difference."""
    n = min((x.n for x in deciding), default=0)
    if n == 1:
        return [ONE_SEED, ONE_SEED_WHY]
    flat = [x for x in deciding if x.n >= 2 and zero_width(x.ci95)]
    notes = ["identical per-seed values: no spread measured, so they decide nothing"] if flat else []
    spread = [(x, statistics.stdev(x.values)) for x in deciding if x.n >= 2 and x not in flat]
    if n == 2:
        need = [seeds_needed(sd, margin) for _, sd in spread]
        seeds = "over 1,000" if None in need else max(need, default=None)
        at = (f"; at this spread {seeds} seeds would decide a true difference of {show(2 * margin)} (twice the minimum "
              "effect) with 80% power"
              if need else "")
        notes.append(f"2 seeds are too few: the interval's t(0.975, 1) is 12.7 against 4.3 with 3 seeds{at}")
    if verdict == NOT_DECIDED and spread:
        found = [(x, margin + detectable_difference(sd, x.n)) for x, sd in spread]
        what = (f"{show(min(d for _, d in found))} to {show(max(d for _, d in found))} across {len(found)} readings"
                if len(found) > 2
                else ", ".join(f"{key_info(x.key).name(x.key) if x.key else x.name}: {show(d)}" for x, d in found))
        notes.append("smallest true difference this design decides (80% power, 5% two-sided, at the "
                     f"measured seed spread): {what}")
    return notes
