"""Claim 1's reason, judged: "each pixel is generated separately", so the VAE's samples show bad pixels.

The test is an intervention on that one cause: the same VAE (same encoder, decoder, recipe, budget and seed) trained
once drawing its pixels independently given z (`vae`, view vae-pixels) and once drawing them jointly through a
PixelCNN head (`vae:autoregressive`, view vae:autoregressive-pixels; vae.autoregressive). If independent drawing
causes the bad pixels, the joint draws have fewer: independent minus joint is positive. Both draws are pixel draws, so
the comparison is not confounded with the per-pixel means' blur. The rule is the claims' (compare.claims.rules):
paired per seed, Student t 95% interval, claim 1's minimum effect MARGIN_1, the same four outcomes. The held-out
likelihood difference is context: the two models are matched in budget and size, and a much better joint
likelihood would mean the head also models more than pixel dependence.
"""

from __future__ import annotations

from typing import Mapping

# The claims' shared decision: one rule, not a copy of it.
from compare.claims.readings import NOT_MEASURED, combine_states, paired_reading, reading_state, seed_notes
from compare.claims.rules import ARTIFACT_KEYS, MARGIN_1, Point, Series, Verdict

MECHANISM_1 = "drawing each pixel separately given z causes the VAE's bad pixels (claim 1's reason)"
REASON_1 = "claim 1's reason"  # its short name: the report's heading and the terminal's line
MECHANISM_MODEL = "vae:autoregressive"
INDEPENDENT, JOINT = "vae-pixels", f"{MECHANISM_MODEL}-pixels"
IWAE = "iwae_nll_nats"
RULE_M1 = (f"Independent pixel draws ({INDEPENDENT}) minus joint draws ({JOINT}: the same VAE with a PixelCNN "
           "head, the same budget, recipe and seed) in lone pixels and specks per image, paired over >= 2 seeds "
           f"(Student t 95%): supported when both intervals lie above +{MARGIN_1} per image, not supported when "
           f"both lie below -{MARGIN_1}, no practical difference when both lie inside ±{MARGIN_1}, mixed when they "
           "go both ways, else not decided.")
HOW_M1 = "compare study --mechanisms"


def _view_numbers(metrics: dict, section: str, view: str) -> dict:
    """One view's numbers in a metrics.json section ("quality" or "continuity"); {} when it has none."""
    return (metrics.get(section) or {}).get("views", {}).get(view) or {}


def final_series(view: str, label: str, runs: Mapping[int, dict]) -> Series:
    """{seed: metrics.json} -> one view's final bad-pixel counts per seed (with their per-image intervals)."""
    by_seed = {}
    for seed, metrics in runs.items():
        numbers = _view_numbers(metrics, "continuity", view)
        if numbers and all(numbers.get(k) is not None for k in ARTIFACT_KEYS):
            ci = {k: tuple(numbers[f"{k}_ci95"]) for k in ARTIFACT_KEYS if numbers.get(f"{k}_ci95")}
            by_seed[seed] = [Point(metrics["models"][label].get("steps", 0),
                                   {k: numbers[k] for k in ARTIFACT_KEYS}, ci)]
    return Series(view, by_seed, kind="pixels")


def view_quality(view: str, runs: Mapping[int, dict]) -> dict[str, dict[int, float]]:
    """{"fid": {seed: FID}, "blank_share": {seed: share of images with no ink}} of one view's final samples: what a
    reader needs beside the bad pixels, since an image with no ink has none of them."""
    out: dict[str, dict[int, float]] = {"fid": {}, "blank_share": {}}
    for seed, metrics in runs.items():
        if (value := ((_view_numbers(metrics, "quality", view).get("fid") or {}).get("values")
                      or {}).get("fid")) is not None:
            out["fid"][seed] = value
        if (blank := _view_numbers(metrics, "continuity", view).get("blank_share")) is not None:
            out["blank_share"][seed] = blank
    return out


def heldout_nll(label: str, runs: Mapping[int, dict]) -> dict[int, float]:
    """{seed: held-out IWAE NLL (nats per image)} of the runs that measured it."""
    return {seed: m["likelihood"][label][IWAE] for seed, m in runs.items()
            if (m.get("likelihood") or {}).get(label, {}).get(IWAE) is not None}


def judge_pixel_mechanism(
        independent: Series, joint: Series, nll: Mapping[str, Mapping[int, float]] | None = None,
        quality: Mapping[str, tuple[Mapping[int, float], Mapping[int, float]]] | None = None) -> Verdict:
    """Independent minus joint draws in lone pixels and specks, paired per seed. Context, never deciding: `nll`
    {label: {seed: IWAE NLL}}, and `quality` {"fid" | "blank_share": ({seed: independent}, {seed: joint})}: draws with
    fewer bad pixels but a far worse FID or many blank images say less about the mechanism."""
    numbers = [paired_reading(f"{independent.label} - {joint.label} {key}", joint.values(key), independent.values(key),
                              key, joint.label)
               for key in ARTIFACT_KEYS]
    n = min(x.n for x in numbers)
    if n == 0:
        return Verdict(MECHANISM_1, NOT_MEASURED, RULE_M1,
                       notes=(f"no seed has both {independent.label} and {joint.label} measured",), how=HOW_M1)
    states = [reading_state(x, MARGIN_1) for x in numbers]
    verdict = combine_states(states)
    notes = [f"{n} seeds; paired differences independent minus joint draws: positive means independent "
             "drawing makes more bad pixels",
             *seed_notes(numbers, verdict, MARGIN_1, lambda d: f"{d:.3g} per image")]
    context = ()
    labels = list(nll or {})
    if len(labels) == 2 and (diff := paired_reading(f"held-out IWAE NLL {labels[1]} - {labels[0]} (nats per image)",
                                                  nll[labels[0]], nll[labels[1]], IWAE)).n:
        context = (diff,)
    for key, (ind, joint_values) in (quality or {}).items():
        words = "FID" if key == "fid" else "share of blank images"
        if (diff := paired_reading(f"{words}, {joint.label} - {independent.label}", ind, joint_values, key,
                                   joint.label)).n:
            context += (diff,)
    return Verdict(MECHANISM_1, verdict, RULE_M1, tuple(numbers), n, tuple(notes), context=context)


def mechanism1_from_trials(vae_runs: Mapping[int, dict], joint_runs: Mapping[int, dict]) -> Verdict:
    """{seed: metrics.json} of the `vae` and `vae:autoregressive` trials -> the verdict."""
    nll = {"vae": heldout_nll("vae", vae_runs), MECHANISM_MODEL: heldout_nll(MECHANISM_MODEL, joint_runs)}
    ind, joint = view_quality(INDEPENDENT, vae_runs), view_quality(JOINT, joint_runs)
    return judge_pixel_mechanism(final_series(INDEPENDENT, "vae", vae_runs),
                                 final_series(JOINT, MECHANISM_MODEL, joint_runs), nll,
                                 {key: (ind[key], joint[key]) for key in ind})
