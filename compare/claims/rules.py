"""The source text's three claims, judged from structured results over seeds under rules stated beside them.

    judge_claim1(Claim1Input(gan, vae_views, real))    VAE minus GAN in lone pixels and specks per image
    judge_claim2([SizeSweep, ...])                     parameters each family needs per FID target
    judge_claim3(Claim3Input(nonsaturating, minimax, budget_steps, fid_threshold))   mean log FID over the early window
    claim1_along_budget / claim3_along_budget          the same at every curve point -> [BudgetPoint]
Each returns a Verdict (claim, one of VERDICTS, the rule in one sentence, Numbers with 95% intervals, n seeds,
notes, context, the command that measures it when not measured; to_json() for study.json). The dataclasses live in
compare.claims.types and are re-exported here; compare.claims.inputs builds them from run files.

One decision for every rule: a deciding reading is a paired difference over seeds, signed so that positive favours
the claim, with its Student t 95% interval and a minimum effect (MARGIN_1/2/3) fixed before any result; the interval
is "for" (wholly above +margin), "against" (wholly below -margin), "within" (inside ±margin: an equivalence test, "no
practical difference") or "open" (compare.stats.classify, which says why beyond the margin rather than beyond 0),
always "open" for one seed or a zero-width interval; combine_states turns the readings into the verdict
(compare.claims.readings holds that decision).
Families are the kinds the models declare (compare.models.kind_of: a user's kind = "vae" model is a VAE),
never their labels.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from compare.metrics import label_of
from compare.metrics.numbers import fmt
from compare.claims.types import (
    LOG_OF, LOG_RATIO, BudgetPoint, Claim1Input, Claim3Input, Need, Number, Point, Series, SizeSweep, TargetRow,
    Verdict, WidthResult, family_of, in_words, prior_view, view_kind,
)
from compare.claims.readings import (
    MIXED, NO_PRACTICAL_DIFFERENCE, NOT_DECIDED, NOT_MEASURED, NOT_SUPPORTED, ONE_SEED, SUPPORTED, VERDICTS,
    combine_states, paired_reading, reading_state, seed_notes,
)
from compare.stats import UNBOUNDED, Bounds, mover_difference, summarize
# the window in steps lives beside the curve schedule that fills it
from compare.train import EARLY_WINDOW_STEPS, early_window

__all__ = [  # the API a study or report uses; the types are defined in compare.claims.types, the verdicts in .readings
    "BudgetPoint", "Claim1Input", "Claim3Input", "Need", "Number", "Point", "Series", "SizeSweep", "TargetRow",
    "Verdict", "WidthResult", "family_of", "prior_view", "view_kind", "judge_claim1", "judge_claim2", "judge_claim3",
    "claim1_along_budget", "claim3_along_budget", "steps_to_reach", "early_window", "LONE_PIXELS", "SPECKS",
    "ARTIFACT_KEYS", "FID", "KID", "CONFIDENCE", "VERDICTS", "SUPPORTED", "NOT_SUPPORTED", "MIXED",
    "NO_PRACTICAL_DIFFERENCE", "NOT_DECIDED", "NOT_MEASURED", "CLAIM_1", "CLAIM_2", "CLAIM_3", "RULE_1", "RULE_2",
    "RULE_3", "RULE_3_POINT", "HOW", "THRESHOLD_FLOOR_FACTOR", "EARLY_WINDOW_STEPS", "MIN_EARLY_POINTS", "MARGIN_1",
    "MARGIN_2", "MARGIN_3", "ONE_SEED",
]

# Metric keys (renamed in one place if the metrics change their names).
LONE_PIXELS, SPECKS = "lone_pixels_per_image", "specks_per_image"  # per image, lower is better
ARTIFACT_KEYS = (LONE_PIXELS, SPECKS)
FID, KID, CONFIDENCE = "fid", "kid_x1e3", "mean_confidence"  # FID, KID lower is better; confidence higher


CLAIM_1 = "VAE samples show discontinuous bad pixels (each pixel is generated separately given z)"
CLAIM_2 = "a VAE needs a larger network than a GAN for the same sample quality"
CLAIM_3 = "the flipped-label generator loss learns faster at the start than log(1 - D(G(z)))"

# Minimum effects, fixed before any result.
# Claim 1: half a lone pixel (or speck) per image, i.e. one more stray dot in every second image: plain to see on a
# sample grid, and 20x the real digits' own rate (0.026 lone pixels per image on mnist5k's held-out set); less is not
# a difference a reader of the samples would notice.
MARGIN_1 = 0.5
# Claim 2: a ratio within 1.25x: less than a third of one step of a width sweep (width x2 is x2.1-2.5 parameters for
# the mlp GAN on 28x28 images: 113,745 / 243,089 / 550,929 / 1,363,217 at widths 0.25-2), too little to
# size a network by.
MARGIN_2 = math.log(1.25)
# Claim 3: 5% in FID, below the seed-to-seed spread of one model's FID (log-FID SD 0.05-0.1 in the default study).
MARGIN_3 = math.log(1.05)

# Claim 1's deciding views: the VAE's usual output, its per-pixel means; "" is the one output of a VAE whose sample()
# has no modes (a user's), which is then its usual output.
DECIDING_VIEWS = ("mean", "")
MIN_EARLY_POINTS = 8  # curve points in the window, so a mean over them is not one noisy evaluation
THRESHOLD_FLOOR_FACTOR = 20  # claim 3's context threshold: 20x the real-data floor FID, fixed before any result
N_TARGETS = 8  # claim 2
MOVER = ("one seed: the two per-image bootstrap intervals combined (MOVER, Zou & Donner 2008); which images "
         "were drawn, not the model")
ADAM_NOTE = ("context only: Adam's update m/sqrt(v) is invariant to the loss's scale (Kingma & Ba 2015, sec. 2), "
             "so a larger gradient norm does not mean faster learning")
HOW = {CLAIM_1: "compare study (or compare run --models gan vae --seeds 5: the continuity measures "
                "are part of every run)",
       CLAIM_2: "compare study --widths 0.25,0.5,1,2 --seeds 5 (or compare sweep --models gan vae "
                "--widths ... --seeds 5)",
       CLAIM_3: f"compare study (its curve schedule evaluates >= {MIN_EARLY_POINTS} points in the first "
                f"{EARLY_WINDOW_STEPS:,} steps for gan and gan:minimax)"}


def _summary(name: str, by_seed: Mapping[int, float], key: str, subject: str = "",
             bounds: Bounds = UNBOUNDED) -> Number:
    """The mean over seeds with its Student t 95% interval, clipped to `bounds` (compare.stats)."""
    st = summarize((by_seed[s] for s in sorted(by_seed)), bounds)
    return Number(name, st["mean"], tuple(st["ci95"]) if st["ci95"] else None, st["n"], tuple(st["values"]),
                  seeds=tuple(sorted(by_seed)), key=key, subject=subject, signed=False)


def _check_family(series: Series, family: str) -> None:
    if family_of(series.label) != family:  # a wiring mistake, not a user's: the study picks series by family
        raise ValueError(f"{series.label!r} is not a {family} (compare.models knows it as {family_of(series.label)!r})")


# ---- claim 1: VAEs show discontinuous bad pixels ----

RULE_1 = ("VAE per-pixel means minus GAN in lone pixels and specks per image, paired over >= 2 seeds (Student t 95%): "
          f"supported when both intervals lie above +{MARGIN_1} per image, not supported when both lie below "
          f"-{MARGIN_1}, no practical difference when both lie inside ±{MARGIN_1}, mixed when readings (the pixel "
          "draws too) go both ways, else not decided.")


def _mover(name: str, vae: Point, gan: Point, key: str, seed: int, subject: str) -> Number:
    """One seed's VAE minus GAN with the per-image bootstrap intervals of each side combined by MOVER
    (Zou & Donner 2008): each end moves by the root sum of squares of the two sides' distances to their ends."""
    d, ci = mover_difference(vae.values[key], vae.ci95[key], gan.values[key], gan.ci95[key])
    return Number(name, d, ci, 1, (d,), MOVER, (seed,), key, subject)


def _floor_ratios(data: Claim1Input, steps: int | None) -> tuple[Number, ...]:
    """Each family's artifacts as a multiple of the real images' (per seed, then mean over seeds): "both
    far from real"."""
    if data.real is None:
        return ()
    real = data.real.at(None)  # the floor is the data's, the same at every step
    out = []
    for series in (data.gan, *data.vae_views):
        for key in ARTIFACT_KEYS:
            ratios = {s: v / real[s].values[key] for s, v in series.values(key, steps).items()
                      if s in real and real[s].values.get(key)}
            if ratios:
                out.append(_summary(f"{in_words(series.label)}, {label_of(key)}, ratio to real", ratios, key,
                                    series.label, (0.0, None)))
    return tuple(out)


def judge_claim1(data: Claim1Input, steps: int | None = None) -> Verdict:
    """Claim 1 at the end of the budget (or at `steps`), from paired per-seed differences VAE minus GAN."""
    _check_family(data.gan, "gan")
    for view in data.vae_views:
        _check_family(view, "vae")
    means = [v for v in data.vae_views if v.view in DECIDING_VIEWS]
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
            name = f"{in_words(view.label)} minus {in_words(data.gan.label)}, {label_of(key)}"
            number = paired_reading(name, data.gan.values(key, steps), view.values(key, steps), key, view.label)
            if number.n == 1 and all(key in p.ci95 for p in (points[number.seeds[0]], gan[number.seeds[0]])):
                # description only
                number = _mover(name, points[number.seeds[0]], gan[number.seeds[0]], key, number.seeds[0], view.label)
            numbers.append(number)
            if view.view in DECIDING_VIEWS:
                deciding.append(number)
    n = min(x.n for x in numbers)
    if n == 0:
        return Verdict(CLAIM_1, NOT_MEASURED, RULE_1, notes=("no seed has both the GAN and every VAE view measured",),
                       how=HOW[CLAIM_1])
    verdict = combine_states([reading_state(x, MARGIN_1) for x in numbers],
                             [reading_state(x, MARGIN_1) for x in deciding])
    notes = [f"{n} seeds; paired differences VAE minus GAN; the per-pixel means decide, the pixel "
             "draws can make it mixed",
             *seed_notes(deciding, verdict, MARGIN_1, lambda d: f"{fmt(d)} per image")]
    return Verdict(CLAIM_1, verdict, RULE_1, tuple(numbers), n, tuple(notes), context=_floor_ratios(data, steps))


# ---- claim 3: the flipped-label loss learns faster at the start ----

_MARGIN_3_TEXT = f"log(1.05) ({math.expm1(MARGIN_3):.0%} in FID)"
RULE_3 = (f"Per seed, the mean log FID over the curve points in the first {EARLY_WINDOW_STEPS:,} steps (the whole "
          f"budget when shorter; >= {MIN_EARLY_POINTS} points), minimax minus flipped label, paired over >= 2 seeds "
          f"(Student t 95%): supported when the interval lies above +{_MARGIN_3_TEXT}, not supported when below "
          "-log(1.05), no practical difference when inside ±log(1.05), else not decided; KID, confidence, steps to a "
          "threshold and gradient norms are context only.")
RULE_3_POINT = ("The same at each curve point: log FID minimax minus flipped label at that step, paired over seeds, "
                "with the same margin and outcomes.")


def _fid_percent(d: float) -> str:
    return f"{fmt(100 * math.expm1(d))}% in FID"


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


def _mean_over(series: Series, key: str, steps: Sequence[int], log: bool = False) -> dict[int, float]:
    """seed -> mean of the key (or of its log) over the given steps; seeds missing a value there are left out."""
    out, at = {}, [series.values(key, s) for s in steps]
    for seed in series.by_seed:
        xs = [values.get(seed) for values in at]
        if all(x is not None for x in xs):
            out[seed] = float(np.mean(np.log(xs) if log else xs))
    return out


def _judge3(data: Claim3Input, steps: Sequence[int], where: str, rule: str) -> tuple[Verdict, list[str]]:
    """Claim 3's primary reading over `steps` (one step: at that point), KID and confidence as context."""
    ns, mm = data.nonsaturating, data.minimax
    primary = paired_reading(f"log FID{where}, minimax minus flipped label", _mean_over(ns, FID, steps, True),
                          _mean_over(mm, FID, steps, True), FID)
    context = [paired_reading(f"{label_of(KID)}{where}, minimax minus flipped label", _mean_over(ns, KID, steps),
                              _mean_over(mm, KID, steps), KID),
               paired_reading(f"{label_of(CONFIDENCE)}{where}, flipped label minus minimax",
                              _mean_over(mm, CONFIDENCE, steps), _mean_over(ns, CONFIDENCE, steps), CONFIDENCE)]
    if primary.n == 0:
        return Verdict(CLAIM_3, NOT_MEASURED, rule, notes=(f"no FID on every point{where}",), how=HOW[CLAIM_3]), []
    verdict = combine_states([reading_state(primary, MARGIN_3)])
    notes = seed_notes([primary], verdict, MARGIN_3, _fid_percent)
    return Verdict(CLAIM_3, verdict, rule, (primary,), primary.n, context=tuple(c for c in context if c.n)), notes


def judge_claim3(data: Claim3Input) -> Verdict:
    """Claim 3 from the mean log FID over the early window, paired per seed; the rest is context."""
    ns, mm = data.nonsaturating, data.minimax
    for series in (ns, mm):
        _check_family(series, "gan")
    grads = tuple(_summary(f"{label} mean early generator gradient norm", v, "gradnorm", bounds=(0.0, None))
                  for label, v in data.grad_norms.items() if v)
    window = early_window(data.budget_steps)
    early = sorted(s for s in ns.steps() & mm.steps() if 0 < s <= window)
    # under SGD a steeper gradient is a larger step
    adam_note = [ADAM_NOTE] if grads and data.optimizer == "adam" else []
    if len(early) < MIN_EARLY_POINTS:
        few = f"curve points both losses share in the first {window:,} of {data.budget_steps} steps: {len(early)}"
        return Verdict(CLAIM_3, NOT_MEASURED, RULE_3, notes=(f"{few}; the rule needs {MIN_EARLY_POINTS}", *adam_note),
                       how=HOW[CLAIM_3], context=grads)
    verdict, notes = _judge3(data, early, f" mean over {len(early)} points in the first {window:,} steps", RULE_3)
    notes.insert(0, f"early window: {len(early)} points, steps {early[0]}-{early[-1]} of {data.budget_steps}")
    context = verdict.context
    if data.fid_threshold is None:
        notes.append("steps to a threshold not read: no FID threshold given")
    else:
        reach = {s.label: {seed: steps_to_reach(pts, data.fid_threshold, data.budget_steps)
                           for seed, pts in s.by_seed.items()}
                 for s in (ns, mm)}
        context += (paired_reading(f"steps to FID <= {fmt(data.fid_threshold)}, minimax minus flipped label",
                                   {k: v[0] for k, v in reach[ns.label].items()},
                                   {k: v[0] for k, v in reach[mm.label].items()}, "steps"),)
        censored = ", ".join(f"{label} {sum(c for _, c in r.values())} of {len(r)} seeds" for label, r in reach.items())
        notes.append(f"threshold FID {fmt(data.fid_threshold)} {data.threshold_note}".rstrip()
                     + f"; censored at the budget (never reached): {censored}")
    notes += adam_note
    return Verdict(CLAIM_3, verdict.verdict, RULE_3, verdict.numbers, verdict.n, tuple(notes) + verdict.notes,
                   verdict.how, context + grads)


# ---- verdicts against compute ----

def claim1_along_budget(data: Claim1Input, budget_steps: int) -> list[BudgetPoint]:
    """Claim 1 at every curve point all series share (artifact values at the same steps, paired per seed)."""
    common = set.intersection(data.gan.steps(), *(v.steps() for v in data.vae_views))
    return [BudgetPoint(s, s / budget_steps, judge_claim1(data, s)) for s in sorted(common)]


def claim3_along_budget(data: Claim3Input) -> list[BudgetPoint]:
    """Claim 3 at every curve point both losses share: log FID minimax minus flipped label at that point,
    paired per seed."""
    for series in (data.nonsaturating, data.minimax):
        _check_family(series, "gan")
    out = []
    for s in sorted(data.nonsaturating.steps() & data.minimax.steps()):
        verdict, notes = _judge3(data, [s], f" at step {s}", RULE_3_POINT)
        out.append(BudgetPoint(s, s / data.budget_steps,
                               Verdict(CLAIM_3, verdict.verdict, RULE_3_POINT, verdict.numbers, verdict.n,
                                       verdict.notes + tuple(notes), context=verdict.context)))
    return out


# ---- claim 2: a VAE needs a bigger network for the same quality ----

RULE_2 = (f"At {N_TARGETS} FID targets log-spaced inside the range every seed of both families crosses (above at the "
          "smallest width, below within the sweep), each seed's parameters needed (linear in log FID against log "
          "parameters between widths), log(VAE/GAN parameters) paired over >= 2 seeds (Student t 95%): supported when "
          "every target's interval lies above +log(1.25), not supported when every one lies below -log(1.25), mixed "
          "when both occur, no practical difference when every interval lies inside ±log(1.25), else not decided.")
# TargetRow.outcome: what the VAE needs
OUTCOMES = {"for": "more", "against": "fewer", "within": "same", "open": "overlap"}


def _crossing(log_p: np.ndarray, log_f: np.ndarray, log_t: float) -> np.ndarray:
    """Per seed, log(params) where the curve log_f (seeds, W) (widths by size, log FID) first gets to log_t, linear in
    log FID against log params between the two widths around it. The target range makes every curve start above it
    and reach it."""
    i = (log_f <= log_t).argmax(1)  # the first width at or below the target: >= 1
    rows = np.arange(len(log_f))
    f0, f1 = log_f[rows, i - 1], log_f[rows, i]
    return log_p[i - 1] + (log_t - f0) / (f1 - f0) * (log_p[i] - log_p[i - 1])


def _need(log_params: np.ndarray) -> Need:
    """A family's parameters needed at one target over seeds: geometric mean and Student t 95% interval."""
    st = summarize(log_params)
    return Need(math.exp(st["mean"]), (math.exp(st["ci95"][0]), math.exp(st["ci95"][1])))


def judge_claim2(sweeps: Sequence[SizeSweep], targets: int = N_TARGETS) -> Verdict:
    """Claim 2 from a capacity sweep: per family the sweep with most widths (gan:* is a GAN, vae* a VAE)."""
    picked = {}
    for family in ("gan", "vae"):
        mine = [s for s in sweeps if family_of(s.label) == family]
        picked[family] = max(mine, key=lambda s: len(s.widths), default=None)
    short = [f for f, s in picked.items() if s is None or len(s.widths) < 2]
    if short:
        return Verdict(CLAIM_2, NOT_MEASURED, RULE_2,
                       notes=(f"needs a GAN and a VAE at >= 2 widths each; missing: {', '.join(short)}",),
                       how=HOW[CLAIM_2])
    gan, vae = picked["gan"], picked["vae"]
    seeds = sorted(set.intersection(*(set(w.fid_by_seed) for s in (gan, vae) for w in s.widths)))
    names = f"{gan.label} vs {vae.label}"
    if len(seeds) < 2:
        return Verdict(CLAIM_2, NOT_DECIDED, RULE_2, n=len(seeds),
                       notes=(f"{names}: {len(seeds)} seed(s): the rule needs >= 2 seeds (`compare study "
                              "--seeds 5` measures them)",))
    curves = {}
    for family, s in picked.items():
        ws = sorted(s.widths, key=lambda w: w.params)
        # (W,), (n, W)
        curves[family] = (np.log([w.params for w in ws]), np.log([[w.fid_by_seed[k] for w in ws] for k in seeds]))
    hardest = max(log_f.min(1).max() for _, log_f in curves.values())  # the worst seed's best FID
    easiest = min(log_f[:, 0].min() for _, log_f in curves.values())  # the best seed's FID at the smallest width
    if hardest >= easiest:
        return Verdict(CLAIM_2, NOT_DECIDED, RULE_2, n=len(seeds),
                       notes=(f"{names}: no FID every seed of both families crosses within the sweep (worst best "
                              f"{fmt(math.exp(hardest))}, best at the smallest width {fmt(math.exp(easiest))})",))
    # strictly inside: the ends are one seed's own values
    goals = np.exp(np.linspace(hardest, easiest, targets + 2)[1:-1])
    rows = []
    for t in goals:
        need = {f: _crossing(log_p, log_f, math.log(t)) for f, (log_p, log_f) in curves.items()}
        ratio = paired_reading(f"{LOG_OF}{vae.label} / {gan.label} parameters at FID {fmt(t)}",
                               dict(zip(seeds, need["gan"])), dict(zip(seeds, need["vae"])), LOG_RATIO, f"FID {fmt(t)}")
        rows.append(TargetRow(float(t), _need(need["gan"]), _need(need["vae"]), ratio,
                              OUTCOMES[reading_state(ratio, MARGIN_2)]))
    verdict = combine_states([reading_state(r.log_ratio, MARGIN_2) for r in rows])
    notes = [f"{names}: {len(goals)} FID targets log-spaced inside {fmt(math.exp(hardest))} (the worst seed's best) to "
             f"{fmt(math.exp(easiest))} (the best seed's smallest width); VAE needs "
             + ", ".join(f"{o} at {sum(r.outcome == o for r in rows)}" for o in OUTCOMES.values()),
             *seed_notes([r.log_ratio for r in rows], verdict, MARGIN_2, lambda d: f"{fmt(math.exp(d))}x parameters")]
    return Verdict(CLAIM_2, verdict, RULE_2, tuple(r.log_ratio for r in rows), len(seeds), tuple(notes),
                   targets=tuple(rows))
