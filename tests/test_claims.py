"""Verdicts on the source's claims from constructed inputs: each rule gives the answer it states, with its numbers."""

import json
import math
import statistics

import pytest
from scipy.stats import t as student_t

from compare.calibrate.simulated import rule_controls
from compare.report.figures.claims import save_budget_strip, save_claim1_figure, save_claim2_figure, save_claim3_figure
from compare.claims.inputs import claim_a, claim_a_over_seeds, claim_b, claim_c
from compare.claims.trial_row import TrialRow
from compare.claims.rules import (
    CONFIDENCE, EARLY_WINDOW_STEPS, FID, KID, LONE_PIXELS, SPECKS, Claim1Input, Claim3Input, Point, Series, SizeSweep,
    WidthResult, claim1_along_budget, claim3_along_budget, early_window, family_of, judge_claim1, judge_claim2,
    judge_claim3, steps_to_reach, view_kind,
)

T3 = float(student_t.ppf(0.975, 2)) / math.sqrt(3)  # t 95% half-width per unit SD at 3 seeds
PNG = b"\x89PNG\r\n\x1a\n"


def interval(mean, sd):
    return pytest.approx([mean - T3 * sd, mean + T3 * sd])


# ---- claim 1 ----

def artifacts(label, per_seed, kind=""):
    """per_seed: [(lone pixels, specks), ...] for seeds 0, 1, 2, ..."""
    return Series(label, {s: [Point(4000, {LONE_PIXELS: lone, SPECKS: specks})]
                          for s, (lone, specks) in enumerate(per_seed)}, kind)


GAN = [(1.0, 0.5), (1.1, 0.6), (0.9, 0.4)]
# mean 3 [0.52, 5.48], -3, open, 0 [-0.25, 0.25]
MORE, FEWER, OPEN, NONE = (2, 3, 4), (-2, -3, -4), (-1, 0, 2), (-0.1, 0, 0.1)


def plus(base, lone, specks):
    return [(a + x, b + y) for (a, b), x, y in zip(base, lone, specks)]


def claim1(gan, mean, pixels, gan_label="gan", real=None):
    return judge_claim1(Claim1Input(artifacts(gan_label, gan),
                                    (artifacts("vae-mean", mean), artifacts("vae-pixels", pixels)),
                                    None if real is None else artifacts("real", real)))


def test_claim1_supported_with_paired_t_intervals():
    v = claim1(GAN, plus(GAN, MORE, (2, 2.5, 3)), plus(GAN, (20, 30, 40), (3, 4, 5)))
    assert v.verdict == "supported" and v.n == 3
    lone, specks = v.numbers[0], v.numbers[1]
    assert (lone.subject, lone.key, lone.mean, lone.values) == ("vae-mean", LONE_PIXELS, pytest.approx(3.0),
                                                                pytest.approx((2, 3, 4)))
    assert list(lone.ci95) == interval(3.0, 1.0) and list(specks.ci95) == interval(2.5, 0.5)
    assert v.to_json()["numbers"][0]["ci95"] == interval(3.0, 1.0)
    json.dumps(v.to_json(), allow_nan=False)


def test_claim1_gan_with_zero_specks_is_a_value_not_an_undefined_ratio():
    gan = [(1.0, 0.0), (1.1, 0.0), (0.9, 0.0)]
    v = claim1(gan, plus(gan, MORE, (2, 2.5, 3)), plus(gan, MORE, (2, 2.5, 3)))
    assert v.verdict == "supported" and list(v.numbers[1].ci95) == interval(2.5, 0.5)


def test_claim1_a_difference_under_the_minimum_effect_does_not_decide():
    gan = [(1.0, 1.0), (1.1, 1.1), (0.9, 0.9)]
    small = [(10 * a, 1.4 * b) for a, b in gan]  # 10x the lone pixels, but only 0.4 more specks per image: [0.30, 0.50]
    v = claim1(gan, small, small)
    assert (v.verdict == "not decided" and v.numbers[1].mean == pytest.approx(0.4)
            and list(v.numbers[1].ci95) == interval(0.4, 0.04))
    large = [(10 * a, 2.4 * b) for a, b in gan]  # 1.4 more specks: [1.05, 1.75]
    assert claim1(gan, large, large).verdict == "supported"


def test_claim1_no_flip_between_1_49_and_1_51_times():
    gan = [(10.0, 10.0), (11.0, 11.0), (9.0, 9.0)]
    verdicts = {f: claim1(gan, [(f * a, f * b) for a, b in gan], gan).verdict for f in (1.49, 1.50, 1.51)}
    assert verdicts == {1.49: "supported", 1.50: "supported", 1.51: "supported"}
    equal = claim1(gan, gan, gan)  # equal: every interval is [0, 0], no spread measured
    assert equal.verdict == "not decided" and any(n.startswith("identical per-seed values") for n in equal.notes)
    assert not any(n.startswith("smallest true difference") for n in equal.notes)


def test_claim1_any_gan_variant_is_the_gan_and_any_vae_view_a_vae():
    vae = plus(GAN, MORE, (2, 2.5, 3))
    assert claim1(GAN, vae, vae, gan_label="gan:hinge").verdict == "supported"
    v = judge_claim1(Claim1Input(artifacts("gan:wgan-gp", GAN), (artifacts("vae:big-mean", vae),)))
    assert v.verdict == "supported"
    assert ([family_of(x) for x in ("gan:minimax", "vae", "vae-pixels", "vae:big-mean", "other")]
            == ["gan", "vae", "vae", "vae", None])
    assert ([view_kind(x) for x in ("vae", "vae-mean", "vae-pixels", "vae:big-pixels", "gan:hinge")]
            == ["mean", "mean", "pixels", "pixels", ""])
    with pytest.raises(ValueError, match="is not a gan"):
        judge_claim1(Claim1Input(artifacts("vae-mean", GAN), (artifacts("vae-pixels", vae),)))


def test_claim1_the_means_decide_and_the_pixel_draws_can_make_it_mixed():
    cases = {
        "mixed": (plus(GAN, FEWER, FEWER), plus(GAN, MORE, MORE)),  # means fewer, pixel draws more
        "not supported": (plus(GAN, FEWER, FEWER), plus(GAN, OPEN, OPEN)),
        "supported ": (plus(GAN, MORE, MORE), plus(GAN, OPEN, OPEN)),
        "not decided": (plus(GAN, MORE, OPEN), plus(GAN, MORE, MORE)),  # the means' specks overlap the margin
        "mixed ": (plus(GAN, MORE, FEWER), plus(GAN, OPEN, OPEN)),  # the means: more lone pixels, fewer specks
        "no practical difference": (plus(GAN, NONE, NONE), plus(GAN, OPEN, OPEN)),  # both within ±0.5, the draws open
        "not decided ": (plus(GAN, NONE, NONE), plus(GAN, MORE, MORE)),  # the means within, but the draws have more
    }
    assert ({name: claim1(GAN, mean, pixels).verdict for name, (mean, pixels) in cases.items()}
            == {k: k.strip() for k in cases})


def test_claim1_not_decided_shows_the_smallest_difference_the_design_decides():
    v = claim1(GAN, plus(GAN, OPEN, MORE), plus(GAN, OPEN, OPEN))  # lone pixels -1, 0, +2: SD sqrt(7/3)
    assert v.verdict == "not decided"
    by_hand = 0.5 + (4.302652729749462 + 1.0606601717798212) * math.sqrt(7 / 3) / math.sqrt(3)
    note = next(n for n in v.notes if n.startswith("smallest true difference"))
    # 5.23: 3 significant digits, no interval
    assert f"lone pixels: {by_hand:.3g} per image" in note and "specks: " in note


def test_claim1_one_seed_never_decides_and_keeps_its_per_image_intervals_as_description():
    gan = Series("gan",
                 {7: [Point(4000, {LONE_PIXELS: 2.0, SPECKS: 0.0}, {LONE_PIXELS: (1.5, 2.5), SPECKS: (0.0, 0.0)})]})
    vae = Series("vae-mean",
                 {7: [Point(4000, {LONE_PIXELS: 5.0, SPECKS: 3.0}, {LONE_PIXELS: (4.0, 6.0), SPECKS: (2.8, 3.2)})]})
    v = judge_claim1(Claim1Input(gan, (vae,)))
    assert v.verdict == "not decided" and v.n == 1 and v.numbers[0].seeds == (7,)
    assert "not decided: one seed" in v.notes
    # MOVER, far above 0
    assert list(v.numbers[0].ci95) == pytest.approx([3 - math.hypot(1, 0.5), 3 + math.hypot(1, 0.5)])
    assert list(v.numbers[1].ci95) == pytest.approx([2.8, 3.2]) and "MOVER" in v.numbers[0].method
    bare = judge_claim1(Claim1Input(Series("gan", {7: [Point(4000, {LONE_PIXELS: 2.0, SPECKS: 0.0})]}),
                                    (Series("vae-mean", {7: [Point(4000, {LONE_PIXELS: 5.0, SPECKS: 0.3})]}),)))
    assert bare.verdict == "not decided" and "not decided: one seed" in bare.notes and bare.numbers[0].ci95 is None


def test_claim1_two_seeds_are_flagged_as_too_few():
    v = claim1(GAN[:2], plus(GAN[:2], (20, 20.1), (20, 20.1)), plus(GAN[:2], (20, 20.1), (20, 20.1)))
    assert v.verdict == "supported" and v.n == 2  # t(0.975, 1) = 12.7: [19.4, 20.7]
    assert any(n.startswith("2 seeds are too few") and "at this spread 3 seeds would decide" in n for n in v.notes)


def test_claim1_shows_each_family_against_the_real_floor():
    real = [(0.02, 0.01), (0.025, 0.01), (0.015, 0.0)]  # seed 2's floor has no specks: no ratio on that seed
    v = claim1(GAN, plus(GAN, MORE, MORE), plus(GAN, MORE, MORE), real=real)
    ratios = {(c.subject, c.key): c for c in v.context}
    assert set(ratios) == {(label, key) for label in ("gan", "vae-mean", "vae-pixels") for key in (LONE_PIXELS, SPECKS)}
    gan_lone = ratios["gan", LONE_PIXELS]
    assert gan_lone.values == pytest.approx((50, 44, 60)) and gan_lone.mean == pytest.approx(154 / 3)
    assert (gan_lone.ci95[0] > 0 and ratios["gan", SPECKS].values == pytest.approx((50, 60))
            and ratios["gan", SPECKS].ci95[0] == 0.0)
    # in words, rounded where the interval's half-width (20) puts the second digit: the ones
    assert "context: GAN, lone pixels per image, ratio to real: 51 [31, 71] (3 seeds)" in v.evidence()
    assert claim1(GAN, plus(GAN, MORE, MORE), plus(GAN, MORE, MORE)).context == ()  # no floor given, nothing shown


def test_claim1_not_measured_says_what_is_missing_and_how():
    v = judge_claim1(Claim1Input(Series("gan", {0: [Point(1, {LONE_PIXELS: 1.0})]}), (artifacts("vae-mean", GAN),)))
    assert v.verdict == "not measured" and "specks_per_image for gan" in v.notes[0] and "compare" in v.how
    only_pixels = judge_claim1(Claim1Input(artifacts("gan", GAN), (artifacts("vae-pixels", GAN),)))
    assert only_pixels.verdict == "not measured" and "per-pixel-means" in only_pixels.notes[0]


def run_metrics(order, ci=True, gan_lone=1.0, vae_lone=5.0):
    """A one-seed metrics.json / config.json pair with the continuity report's per-image intervals and real floor."""
    def numbers(lone, specks):
        out = {LONE_PIXELS: lone, SPECKS: specks}
        return {**out, **({f"{k}_ci95": [v - 0.2, v + 0.2] for k, v in out.items()} if ci else {})}

    models = {"gan": {"views": ["gan"], "steps": 200}, "gan:minimax": {"views": ["gan:minimax"], "steps": 200},
              "vae": {"views": ["vae-mean", "vae-pixels"], "steps": 200}}
    views = {"gan": numbers(gan_lone, 0.0), "gan:minimax": numbers(50.0, 9.0), "vae-mean": numbers(vae_lone, 1.0),
             "vae-pixels": numbers(9.0, 3.0)}
    config = {"seed": 3, "models": {"gan": {"generator_loss": "nonsaturating"},
                                    "gan:minimax": {"generator_loss": "minimax"}, "vae": {}}}
    continuity = {"views": views, "real": numbers(0.05, 0.02)}
    return {"models": {k: models[k] for k in order}, "continuity": continuity}, config


def test_single_run_adapter_uses_the_nonsaturating_gan_even_when_a_variant_is_listed_first():
    v = claim_a(*run_metrics(["gan:minimax", "gan", "vae"]))
    assert (v.verdict == "not decided" and "not decided: one seed" in v.notes
            and v.numbers[0].name == "VAE means minus GAN, lone pixels per image")
    # described, not deciding
    assert list(v.numbers[0].ci95) == pytest.approx([4 - math.hypot(0.2, 0.2), 4 + math.hypot(0.2, 0.2)])
    # 1.0 against the floor's 0.05
    assert {(c.subject, c.key): c.mean for c in v.context}[("gan", LONE_PIXELS)] == pytest.approx(20)
    assert claim_a(*run_metrics(["gan", "vae"], ci=False)).verdict == "not decided"
    assert claim_a(*run_metrics(["gan"])).verdict == "not measured"


def seeds_summary(order):
    def stat(values):
        return {"values": list(values)}

    models = {"gan:minimax": {f"continuity.{LONE_PIXELS}": stat([1, 1.1, 0.9]),
                              f"continuity.{SPECKS}": stat([0, 0, 0])},
              "vae": {f"continuity.{LONE_PIXELS}": stat([3, 4.1, 4.9]), f"continuity.{SPECKS}": stat([2, 2.5, 3])}}
    return {"seeds": [0, 1, 2], "models": {k: models[k] for k in order}}


def test_seeds_summary_with_a_gan_variant_first_is_judged_over_seeds():
    for order in (["gan:minimax", "vae"], ["vae", "gan:minimax"]):
        v = claim_a_over_seeds(seeds_summary(order))
        assert v.verdict == "supported" and v.n == 3 and list(v.numbers[0].ci95) == interval(3.0, 1.0)
    assert claim_a_over_seeds({"seeds": [0, 1, 2], "models": {"gan": {}, "vae": {}}}).verdict == "not measured"
    assert claim_a_over_seeds({"seeds": [0, 1, 2], "models": {"gan:minimax": {}, "gan": {}}}) is None


# ---- claim 3 ----

STEPS = list(range(25, 1001, 25))  # 40 points, all inside the early window of a 1000-step budget
THRESHOLD = math.exp(3)
MARGIN = math.log(1.05)


def curves(label, fid_shift=(0, 0, 0), kid_shift=(0, 0, 0), conf_drop=(0, 0, 0), steps=STEPS, flat_after=None):
    """log FID = 6 + shift - steps/100 (crosses THRESHOLD at 300 + 100 x shift); KID and confidence shifted alike.
    flat_after: the shifts fade linearly to zero at this step (the losses meet)."""
    def fade(t):
        return 1.0 if flat_after is None else max(0.0, 1 - t / flat_after)

    return Series(label,
                  {s: [Point(t, {FID: math.exp(6 + fid_shift[s] * fade(t) - t / 100),
                                 KID: 10 - t / 100 + kid_shift[s] * fade(t), CONFIDENCE: 0.8 - conf_drop[s] * fade(t)})
                       for t in steps] for s in range(len(fid_shift))})


def claim3_input(fid=(0.5, 0.6, 0.7), kid=(2, 3, 4), conf=(0.2, 0.3, 0.4), grads=None, budget=1000, **kw):
    return Claim3Input(curves("gan", (0,) * len(fid), **kw), curves("gan:minimax", fid, kid, conf, **kw), budget,
                       THRESHOLD, "(e^3)", grads or {})


def test_claim3_the_mean_log_fid_over_the_window_decides_and_the_rest_is_context():
    v = judge_claim3(claim3_input())
    assert v.verdict == "supported" and v.n == 3
    assert ([(r.key, r.mean) for r in v.numbers] == [(FID, pytest.approx(0.6))]
            and list(v.numbers[0].ci95) == interval(0.6, 0.1))
    assert [(c.key, c.mean) for c in v.context] == [(KID, pytest.approx(3)), (CONFIDENCE, pytest.approx(0.3)),
                                                    ("steps", pytest.approx(60))]
    assert [list(c.ci95) for c in v.context] == [interval(3, 1), interval(0.3, 0.1), interval(60, 10)]
    assert "first 1,000 steps" in v.rule and "log(1.05)" in v.rule and "context only" in v.rule


def test_claim3_outcomes_and_context_never_vetoes():
    neg = tuple(-x for x in (0.5, 0.6, 0.7))
    assert judge_claim3(claim3_input(neg, (-2, -3, -4), (-0.2, -0.3, -0.4))).verdict == "not supported"
    vetoed = judge_claim3(claim3_input(conf=(-0.2, -0.3, -0.4), kid=(-2, -3, -4)))  # confidence and KID favour minimax
    assert vetoed.verdict == "supported" and vetoed.context[1].ci95[1] < 0
    # [-0.025, 0.025] inside ±log 1.05
    assert judge_claim3(claim3_input((0.01, 0.0, -0.01))).verdict == "no practical difference"
    # [0.015, 0.065]: above 0, not above the margin
    assert judge_claim3(claim3_input((0.03, 0.04, 0.05))).verdict == "not decided"
    # [0.045, 0.095]: its low end under the margin
    assert judge_claim3(claim3_input((0.06, 0.07, 0.08))).verdict == "not decided"
    # [0.075, 0.125]: wholly above log 1.05 = 0.0488
    assert judge_claim3(claim3_input((0.09, 0.10, 0.11))).verdict == "supported"


def test_claim3_not_decided_shows_the_smallest_difference_in_fid_percent():
    v = judge_claim3(claim3_input((-0.1, 0.1, 0.2)))  # SD of the per-seed differences: 0.1528
    assert v.verdict == "not decided"
    sd = statistics.stdev([-0.1, 0.1, 0.2])
    by_hand = MARGIN + (4.302652729749462 + 1.0606601717798212) * sd / math.sqrt(3)
    assert any(n.startswith("smallest true difference") and f"{math.expm1(by_hand):.1%} in FID" in n for n in v.notes)


def test_claim3_gradient_norms_are_context_and_their_scale_changes_nothing():
    norms = {"gan": {0: 1.5, 1: 1.6, 2: 1.4}, "gan:minimax": {0: 0.1, 1: 0.2, 2: 0.1}}
    plain = judge_claim3(claim3_input())
    for factor in (0.1, 10):
        scaled = judge_claim3(claim3_input(grads={k: {s: factor * x for s, x in v.items()} for k, v in norms.items()}))
        assert (scaled.verdict, scaled.numbers) == (plain.verdict, plain.numbers)
        grads = [c for c in scaled.context if c.key == "gradnorm"]
        assert grads[0].mean == pytest.approx(1.5 * factor) and grads[1].ci95[0] >= 0  # a norm's interval stays >= 0
        assert any("invariant to the loss's scale" in n for n in scaled.notes)


def test_claim3_window_is_fixed_in_steps_and_needs_eight_points():
    sparse = list(range(200, 4001, 200))  # 5 points in the first 1,000 steps of 4,000
    v = judge_claim3(Claim3Input(curves("gan", steps=sparse), curves("gan:minimax", (1, 1, 1), steps=sparse), 4000,
                                 THRESHOLD))
    assert (v.verdict == "not measured" and "first 1,000 of 4000 steps: 5;" in v.notes[0]
            and "the rule needs 8" in v.notes[0])
    # the same 8 early points whatever the budget
    dense = [125 * i for i in range(1, 9)] + list(range(2000, 100_001, 1000))
    for budget in (1000, 4000, 100_000):
        v = judge_claim3(claim3_input(steps=[s for s in dense if s <= budget], budget=budget))
        assert v.verdict == "supported" and "8 points in the first 1,000 steps" in v.numbers[0].name
    # a budget under 1,000 steps: all of it
    short = judge_claim3(claim3_input(steps=list(range(50, 401, 50)), budget=400))
    assert short.verdict == "supported" and "8 points in the first 400 steps" in short.numbers[0].name
    assert ((early_window(400), early_window(1000), early_window(4000)) == (400, 1000, 1000)
            == (400, EARLY_WINDOW_STEPS, 1000))


def test_claim3_one_seed_is_not_decided_and_two_are_too_few():
    one = Claim3Input(Series("gan", {0: curves("gan").by_seed[0]}),
                      Series("gan:minimax", {0: curves("gan:minimax", (1, 1, 1)).by_seed[0]}), 1000, THRESHOLD)
    v = judge_claim3(one)
    assert v.verdict == "not decided" and "not decided: one seed" in v.notes
    two = judge_claim3(claim3_input((0.5, 0.6)))
    assert two.n == 2 and any(n.startswith("2 seeds are too few") for n in two.notes)


def test_steps_to_reach_interpolates_log_fid_and_censors_at_the_budget():
    points = [Point(100, {FID: 100.0}), Point(200, {FID: 10.0}), Point(300, {FID: 5.0})]
    assert steps_to_reach(points, math.sqrt(1000), 1000) == (pytest.approx(150), False)  # halfway in log FID
    assert steps_to_reach(points, 200.0, 1000) == (100.0, False)  # reached by the first point
    assert steps_to_reach(points, 1.0, 1000) == (1000.0, True)


def test_claim3_censoring_is_counted_and_steps_are_context():
    v = judge_claim3(claim3_input(fid=(0.5, 0.6, 8.0)))  # minimax on seed 2 never gets below e^3 in 1000 steps
    steps = v.context[2]
    assert steps.key == "steps" and steps.values == pytest.approx((50, 60, 1000 - 300))
    assert any("gan:minimax 1 of 3 seeds" in n for n in v.notes) and [r.key for r in v.numbers] == [FID]


def test_single_run_claim3_is_not_measured_with_few_points_or_without_minimax():
    metrics, config = run_metrics(["gan", "gan:minimax", "vae"])
    for label in ("gan", "gan:minimax"):
        metrics["models"][label]["curve"] = [{"steps": s, "views": {label: {FID: 100.0}}} for s in (25, 100, 200)]
    v = claim_c(metrics, config)
    assert v.verdict == "not measured" and "of 200 steps: 3;" in v.notes[0]
    v = claim_c(*run_metrics(["gan", "vae"]))
    assert v.verdict == "not measured" and "gan:minimax" in v.how


def test_single_run_claim3_with_enough_points_is_not_decided_and_reads_its_inputs():
    metrics, config = run_metrics(["gan:minimax", "gan"])
    config["models"]["gan:hinge"] = {"generator_loss": "hinge"}
    metrics["models"] = {"gan:hinge": {"views": ["gan:hinge"]}, **metrics["models"]}  # another GAN variant listed first
    metrics["quality"] = {"floor": {"fid": {"values": {"fid": 2.0}}}}
    for label, shift in (("gan", 0.0), ("gan:minimax", 1.0), ("gan:hinge", 2.0)):
        metrics["models"][label].update(
            steps=4000, grad_norms=[{"step": s, "generator": 3.0 + shift + s / 1000} for s in (1, 999, 3000)],
            curve=[{"steps": s, "views": {label: {FID: math.exp(6 + shift - s / 100)}}} for s in STEPS])
    v = claim_c(metrics, config)
    assert v.verdict == "not decided" and v.n == 1 and "not decided: one seed" in v.notes
    assert v.numbers[0].key == FID and v.numbers[0].mean == pytest.approx(1.0) and v.numbers[0].seeds == (3,)
    steps = next(c for c in v.context if c.key == "steps")
    assert steps.mean == pytest.approx(100 * math.log(40) - 100 * math.log(40 / math.e))
    assert any("20x the real-data floor 2" in n for n in v.notes)
    grads = [(c.name.split()[0], c.mean) for c in v.context if c.key == "gradnorm"]  # steps <= 1,000 only, no hinge
    assert grads == [("gan", pytest.approx(3.5)), ("gan:minimax", pytest.approx(4.5))]


# ---- verdicts against compute ----

def test_claim3_along_the_budget_holds_early_and_is_undecided_once_the_losses_meet():
    data = claim3_input(flat_after=500)
    points = claim3_along_budget(data)
    assert [p.steps for p in points] == STEPS and points[0].fraction == 0.025
    by_step = {p.steps: p.verdict.verdict for p in points}
    assert {v for s, v in by_step.items() if s < 400} == {"supported"}
    assert by_step[475] == "no practical difference"  # 0.03 [0.018, 0.042]: inside ±log 1.05
    assert {v for s, v in by_step.items() if s >= 500} == {"not decided"}  # identical: zero width
    first = points[0].verdict.numbers
    assert [n.key for n in first] == [FID] and first[0].mean == pytest.approx(0.6 * 0.95)  # the log-FID gap at step 25
    assert [c.key for c in points[0].verdict.context] == [KID, CONFIDENCE]


def test_claim1_along_the_budget_flips_where_the_gan_catches_up():
    def series(label, lone):  # lone pixels per seed at steps 1000, 2000, 3000, 4000
        return Series(label, {s: [Point(t, {LONE_PIXELS: lone[i][s], SPECKS: 0.5 + lone[i][s]})
                                  for i, t in enumerate((1000, 2000, 3000, 4000))] for s in range(3)})

    gan = series("gan", [(9, 10, 11), (4, 5, 6), (2, 3, 4), (2, 3, 4)])
    vae = series("vae-mean", [(4, 5.5, 6), (4, 5, 6), (4, 5, 4), (6, 7, 8.5)])
    points = claim1_along_budget(Claim1Input(gan, (vae,)), 4000)
    assert [(p.fraction, p.verdict.verdict) for p in points] == [(0.25, "not supported"), (0.5, "not decided"),
                                                                 (0.75, "not decided"), (1.0, "supported")]


# ---- claim 2 ----

PARAMS = (10_000, 100_000, 1_000_000)
# FID = 100 (params / 10^4)^-1/2 at PARAMS: interpolation in logs is exact
POWER_LAW = (100.0, 100 / math.sqrt(10), 10.0)


def sweep(label, means, spread=(0.98, 1.0, 1.02), params=PARAMS):
    """FID per seed = mean x spread[seed]."""
    return SizeSweep(label, tuple(WidthResult(w, p, {s: m * f for s, f in enumerate(spread)})
                                  for w, p, m in zip((0.25, 1, 4), params, means)))


GAN_SPREAD, VAE_SPREAD = (1.0, 1.02, 0.99), (0.98, 1.0, 1.03)


def power_law(k, gan_spread=GAN_SPREAD, vae_spread=VAE_SPREAD):
    """A GAN on the power law and a VAE needing k times its parameters: per seed, log(VAE / GAN parameters) at any
    target is log k + 2 (log vae_spread - log gan_spread), since a factor g on FID moves the crossing by 2 log g."""
    return [sweep("gan", POWER_LAW, gan_spread), sweep("vae", POWER_LAW, vae_spread, tuple(k * p for p in PARAMS))]


def test_claim2_supported_with_each_seeds_crossing_and_a_t_interval():
    v = judge_claim2(power_law(4))
    assert v.verdict == "supported" and len(v.targets) == 8 and {r.outcome for r in v.targets} == {"more"}
    hardest, easiest = 10 * 1.03, 100 * 0.98  # the worst seed's best FID; the best seed's FID at the smallest width
    assert [r.target for r in v.targets] == pytest.approx([hardest * (easiest / hardest) ** (i / 9)
                                                           for i in range(1, 9)])
    per_seed = [math.log(4) + 2 * (math.log(g) - math.log(f)) for f, g in zip(GAN_SPREAD, VAE_SPREAD)]
    sd = statistics.stdev(per_seed)
    for row in v.targets:
        assert (row.log_ratio.values == pytest.approx(per_seed)
                and list(row.log_ratio.ci95) == interval(statistics.mean(per_seed), sd))
        gan_logs = [math.log(1e4) + 2 * math.log(100 * f / row.target) for f in GAN_SPREAD]
        assert row.gan.params == pytest.approx(math.exp(statistics.mean(gan_logs)))
        assert row.gan.ci95[0] < row.gan.params < row.gan.ci95[1]
    json.dumps(v.to_json(), allow_nan=False)


def test_claim2_outcomes():
    assert judge_claim2(power_law(0.25)).verdict == "not supported"
    assert {r.outcome for r in judge_claim2(power_law(0.25)).targets} == {"fewer"}
    flatter = [sweep("gan", (100, 30, 10), (1.0, 1.005, 0.995)), sweep("vae", (40, 22, 15), (0.995, 1.0, 1.005))]
    # the VAE's flatter curve: more parameters at the hardest target, fewer at the easy ones
    mixed = judge_claim2(flatter)
    assert mixed.verdict == "mixed" and [r.outcome for r in mixed.targets] == ["more", "same"] + ["fewer"] * 6
    same = judge_claim2(power_law(1.05, GAN_SPREAD, (1.0, 1.021, 0.99)))  # log 1.05 ± 0.002: inside ±log 1.25
    assert same.verdict == "no practical difference" and {r.outcome for r in same.targets} == {"same"}
    equal = judge_claim2(power_law(1, GAN_SPREAD, GAN_SPREAD))  # identical per seed: zero width, no spread measured
    assert equal.verdict == "not decided" and {r.outcome for r in equal.targets} == {"overlap"}
    apart = judge_claim2([sweep("gan", (100, 50)), sweep("vae", (40, 20))])
    assert apart.verdict == "not decided" and "no FID every seed of both families crosses" in apart.notes[0]


def test_claim2_not_decided_shows_the_smallest_ratio_the_design_decides():
    v = judge_claim2(power_law(1.3, (1.0, 1.2, 0.9), (1.1, 0.85, 1.0)))
    assert v.verdict == "not decided" and {r.outcome for r in v.targets} == {"overlap"}
    per_seed = [math.log(1.3) + 2 * (math.log(g) - math.log(f)) for f, g in zip((1.0, 1.2, 0.9), (1.1, 0.85, 1.0))]
    ratio = math.exp(
        math.log(1.25) + (4.302652729749462 + 1.0606601717798212) * statistics.stdev(per_seed) / math.sqrt(3))
    assert any(n.startswith("smallest true difference") and f"{ratio:.3g}x parameters to {ratio:.3g}x" in n
               for n in v.notes)


def test_claim2_not_measured_without_a_family_or_with_one_width_and_not_decided_with_one_seed():
    v = judge_claim2([sweep("vae", (300, 90, 30)), sweep("vae:big", (200, 60, 20))])
    assert v.verdict == "not measured" and "missing: gan" in v.notes[0] and "compare study" in v.how
    one_width = SizeSweep("gan", (WidthResult(1, 10_000, {0: 50.0, 1: 51.0}),))
    assert judge_claim2([one_width, sweep("vae", (300, 90, 30))]).verdict == "not measured"
    one_seed = judge_claim2([sweep("gan", (100, 30, 10), (1.0,)), sweep("vae", (300, 90, 30), (1.0,))])
    assert one_seed.verdict == "not decided" and "needs >= 2 seeds" in one_seed.notes[0]
    two = judge_claim2(power_law(4, GAN_SPREAD[:2], VAE_SPREAD[:2]))
    assert two.n == 2 and any(n.startswith("2 seeds are too few") for n in two.notes)


def test_claim2_picks_each_family_by_family_whatever_the_labels():
    minimax_one_width = SizeSweep("gan:minimax", (WidthResult(1, 100_000, {0: 5.0, 1: 5.0, 2: 5.0}),))
    v = judge_claim2([minimax_one_width, sweep("gan:hinge", (100, 30, 10), GAN_SPREAD),
                      sweep("vae:big", (300, 90, 30), VAE_SPREAD)])
    assert v.verdict == "supported" and "gan:hinge vs vae:big" in v.notes[0]


def test_claim2_a_non_monotone_seed_is_read_at_its_first_crossing():
    # seed 1: FID 102, then 20 (below every target), then 60 (back above)
    bumpy = sweep("gan", (100, 30, 10), GAN_SPREAD)
    bumpy = SizeSweep("gan", tuple(WidthResult(w.width, w.params, {**w.fid_by_seed, 1: f})
                                   for w, f in zip(bumpy.widths, (102, 20, 60))))
    v = judge_claim2([bumpy, sweep("vae", (300, 90, 30), VAE_SPREAD)])
    row = v.targets[0]
    log_t = math.log(row.target)
    # between 10^4 and 10^5
    first = math.log(1e4) + (log_t - math.log(102)) / (math.log(20) - math.log(102)) * math.log(10)
    vae_1 = math.log(1e5) + (log_t - math.log(90)) / (math.log(30) - math.log(90)) * math.log(10)
    assert row.log_ratio.values[1] == pytest.approx(vae_1 - first)


def test_claim_b_reads_a_sweep_summary():
    def rows(label, means, spread):
        return [TrialRow(f"{label}-w{w}-s{s}", label, label, w, s, "adam", "done", f"trials/{label}-w{w}-s{s}",
                         {"total": p}, p, views={label: {"quality": {"fid": m * f}}}).to_json()
                for w, p, m in zip((0.25, 1, 4), PARAMS, means) for s, f in enumerate(spread)]

    summary = {"metrics": {"quality": {"key": "fid"}},
               "trials": rows("gan", (100, 30, 10), GAN_SPREAD) + rows("vae", (300, 90, 30), VAE_SPREAD)}
    assert claim_b([summary]).verdict == "supported"
    assert claim_b([]).verdict == "not measured" and "compare" in claim_b([]).how
    assert claim_b([{**summary, "trials": rows("vae", (300, 90, 30), VAE_SPREAD)}]).verdict == "not measured"
    by_path = {**summary, "metrics": {"quality": {"key": "quality.fid"}}}  # `compare sweep --quality quality.fid`
    assert claim_b([by_path]).to_json() == claim_b([summary]).to_json()
    kid = claim_b([{**summary, "metrics": {"quality": {"key": "kid_x1e3"}}}])
    assert kid.verdict == "not measured" and kid.notes == ("the rule reads FID; this sweep measured kid_x1e3",)


# ---- simulated known-answer controls ----

def test_every_simulated_rule_control_passes_in_quick_mode():
    results = rule_controls(quick=True)
    failed = [(r.control, r.expected, r.got) for r in results if not r.passed]
    assert not failed, failed
    assert len(results) >= 10 and all(r.counts.endswith("simulated studies") for r in results)
    json.dumps([r.to_json() for r in results], allow_nan=False)


# ---- figures ----

def test_each_figure_writes_a_png(tmp_path):
    c1 = claim1(GAN, plus(GAN, MORE, MORE), plus(GAN, (20, 30, 40), (3, 4, 5)))
    data3 = claim3_input()
    c2 = judge_claim2(power_law(4))
    strips = {"claim 1": claim1_along_budget(Claim1Input(artifacts("gan", GAN), (artifacts("vae-mean", GAN),)), 4000),
              "claim 3": claim3_along_budget(claim3_input(flat_after=500))}
    save_claim1_figure(c1, tmp_path / "c1.png")
    save_claim3_figure(data3, judge_claim3(data3), tmp_path / "c3.png")
    save_claim2_figure(c2, tmp_path / "c2.png")
    save_budget_strip(strips, tmp_path / "strip.png")
    for name in ("c1", "c2", "c3", "strip"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG
