"""The source text's three claims, judged from structured results over seeds under rules stated beside them.

    judge_claim1(Claim1Input(gan, vae_views))          VAE minus GAN in lone pixels and specks per image
    judge_claim2([SizeSweep, ...])                     parameters each family needs per FID target
    judge_claim3(Claim3Input(nonsaturating, minimax, budget_steps, fid_threshold))   early quality curves
    claim1_along_budget / claim3_along_budget          the same at every curve point -> [BudgetPoint]
Each returns a Verdict (claim, one of VERDICTS, the rule in one sentence, Numbers with 95% intervals, n seeds,
notes, the command that measures it when not measured; to_json() for study.json). The dataclasses live in
compare.report.claim_types and are re-exported here; compare.report.claim_inputs builds them from run files.

Every reading is signed so that a positive value favours the claim, and a reading decides only when its
interval excludes zero: no ratio thresholds, so a zero on either side is just a value. Families are
recognised through compare.models (any gan:* is a GAN, any vae label or view a VAE), never by label.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from compare.report.numbers import fmt
from compare.report.claim_types import (
    BudgetPoint, Claim1Input, Claim3Input, Need, Number, Point, Series, SizeSweep, TargetRow, Verdict, WidthResult, family_of,
    view_kind,
)
from compare.stats import paired_difference, summarize

__all__ = [  # the API a study or report uses; the types are defined in compare.report.claim_types
    "BudgetPoint", "Claim1Input", "Claim3Input", "Need", "Number", "Point", "Series", "SizeSweep", "TargetRow", "Verdict", "WidthResult",
    "family_of", "view_kind", "judge_claim1", "judge_claim2", "judge_claim3", "claim1_along_budget", "claim3_along_budget", "steps_to_reach",
    "LONE_PIXELS", "SPECKS", "ARTIFACT_KEYS", "FID", "KID", "CONFIDENCE", "VERDICTS", "SUPPORTED", "NOT_SUPPORTED", "MIXED", "NOT_DECIDED",
    "NOT_MEASURED", "CLAIM_1", "CLAIM_2", "CLAIM_3", "RULE_1", "RULE_2", "RULE_3", "RULE_3_POINT", "HOW", "THRESHOLD_FLOOR_FACTOR",
    "EARLY_FRACTION", "MIN_EARLY_POINTS",
]

# Metric keys (renamed in one place if the metrics change their names).
LONE_PIXELS, SPECKS = "lone_pixels_per_image", "specks_per_image"  # per image, lower is better
ARTIFACT_KEYS = (LONE_PIXELS, SPECKS)
FID, KID, CONFIDENCE = "fid", "kid_x1e3", "mean_confidence"  # FID, KID lower is better; confidence higher

SUPPORTED, NOT_SUPPORTED, MIXED, NOT_DECIDED, NOT_MEASURED = "supported", "not supported", "mixed", "not decided", "not measured"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, MIXED, NOT_DECIDED, NOT_MEASURED)

CLAIM_1 = "VAE samples show discontinuous bad pixels (each pixel is generated separately given z)"
CLAIM_2 = "a VAE needs a larger network than a GAN for the same sample quality"
CLAIM_3 = "the flipped-label generator loss learns faster at the start than log(1 - D(G(z)))"

EARLY_FRACTION = 0.2  # "at the start": the first 20% of the budget
MIN_EARLY_POINTS = 6  # curve points per loss in that stretch, so a mean over them is not one noisy evaluation
THRESHOLD_FLOOR_FACTOR = 20  # claim 3's quality threshold: 20x the real-data floor FID, fixed before any result
N_TARGETS, RESAMPLES, BOOTSTRAP_SEED = 8, 2000, 0  # claim 2
NEEDS_SEEDS = "needs >= 2 seeds for an interval (`compare study --seeds 3` measures them)"
ONE_SEED = ("one seed: the intervals cover which images were drawn (per-image bootstrap), not the spread "
            "between training seeds (`compare study --seeds 3` measures it)")
MOVER = "one seed: the two per-image bootstrap intervals combined (MOVER, Zou & Donner 2008)"
ADAM_NOTE = ("context only: Adam's update m/sqrt(v) is invariant to the loss's scale (Kingma & Ba 2015, sec. 2), "
             "so a larger gradient norm does not mean faster learning")
HOW = {CLAIM_1: "compare study (or compare run --models gan vae: the continuity measures are part of every run)",
       CLAIM_2: "compare study --widths 0.25,0.5,1,2 --seeds 3 (or compare sweep --models gan vae --widths ... --seeds 3)",
       CLAIM_3: "compare study (its curve schedule evaluates >= 6 points in the first 20% of the budget for gan and gan:minimax)"}


def _difference(name: str, base: Mapping[int, float], other: Mapping[int, float], key: str = "", subject: str = "") -> Number:
    """other - base paired by seed, with the Student t 95% interval over seeds (compare.stats)."""
    d = paired_difference(base, other)
    return Number(name, d["mean"], tuple(d["ci95"]) if d["ci95"] else None, d["n"], tuple(d["values"]), seeds=tuple(d["seeds"]),
                  key=key, subject=subject)


def _summary(name: str, by_seed: Mapping[int, float], key: str) -> Number:
    """The mean over seeds with its Student t 95% interval (compare.stats)."""
    st = summarize(by_seed[s] for s in sorted(by_seed))
    return Number(name, st["mean"], tuple(st["ci95"]) if st["ci95"] else None, st["n"], tuple(st["values"]), seeds=tuple(sorted(by_seed)), key=key)


def _sign(number: Number) -> int:
    """+1 when the 95% interval lies above zero (the reading favours the claim), -1 below, 0 when it includes zero or is missing."""
    if number.ci95 is None:
        return 0
    return 1 if number.ci95[0] > 0 else -1 if number.ci95[1] < 0 else 0


def _combine(signs: Sequence[int], deciding: Sequence[int] | None = None) -> str:
    """The shared verdict rule: supported when every deciding reading favours the claim and none goes against
    it; not supported when every deciding reading goes against and none favours; mixed when readings go
    both ways; else not decided. deciding defaults to every reading."""
    deciding = signs if deciding is None else deciding
    if 1 in signs and -1 in signs:
        return MIXED
    if deciding and all(s == 1 for s in deciding):
        return SUPPORTED
    if deciding and all(s == -1 for s in deciding):
        return NOT_SUPPORTED
    return NOT_DECIDED


def _check_family(series: Series, family: str) -> None:
    if family_of(series.label) != family:  # a wiring mistake, not a user's: the study picks series by family
        raise ValueError(f"{series.label!r} is not a {family} (compare.models knows it as {family_of(series.label)!r})")


# ---- claim 1: VAEs show discontinuous bad pixels ----

RULE_1 = ("Supported when, for the VAE's per-pixel means, the 95% interval of VAE minus GAN (paired by seed) lies above "
          "zero for both lone pixels and specks per image and no reading lies below; not supported when both lie below "
          "and none above; mixed when readings (e.g. the pixel draws against the means) lie on both sides; else not decided.")


def _mover(name: str, vae: Point, gan: Point, key: str, seed: int, subject: str) -> Number:
    """One seed's VAE minus GAN with the per-image bootstrap intervals of each side combined by MOVER
    (Zou & Donner 2008): each end moves by the root sum of squares of the two sides' distances to their ends."""
    v, g = vae.values[key], gan.values[key]
    (v_lo, v_hi), (g_lo, g_hi) = vae.ci95[key], gan.ci95[key]
    d = v - g
    ci = (d - math.hypot(v - v_lo, g_hi - g), d + math.hypot(v_hi - v, g - g_lo))
    return Number(name, d, ci, 1, (d,), MOVER, (seed,), key, subject)


def judge_claim1(data: Claim1Input, steps: int | None = None) -> Verdict:
    """Claim 1 at the end of the budget (or at `steps`), from paired per-seed differences VAE minus GAN."""
    _check_family(data.gan, "gan")
    for view in data.vae_views:
        _check_family(view, "vae")
    means = [v for v in data.vae_views if v.view == "mean"]
    gan = data.gan.at(steps)
    missing = [s.label for s in (data.gan, *data.vae_views) if not all(s.values(k, steps) for k in ARTIFACT_KEYS)]
    if not means or missing:
        why = (f"no {' / '.join(ARTIFACT_KEYS)} for {', '.join(missing)}" if missing
               else "no VAE per-pixel-means view (the VAE's usual output decides)")
        return Verdict(CLAIM_1, NOT_MEASURED, RULE_1, notes=(why,), how=HOW[CLAIM_1])
    numbers, deciding = [], []
    for view in data.vae_views:
        points = view.at(steps)
        for key in ARTIFACT_KEYS:
            name = f"{view.label} - {data.gan.label} {key}"
            number = _difference(name, data.gan.values(key, steps), view.values(key, steps), key, view.label)
            if number.n == 1 and all(key in p.ci95 for p in (points[number.seeds[0]], gan[number.seeds[0]])):
                seed = number.seeds[0]
                number = _mover(name, points[seed], gan[seed], key, seed, view.label)
            numbers.append(number)
            if view.view == "mean":
                deciding.append(_sign(number))
    n = min(x.n for x in numbers)
    if n == 0:
        return Verdict(CLAIM_1, NOT_MEASURED, RULE_1, notes=("no seed has both the GAN and every VAE view measured",), how=HOW[CLAIM_1])
    notes = [f"{n} seeds; paired differences VAE minus GAN; the per-pixel means decide, the pixel draws can make it mixed"]
    if n == 1:
        notes.append(ONE_SEED if all(x.ci95 for x in numbers) else f"not decided: {NEEDS_SEEDS} (or per-image bootstrap intervals)")
    return Verdict(CLAIM_1, _combine([_sign(x) for x in numbers], deciding), RULE_1, tuple(numbers), n, tuple(notes))


# ---- claim 3: the flipped-label loss learns faster at the start ----

RULE_3 = ("Supported when every early reading (mean log FID, mean KID and mean confidence over the first 20% of the "
          "budget, and steps to the FID threshold) favours the flipped-label loss with a 95% interval over seeds excluding "
          "zero; not supported when every reading favours minimax; mixed when significant readings go both ways; else not decided.")
RULE_3_POINT = ("At each curve point: supported when log FID, KID and confidence all favour the flipped-label loss with "
                "intervals excluding zero, not supported when all favour minimax, mixed when both ways, else not decided.")


def steps_to_reach(points: Sequence[Point], threshold: float, budget_steps: int) -> tuple[float, bool]:
    """(steps, censored): the first crossing of FID <= threshold, linear in log FID between curve points;
    a curve that never reaches it is censored at the budget; one that starts below it counts its first point."""
    previous = None
    for p in sorted(points, key=lambda p: p.steps):
        f = p.values.get(FID)
        if f is None:
            continue
        if f <= threshold:
            if previous is None:
                return float(p.steps), False
            s0, f0 = previous
            return s0 + (math.log(threshold) - math.log(f0)) / (math.log(f) - math.log(f0)) * (p.steps - s0), False
        previous = (p.steps, f)
    return float(budget_steps), True


def _early_mean(series: Series, key: str, steps: list[int], log: bool = False) -> dict[int, float]:
    """seed -> mean of the key (or of its log) over the given steps; seeds missing a value there are left out."""
    out = {}
    for seed in series.by_seed:
        xs = [series.values(key, s).get(seed) for s in steps]
        if all(x is not None for x in xs):
            out[seed] = float(np.mean(np.log(xs) if log else xs))
    return out


def _quality_readings(values: Mapping[str, Mapping[str, Mapping[int, float]]], ns: str, mm: str, where: str) -> list[Number]:
    """values {label: {FID: seed -> log FID, KID: .., CONFIDENCE: ..}} -> the readings both losses have, each signed so
    that positive favours nonsaturating: log FID and KID minimax - nonsaturating, confidence nonsaturating - minimax."""
    readings = []
    for key, name, higher_better in ((FID, "log fid", False), (KID, KID, False), (CONFIDENCE, CONFIDENCE, True)):
        a, b = values[ns][key], values[mm][key]
        if a and b:
            order = "nonsaturating - minimax" if higher_better else "minimax - nonsaturating"
            readings.append(_difference(f"{name}{where}: {order}", *((b, a) if higher_better else (a, b)), key=key))
    return readings


def judge_claim3(data: Claim3Input) -> Verdict:
    """Claim 3 from the early curves and the steps to the threshold, each paired per seed."""
    ns, mm = data.nonsaturating, data.minimax
    for series in (ns, mm):
        _check_family(series, "gan")
    context = tuple(_summary(f"{label} mean early generator gradient norm", v, "gradnorm") for label, v in data.grad_norms.items() if v)
    notes = [ADAM_NOTE] if context else []
    early = sorted(s for s in ns.steps() & mm.steps() if 0 < s <= EARLY_FRACTION * data.budget_steps)
    if len(early) < MIN_EARLY_POINTS:
        few = f"curve points both losses share in the first {EARLY_FRACTION:.0%} of {data.budget_steps} steps: {len(early)}"
        return Verdict(CLAIM_3, NOT_MEASURED, RULE_3, notes=(f"{few}; the rule needs {MIN_EARLY_POINTS}", *notes),
                       how=HOW[CLAIM_3], context=context)
    values = {s.label: {FID: _early_mean(s, FID, early, log=True), KID: _early_mean(s, KID, early),
                        CONFIDENCE: _early_mean(s, CONFIDENCE, early)} for s in (ns, mm)}
    readings = _quality_readings(values, ns.label, mm.label, f" mean over {len(early)} early points")
    notes.insert(0, f"early: {len(early)} points, steps {early[0]}-{early[-1]} of {data.budget_steps}")
    if data.fid_threshold is None:
        notes.append("steps to a threshold not read: no FID threshold given")
    else:
        reach = {s.label: {seed: steps_to_reach(pts, data.fid_threshold, data.budget_steps) for seed, pts in s.by_seed.items()}
                 for s in (ns, mm)}
        steps = _difference(f"steps to FID <= {fmt(data.fid_threshold)}: minimax - nonsaturating",
                            {k: v[0] for k, v in reach[ns.label].items()}, {k: v[0] for k, v in reach[mm.label].items()}, "steps")
        censored = {label: sum(c for _, c in r.values()) for label, r in reach.items()}
        notes.append(f"threshold FID {fmt(data.fid_threshold)} {data.threshold_note}".rstrip() + "; censored at the budget "
                     "(never reached): " + ", ".join(f"{label} {c} of {len(reach[label])} seeds" for label, c in censored.items()))
        if all(c == len(reach[label]) for label, c in censored.items()):  # every value is the budget: no information
            notes.append("steps to the threshold left out of the verdict: neither loss reaches it on any seed")
            context += (steps,)
        else:
            readings.append(steps)
    missing = [k for k in (FID, KID, CONFIDENCE) if not (values[ns.label][k] and values[mm.label][k])]
    if missing:
        notes.append(f"not measured on every early point: {', '.join(missing)}")
    n = min((r.n for r in readings), default=0)
    if n < 2:
        notes.append(f"not decided: {NEEDS_SEEDS}")
    return Verdict(CLAIM_3, _combine([_sign(r) for r in readings]) if readings else NOT_MEASURED, RULE_3, tuple(readings), n,
                   tuple(notes), how="" if readings else HOW[CLAIM_3], context=context)


# ---- verdicts against compute ----

def claim1_along_budget(data: Claim1Input, budget_steps: int) -> list[BudgetPoint]:
    """Claim 1 at every curve point all series share (artifact values at the same steps, paired per seed)."""
    common = set.intersection(data.gan.steps(), *(v.steps() for v in data.vae_views))
    return [BudgetPoint(s, s / budget_steps, judge_claim1(data, s)) for s in sorted(common)]


def claim3_along_budget(data: Claim3Input) -> list[BudgetPoint]:
    """Claim 3 at every curve point both losses share: log FID, KID and confidence at that point, paired per seed."""
    ns, mm = data.nonsaturating, data.minimax
    for series in (ns, mm):
        _check_family(series, "gan")
    out = []
    for s in sorted(ns.steps() & mm.steps()):
        values = {x.label: {FID: {seed: math.log(v) for seed, v in x.values(FID, s).items()}, KID: x.values(KID, s),
                            CONFIDENCE: x.values(CONFIDENCE, s)} for x in (ns, mm)}
        readings = _quality_readings(values, ns.label, mm.label, f" at step {s}")
        n = min((r.n for r in readings), default=0)
        verdict = _combine([_sign(r) for r in readings]) if readings else NOT_MEASURED
        notes = () if n >= 2 else (f"not decided: {NEEDS_SEEDS}",)
        out.append(BudgetPoint(s, s / data.budget_steps, Verdict(CLAIM_3, verdict, RULE_3_POINT, tuple(readings), n, notes)))
    return out


# ---- claim 2: a VAE needs a bigger network for the same quality ----

RULE_2 = ("Over log-spaced FID targets inside the range both families reach, per target the smallest parameter count whose "
          "seed-mean FID reaches it (interpolated in log parameters); supported when the bootstrap 95% interval of "
          "log(VAE/GAN parameters) lies above zero at every target, not supported when below at every target, mixed "
          "when above at some and below at others, else not decided.")


def _need(log_p: np.ndarray, log_f: np.ndarray, log_t: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on log(params) at which the curves log_f (..., W) (widths by size, log FID) first reach log_t:
    equal where a curve crosses between two widths (linear in log FID against log params), [log largest, inf]
    where it never does (censored), [-inf, log smallest] where the smallest width already does."""
    reach = log_f <= log_t
    first, reached = reach.argmax(-1), reach.any(-1)
    i = np.clip(first, 1, len(log_p) - 1)[..., None]
    f0, f1 = np.take_along_axis(log_f, i - 1, -1)[..., 0], np.take_along_axis(log_f, i, -1)[..., 0]
    p0, p1 = log_p[i[..., 0] - 1], log_p[i[..., 0]]
    with np.errstate(divide="ignore", invalid="ignore"):  # f0 == f1 only where first == 0, replaced below
        x = p0 + (log_t - f0) / (f1 - f0) * (p1 - p0)
    low = np.where(~reached, log_p[-1], np.where(first == 0, -np.inf, x))
    high = np.where(~reached, np.inf, np.where(first == 0, log_p[0], x))
    return low, high


def _percentile_ends(low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    """2.5th percentile of the lower ends and 97.5th of the upper ends, as order statistics (well defined with
    infinite, i.e. censored, ends): a censored resample widens the interval rather than being dropped."""
    b = len(low)
    return float(np.sort(low)[math.floor(0.025 * b)]), float(np.sort(high)[math.ceil(0.975 * b) - 1])


def judge_claim2(sweeps: Sequence[SizeSweep], targets: int = N_TARGETS, resamples: int = RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> Verdict:
    """Claim 2 from a capacity sweep: per family the sweep with most widths (gan:* is a GAN, vae* a VAE)."""
    picked = {}
    for family in ("gan", "vae"):
        mine = [s for s in sweeps if family_of(s.label) == family]
        picked[family] = max(mine, key=lambda s: len(s.widths), default=None)
    short = [f for f, s in picked.items() if s is None or len(s.widths) < 2]
    if short:
        return Verdict(CLAIM_2, NOT_MEASURED, RULE_2, notes=(f"needs a GAN and a VAE at >= 2 widths each; missing: {', '.join(short)}",),
                       how=HOW[CLAIM_2])
    gan, vae = picked["gan"], picked["vae"]
    seeds = sorted(set.intersection(*(set(w.fid_by_seed) for s in (gan, vae) for w in s.widths)))
    names = f"{gan.label} vs {vae.label}"
    if len(seeds) < 2:
        return Verdict(CLAIM_2, NOT_DECIDED, RULE_2, n=len(seeds), notes=(f"{names}: {NEEDS_SEEDS}",))
    curves = {}
    for family, s in picked.items():
        ws = sorted(s.widths, key=lambda w: w.params)
        fids = np.array([[w.fid_by_seed[k] for k in seeds] for w in ws], dtype=float)  # (W, n)
        curves[family] = (np.log([w.params for w in ws]), fids)
    means = {f: fids.mean(1) for f, (_, fids) in curves.items()}
    hardest = max(m.min() for m in means.values())  # the worse of the two best seed-mean FIDs
    easiest = min(m.max() for m in means.values())  # the better of the two worst
    if hardest >= easiest:
        apart = f"best seed-means {fmt(means['gan'].min())} and {fmt(means['vae'].min())} lie outside each other's range"
        return Verdict(CLAIM_2, NOT_DECIDED, RULE_2, n=len(seeds), notes=(f"{names}: no FID both families reach in the sweep ({apart})",))
    # strictly inside the range: each end is one family's best or worst mean, which half the resamples miss
    goals = np.geomspace(hardest, easiest, targets + 2)[1:-1]
    picks = np.random.default_rng(seed).integers(0, len(seeds), size=(resamples, len(seeds)))  # the same seeds for both
    boot = {f: np.log(fids[:, picks].mean(-1).T) for f, (_, fids) in curves.items()}  # (B, W) seed-mean log FID curves
    rows = []
    for t in goals:
        log_t = math.log(t)
        point = {f: _need(curves[f][0], np.log(means[f]), log_t) for f in curves}
        ends = {f: _need(curves[f][0], boot[f], log_t) for f in curves}
        needs = {f: Need(tuple(float(math.exp(x)) for x in point[f]), tuple(math.exp(x) for x in _percentile_ends(*ends[f])))
                 for f in curves}
        ci = _percentile_ends(ends["vae"][0] - ends["gan"][1], ends["vae"][1] - ends["gan"][0])
        lo, hi = float(point["vae"][0] - point["gan"][1]), float(point["vae"][1] - point["gan"][0])
        ratio = Number(f"log(params {vae.label} / {gan.label}) at FID {fmt(t)}", lo if lo == hi else None, ci, len(seeds),
                       method=f"percentile bootstrap over seeds, {resamples} resamples (seed {seed}), censored ends kept as bounds",
                       key="log_params_ratio", subject=f"FID {fmt(t)}")
        rows.append(TargetRow(float(t), needs["gan"], needs["vae"], ratio, {1: "more", -1: "fewer", 0: "overlap"}[_sign(ratio)]))
    notes = [f"{names}: {len(goals)} FID targets log-spaced inside {fmt(hardest)} (the worse best) to {fmt(easiest)} (the better worst); "
             + ", ".join(f"{o} at {sum(r.outcome == o for r in rows)}" for o in ("more", "fewer", "overlap"))]
    if len(seeds) < 5:
        notes.append(f"{len(seeds)} seeds give only {math.comb(2 * len(seeds) - 1, len(seeds))} distinct resamples: "
                     "the bootstrap interval is narrower than the truth")
    censored = sorted({f"{label} {need.censored}" for r in rows for label, need in ((gan.label, r.gan), (vae.label, r.vae)) if need.censored})
    if censored:
        notes.append("censored estimates (kept as bounds): " + "; ".join(censored))
    return Verdict(CLAIM_2, _combine([_sign(r.log_ratio) for r in rows]), RULE_2, tuple(r.log_ratio for r in rows), len(seeds),
                   tuple(notes), targets=tuple(rows))
