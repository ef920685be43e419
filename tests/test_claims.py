"""Verdicts on the source's claims from constructed inputs: each rule gives the answer it states, with its numbers."""

import json
import math

import pytest
from scipy.stats import t as student_t

from compare.report.claim_figures import save_budget_strip, save_claim1_figure, save_claim2_figure, save_claim3_figure
from compare.report.claim_inputs import claim_a, claim_a_over_seeds, claim_b, claim_c
from compare.report.claims import (
    CONFIDENCE, FID, KID, LONE_PIXELS, SPECKS, Claim1Input, Claim3Input, Point, Series, SizeSweep, WidthResult,
    claim1_along_budget, claim3_along_budget, family_of, judge_claim1, judge_claim2, judge_claim3, steps_to_reach, view_kind,
)

T3 = float(student_t.ppf(0.975, 2)) / math.sqrt(3)  # t 95% half-width per unit SD at 3 seeds
PNG = b"\x89PNG\r\n\x1a\n"


def interval(mean, sd):
    return pytest.approx([mean - T3 * sd, mean + T3 * sd])


# ---- claim 1 ----

def artifacts(label, per_seed, kind=""):
    """per_seed: [(lone pixels, specks), ...] for seeds 0, 1, 2, ..."""
    return Series(label, {s: [Point(4000, {LONE_PIXELS: lone, SPECKS: specks})] for s, (lone, specks) in enumerate(per_seed)}, kind)


GAN = [(1.0, 0.5), (1.1, 0.6), (0.9, 0.4)]


def plus(base, lone, specks):
    return [(a + x, b + y) for (a, b), x, y in zip(base, lone, specks)]


def claim1(gan, mean, pixels, gan_label="gan"):
    return judge_claim1(Claim1Input(artifacts(gan_label, gan), (artifacts("vae-mean", mean), artifacts("vae-pixels", pixels))))


def test_claim1_supported_with_paired_t_intervals():
    v = claim1(GAN, plus(GAN, (2, 3, 4), (0.3, 0.4, 0.5)), plus(GAN, (20, 30, 40), (3, 4, 5)))
    assert v.verdict == "supported" and v.n == 3
    lone, specks = v.numbers[0], v.numbers[1]
    assert (lone.subject, lone.key, lone.mean, lone.values) == ("vae-mean", LONE_PIXELS, pytest.approx(3.0), pytest.approx((2, 3, 4)))
    assert list(lone.ci95) == interval(3.0, 1.0) and list(specks.ci95) == interval(0.4, 0.1)
    assert v.to_json()["numbers"][0]["ci95"] == interval(3.0, 1.0)
    json.dumps(v.to_json(), allow_nan=False)


def test_claim1_gan_with_zero_specks_is_a_value_not_an_undefined_ratio():
    gan = [(1.0, 0.0), (1.1, 0.0), (0.9, 0.0)]
    v = claim1(gan, plus(gan, (2, 3, 4), (0.3, 0.4, 0.5)), plus(gan, (2, 3, 4), (0.3, 0.4, 0.5)))
    assert v.verdict == "supported" and list(v.numbers[1].ci95) == interval(0.4, 0.1)


def test_claim1_ten_times_the_lone_pixels_and_1_4_times_the_specks_is_decided_by_intervals():
    gan = [(1.0, 1.0), (1.1, 1.1), (0.9, 0.9)]
    vae = [(10 * a, 1.4 * b) for a, b in gan]
    v = claim1(gan, vae, vae)
    assert v.verdict == "supported"
    assert v.numbers[1].mean == pytest.approx(0.4) and list(v.numbers[1].ci95) == interval(0.4, 0.04)


def test_claim1_no_flip_between_1_49_and_1_51_times():
    gan = [(1.0, 1.0), (1.1, 1.1), (0.9, 0.9)]
    verdicts = {f: claim1(gan, [(f * a, f * b) for a, b in gan], gan).verdict for f in (1.49, 1.50, 1.51)}
    assert verdicts == {1.49: "supported", 1.50: "supported", 1.51: "supported"}
    assert claim1(gan, gan, gan).verdict == "not decided"  # equal: every interval is [0, 0]


def test_claim1_any_gan_variant_is_the_gan_and_any_vae_view_a_vae():
    vae = plus(GAN, (2, 3, 4), (0.3, 0.4, 0.5))
    assert claim1(GAN, vae, vae, gan_label="gan:hinge").verdict == "supported"
    v = judge_claim1(Claim1Input(artifacts("gan:wgan-gp", GAN), (artifacts("vae:big-mean", vae),)))
    assert v.verdict == "supported"
    assert [family_of(x) for x in ("gan:minimax", "vae", "vae-pixels", "vae:big-mean", "other")] == ["gan", "vae", "vae", "vae", None]
    assert [view_kind(x) for x in ("vae", "vae-mean", "vae-pixels", "vae:big-pixels", "gan:hinge")] == ["mean", "mean", "pixels", "pixels", ""]
    with pytest.raises(ValueError, match="is not a gan"):
        judge_claim1(Claim1Input(artifacts("vae-mean", GAN), (artifacts("vae-pixels", vae),)))


def test_claim1_the_means_decide_and_the_pixel_draws_can_make_it_mixed():
    fewer, more, open_ = (-2, -3, -4), (2, 3, 4), (-1, 0, 2)
    cases = {
        "mixed": (plus(GAN, fewer, (-0.3, -0.4, -0.5)), plus(GAN, more, (0.3, 0.4, 0.5))),  # means fewer, pixel draws more
        "not supported": (plus(GAN, fewer, (-0.3, -0.4, -0.5)), plus(GAN, open_, open_)),
        "supported ": (plus(GAN, more, (0.3, 0.4, 0.5)), plus(GAN, open_, open_)),
        "not decided": (plus(GAN, more, (-0.1, 0, 0.1)), plus(GAN, more, (0.3, 0.4, 0.5))),  # the means' specks overlap zero
        "mixed ": (plus(GAN, more, (-0.3, -0.4, -0.5)), plus(GAN, open_, open_)),  # the means: more lone pixels, fewer specks
    }
    assert {name: claim1(GAN, mean, pixels).verdict for name, (mean, pixels) in cases.items()} == {k: k.strip() for k in cases}


def test_claim1_one_seed_decides_only_with_per_image_intervals():
    gan = Series("gan", {7: [Point(4000, {LONE_PIXELS: 2.0, SPECKS: 0.0}, {LONE_PIXELS: (1.5, 2.5), SPECKS: (0.0, 0.0)})]})
    vae = Series("vae-mean", {7: [Point(4000, {LONE_PIXELS: 5.0, SPECKS: 0.3}, {LONE_PIXELS: (4.0, 6.0), SPECKS: (0.2, 0.4)})]})
    v = judge_claim1(Claim1Input(gan, (vae,)))
    assert v.verdict == "supported" and v.n == 1 and v.numbers[0].seeds == (7,)
    assert list(v.numbers[0].ci95) == pytest.approx([3 - math.hypot(1, 0.5), 3 + math.hypot(1, 0.5)])  # MOVER
    assert list(v.numbers[1].ci95) == pytest.approx([0.2, 0.4])
    assert any("one seed" in note for note in v.notes)
    bare = judge_claim1(Claim1Input(Series("gan", {7: [Point(4000, {LONE_PIXELS: 2.0, SPECKS: 0.0})]}),
                                    (Series("vae-mean", {7: [Point(4000, {LONE_PIXELS: 5.0, SPECKS: 0.3})]}),)))
    assert bare.verdict == "not decided" and any("needs >= 2 seeds" in note for note in bare.notes)


def test_claim1_not_measured_says_what_is_missing_and_how():
    v = judge_claim1(Claim1Input(Series("gan", {0: [Point(1, {LONE_PIXELS: 1.0})]}), (artifacts("vae-mean", GAN),)))
    assert v.verdict == "not measured" and "specks_per_image for gan" in v.notes[0] and "compare" in v.how
    only_pixels = judge_claim1(Claim1Input(artifacts("gan", GAN), (artifacts("vae-pixels", GAN),)))
    assert only_pixels.verdict == "not measured" and "per-pixel-means" in only_pixels.notes[0]


def run_metrics(order, ci=True, gan_lone=1.0, vae_lone=5.0):
    """A one-seed metrics.json / config.json pair with the continuity report's per-image intervals."""
    def numbers(lone, specks):
        out = {LONE_PIXELS: lone, SPECKS: specks}
        return {**out, **({f"{k}_ci95": [v - 0.2, v + 0.2] for k, v in out.items()} if ci else {})}

    models = {"gan": {"views": ["gan"], "steps": 200}, "gan:minimax": {"views": ["gan:minimax"], "steps": 200},
              "vae": {"views": ["vae-mean", "vae-pixels"], "steps": 200}}
    views = {"gan": numbers(gan_lone, 0.0), "gan:minimax": numbers(50.0, 9.0), "vae-mean": numbers(vae_lone, 1.0), "vae-pixels": numbers(9.0, 3.0)}
    config = {"seed": 3, "models": {"gan": {"generator_loss": "nonsaturating"}, "gan:minimax": {"generator_loss": "minimax"}, "vae": {}}}
    return {"models": {k: models[k] for k in order}, "continuity": {"views": views}}, config


def test_single_run_adapter_uses_the_nonsaturating_gan_even_when_a_variant_is_listed_first():
    v = claim_a(*run_metrics(["gan:minimax", "gan", "vae"]))
    assert v.verdict == "supported" and v.numbers[0].name == "vae-mean - gan lone_pixels_per_image"
    assert list(v.numbers[0].ci95) == pytest.approx([4 - math.hypot(0.2, 0.2), 4 + math.hypot(0.2, 0.2)])
    assert claim_a(*run_metrics(["gan", "vae"], ci=False)).verdict == "not decided"
    assert claim_a(*run_metrics(["gan"])).verdict == "not measured"


def seeds_summary(order):
    def stat(values):
        return {"values": list(values)}

    models = {"gan:minimax": {f"continuity.{LONE_PIXELS}": stat([1, 1.1, 0.9]), f"continuity.{SPECKS}": stat([0, 0, 0])},
              "vae": {f"continuity.{LONE_PIXELS}": stat([3, 4.1, 4.9]), f"continuity.{SPECKS}": stat([0.3, 0.4, 0.5])}}
    return {"seeds": [0, 1, 2], "models": {k: models[k] for k in order}}


def test_seeds_summary_with_a_gan_variant_first_is_judged_over_seeds():
    for order in (["gan:minimax", "vae"], ["vae", "gan:minimax"]):
        v = claim_a_over_seeds(seeds_summary(order))
        assert v.verdict == "supported" and v.n == 3 and list(v.numbers[0].ci95) == interval(3.0, 1.0)
    assert claim_a_over_seeds({"seeds": [0, 1, 2], "models": {"gan": {}, "vae": {}}}).verdict == "not measured"
    assert claim_a_over_seeds({"seeds": [0, 1, 2], "models": {"gan:minimax": {}, "gan": {}}}) is None


# ---- claim 3 ----

STEPS = list(range(25, 1001, 25))  # 8 points in the first 20% of a 1000-step budget
THRESHOLD = math.exp(3)


def curves(label, fid_shift=(0, 0, 0), kid_shift=(0, 0, 0), conf_drop=(0, 0, 0), steps=STEPS, flat_after=None):
    """log FID = 6 + shift - steps/100 (crosses THRESHOLD at 300 + 100 x shift); KID and confidence shifted alike.
    flat_after: the shifts fade linearly to zero at this step (the losses meet)."""
    def fade(t):
        return 1.0 if flat_after is None else max(0.0, 1 - t / flat_after)

    return Series(label, {s: [Point(t, {FID: math.exp(6 + fid_shift[s] * fade(t) - t / 100), KID: 10 - t / 100 + kid_shift[s] * fade(t),
                                        CONFIDENCE: 0.8 - conf_drop[s] * fade(t)}) for t in steps] for s in range(3)})


def claim3_input(fid=(0.5, 0.6, 0.7), kid=(2, 3, 4), conf=(0.2, 0.3, 0.4), grads=None, **kw):
    return Claim3Input(curves("gan"), curves("gan:minimax", fid, kid, conf, **kw), 1000, THRESHOLD, "(e^3)", grads or {})


def test_claim3_supported_with_every_reading_and_its_interval():
    v = judge_claim3(claim3_input())
    assert v.verdict == "supported" and v.n == 3
    assert [(r.key, r.mean) for r in v.numbers] == [(FID, pytest.approx(0.6)), (KID, pytest.approx(3)), (CONFIDENCE, pytest.approx(0.3)),
                                                  ("steps", pytest.approx(60))]
    assert [list(r.ci95) for r in v.numbers] == [interval(0.6, 0.1), interval(3, 1), interval(0.3, 0.1), interval(60, 10)]


def test_claim3_not_supported_mixed_and_not_decided():
    neg = tuple(-x for x in (0.5, 0.6, 0.7))
    assert judge_claim3(claim3_input(neg, (-2, -3, -4), (-0.2, -0.3, -0.4))).verdict == "not supported"
    assert judge_claim3(claim3_input(conf=(-0.2, -0.3, -0.4))).verdict == "mixed"  # quality favours it, confidence minimax
    assert judge_claim3(claim3_input((-0.1, 0.1, 0.2), (-1, 0, 2), (-0.1, 0, 0.1))).verdict == "not decided"


def test_claim3_gradient_norms_are_context_and_their_scale_changes_nothing():
    norms = {"gan": {0: 1.5, 1: 1.6, 2: 1.4}, "gan:minimax": {0: 0.1, 1: 0.2, 2: 0.1}}
    plain = judge_claim3(claim3_input())
    for factor in (0.1, 10):
        scaled = judge_claim3(claim3_input(grads={k: {s: factor * x for s, x in v.items()} for k, v in norms.items()}))
        assert (scaled.verdict, scaled.numbers) == (plain.verdict, plain.numbers)
        assert scaled.context[0].mean == pytest.approx(1.5 * factor)
        assert any("invariant to the loss's scale" in n for n in scaled.notes)


def test_claim3_needs_six_early_points():
    sparse = list(range(50, 1001, 50))  # 4 points in the first 200 steps
    v = judge_claim3(Claim3Input(curves("gan", steps=sparse), curves("gan:minimax", (1, 1, 1), steps=sparse), 1000, THRESHOLD))
    assert v.verdict == "not measured" and "of 1000 steps: 4;" in v.notes[0] and "curve schedule" in v.how


def test_claim3_one_seed_is_not_decided():
    one = Claim3Input(Series("gan", {0: curves("gan").by_seed[0]}), Series("gan:minimax", {0: curves("gan:minimax", (1, 1, 1)).by_seed[0]}),
                      1000, THRESHOLD)
    v = judge_claim3(one)
    assert v.verdict == "not decided" and any("needs >= 2 seeds" in n for n in v.notes)


def test_steps_to_reach_interpolates_log_fid_and_censors_at_the_budget():
    points = [Point(100, {FID: 100.0}), Point(200, {FID: 10.0}), Point(300, {FID: 5.0})]
    assert steps_to_reach(points, math.sqrt(1000), 1000) == (pytest.approx(150), False)  # halfway in log FID
    assert steps_to_reach(points, 200.0, 1000) == (100.0, False)  # reached by the first point
    assert steps_to_reach(points, 1.0, 1000) == (1000.0, True)


def test_claim3_censoring_is_counted_and_all_censored_leaves_the_verdict():
    late = claim3_input(fid=(0.5, 0.6, 8.0))  # minimax on seed 2 never gets below e^3 in 1000 steps
    v = judge_claim3(late)
    steps = v.numbers[-1]
    assert steps.key == "steps" and steps.values == pytest.approx((50, 60, 1000 - 300))
    assert any("gan:minimax 1 of 3 seeds" in n for n in v.notes)
    clear = claim3_input()
    never = Claim3Input(clear.nonsaturating, clear.minimax, 1000, math.exp(-20))
    v = judge_claim3(never)
    assert [r.key for r in v.numbers] == [FID, KID, CONFIDENCE] and v.context[-1].key == "steps"
    assert any("left out of the verdict" in n for n in v.notes) and v.verdict == "supported"


def test_single_run_claim3_is_not_measured_with_few_points_or_without_minimax():
    metrics, config = run_metrics(["gan", "gan:minimax", "vae"])
    for label in ("gan", "gan:minimax"):
        metrics["models"][label]["curve"] = [{"steps": s, "views": {label: {FID: 100.0}}} for s in (25, 100, 200)]
    v = claim_c(metrics, config)
    assert v.verdict == "not measured" and "of 200 steps: 1;" in v.notes[0]
    v = claim_c(*run_metrics(["gan", "vae"]))
    assert v.verdict == "not measured" and "gan:minimax" in v.how


def test_single_run_claim3_with_enough_points_is_not_decided_and_reads_its_inputs():
    metrics, config = run_metrics(["gan:minimax", "gan"])
    config["models"]["gan:hinge"] = {"generator_loss": "hinge"}
    metrics["models"] = {"gan:hinge": {"views": ["gan:hinge"]}, **metrics["models"]}  # another GAN variant listed first
    metrics["quality"] = {"floor": {"fid": {"values": {"fid": 2.0}}}}
    for label, shift in (("gan", 0.0), ("gan:minimax", 1.0), ("gan:hinge", 2.0)):
        metrics["models"][label].update(steps=1000, grad_norms=[{"step": s, "generator": 3.0 + shift} for s in (1, 100, 900)],
                                        curve=[{"steps": s, "views": {label: {FID: math.exp(6 + shift - s / 100)}}} for s in STEPS])
    v = claim_c(metrics, config)
    assert v.verdict == "not decided" and v.n == 1 and any("needs >= 2 seeds" in n for n in v.notes)
    assert v.numbers[0].key == FID and v.numbers[0].mean == pytest.approx(1.0) and v.numbers[0].seeds == (3,)
    assert v.numbers[-1].key == "steps" and v.numbers[-1].mean == pytest.approx(100 * math.log(40) - 100 * math.log(40 / math.e))
    assert any("20x the real-data floor 2" in n for n in v.notes)
    assert [(c.name.split()[0], c.mean) for c in v.context] == [("gan", 3.0), ("gan:minimax", 4.0)]  # steps <= 200 only, no hinge


# ---- verdicts against compute ----

def test_claim3_along_the_budget_holds_early_and_is_undecided_once_the_losses_meet():
    data = claim3_input(flat_after=500)
    points = claim3_along_budget(data)
    assert [p.steps for p in points] == STEPS and points[0].fraction == 0.025
    assert {p.verdict.verdict for p in points if p.steps < 400} == {"supported"}
    assert {p.verdict.verdict for p in points if p.steps >= 500} == {"not decided"}
    first = points[0].verdict.numbers[0]
    assert first.key == FID and first.mean == pytest.approx(0.6 * 0.95)  # the log-FID gap at step 25


def test_claim1_along_the_budget_flips_where_the_gan_catches_up():
    def series(label, lone):  # lone pixels per seed at steps 1000, 2000, 3000, 4000
        return Series(label, {s: [Point(t, {LONE_PIXELS: lone[i][s], SPECKS: 0.5 + lone[i][s]}) for i, t in enumerate((1000, 2000, 3000, 4000))]
                              for s in range(3)})

    gan = series("gan", [(9, 10, 11), (4, 5, 6), (2, 3, 4), (2, 3, 4)])
    vae = series("vae-mean", [(4, 5, 6), (4, 5, 6), (4, 5, 4), (6, 7, 8)])
    points = claim1_along_budget(Claim1Input(gan, (vae,)), 4000)
    assert [(p.fraction, p.verdict.verdict) for p in points] == [(0.25, "not supported"), (0.5, "not decided"),
                                                                 (0.75, "not decided"), (1.0, "supported")]


# ---- claim 2 ----

PARAMS = (10_000, 100_000, 1_000_000)


def sweep(label, means, spread=(0.98, 1.0, 1.02), params=PARAMS):
    """FID per seed = mean x spread[seed]: the seed-mean curve is `means` exactly."""
    return SizeSweep(label, tuple(WidthResult(w, p, {s: m * f for s, f in enumerate(spread)}) for w, p, m in zip((0.25, 1, 4), params, means)))


def test_claim2_supported_with_interpolated_parameters_per_target():
    v = judge_claim2([sweep("gan", (100, 30, 10)), sweep("vae", (300, 90, 30))])
    assert v.verdict == "supported" and len(v.targets) == 8 and {r.outcome for r in v.targets} == {"more"}
    targets = [r.target for r in v.targets]
    assert targets == pytest.approx([30 * (100 / 30) ** (i / 9) for i in range(1, 9)])  # log-spaced strictly inside [30, 100]
    row = v.targets[0]  # FID 34.29: the GAN crosses between 10^4 (100) and 10^5 (30), the VAE between 10^5 (90) and 10^6 (30)
    gan_log = 4 + math.log(row.target / 100) / math.log(0.3)
    vae_log = 5 + math.log(row.target / 90) / math.log(30 / 90)
    assert row.gan.point == pytest.approx((10 ** gan_log,) * 2) and row.vae.point == pytest.approx((10 ** vae_log,) * 2)
    assert row.log_ratio.mean == pytest.approx((vae_log - gan_log) * math.log(10))
    assert row.log_ratio.ci95[0] <= row.log_ratio.mean <= row.log_ratio.ci95[1]


def test_claim2_a_vae_with_a_worse_best_fid_that_needs_fewer_parameters_is_not_supported():
    v = judge_claim2([sweep("gan", (100, 30, 10)), sweep("vae", (40, 11, 11.5))])  # the VAE's best (11) is worse than the GAN's (10)
    assert v.verdict == "not supported" and {r.outcome for r in v.targets} == {"fewer"}


def test_claim2_mixed_overlapping_and_empty_range():
    assert judge_claim2([sweep("gan", (100, 30, 10)), sweep("vae", (50, 25, 12))]).verdict == "mixed"  # more at hard, fewer at easy
    same = judge_claim2([sweep("gan", (100, 30, 10)), sweep("vae", (100, 30, 10))])
    assert same.verdict == "not decided" and {r.outcome for r in same.targets} == {"overlap"}
    apart = judge_claim2([sweep("gan", (100, 50)), sweep("vae", (40, 20))])
    assert apart.verdict == "not decided" and "no FID both families reach" in apart.notes[0]


def test_claim2_not_measured_without_a_family_or_with_one_width_and_not_decided_with_one_seed():
    v = judge_claim2([sweep("vae", (300, 90, 30)), sweep("vae:big", (200, 60, 20))])
    assert v.verdict == "not measured" and "missing: gan" in v.notes[0] and "compare study" in v.how
    one_width = SizeSweep("gan", (WidthResult(1, 10_000, {0: 50.0, 1: 51.0}),))
    assert judge_claim2([one_width, sweep("vae", (300, 90, 30))]).verdict == "not measured"
    one_seed = judge_claim2([sweep("gan", (100, 30, 10), (1.0,)), sweep("vae", (300, 90, 30), (1.0,))])
    assert one_seed.verdict == "not decided" and "needs >= 2 seeds" in one_seed.notes[0]


def test_claim2_picks_each_family_by_family_whatever_the_labels():
    minimax_one_width = SizeSweep("gan:minimax", (WidthResult(1, 100_000, {0: 5.0, 1: 5.0, 2: 5.0}),))
    v = judge_claim2([minimax_one_width, sweep("gan:hinge", (100, 30, 10)), sweep("vae:big", (300, 90, 30))])
    assert v.verdict == "supported" and "gan:hinge vs vae:big" in v.notes[0]


def noisy():
    """8 seeds (6,435 distinct resamples): the interval's ends depend on which resamples are drawn."""
    return [sweep("gan", (100, 30, 10), (0.8, 1.0, 1.3, 0.9, 1.1, 0.7, 1.2, 1.0)),
            sweep("vae", (120, 40, 12), (1.2, 0.9, 1.0, 0.85, 0.75, 1.3, 1.05, 0.95))]


def test_claim2_bootstrap_is_reproducible_with_its_seed():
    a, b, c = judge_claim2(noisy(), seed=5), judge_claim2(noisy(), seed=5), judge_claim2(noisy(), seed=6)
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())
    assert [r.log_ratio.ci95 for r in a.targets] != [r.log_ratio.ci95 for r in c.targets]


def test_claim2_censored_needs_are_bounds_and_null_in_json():
    wide = [sweep("gan", (100, 30, 10), (0.5, 1.0, 1.5)), sweep("vae", (300, 90, 30), (0.5, 1.0, 1.5))]
    v = judge_claim2(wide)
    hardest = v.targets[0].vae  # resamples whose VAE mean stays above the target at the largest width: censored
    assert hardest.ci95[1] == math.inf and hardest.to_json()["ci95"][1] is None
    row = judge_claim2([sweep("gan", (100, 30, 10)), sweep("vae", (300, 90, 30))], targets=1).targets[0]
    assert row.gan.censored is None
    bumpy = [sweep("gan", (15, 25, 10)), sweep("vae", (300, 90, 12))]  # the GAN's smallest width already reaches FID 15-25
    low = judge_claim2(bumpy).targets[-1]
    assert low.gan.censored == "at or below the smallest width" and low.gan.to_json()["params"] is None
    assert low.gan.to_json()["bounds"] == [0.0, pytest.approx(10_000)]  # a bound: somewhere up to the smallest width
    json.dumps(v.to_json(), allow_nan=False)


def test_claim_b_reads_a_sweep_summary():
    def rows(label, means):
        return [{"model": label, "width": w, "seed": s, "status": "done", "size": p, "quality": m * f}
                for w, p, m in zip((0.25, 1, 4), PARAMS, means) for s, f in enumerate((0.98, 1.0, 1.02))]

    summary = {"metrics": {"quality": {"key": "fid"}}, "trials": rows("gan", (100, 30, 10)) + rows("vae", (300, 90, 30))}
    assert claim_b([summary]).verdict == "supported"
    assert claim_b([]).verdict == "not measured" and "compare" in claim_b([]).how
    assert claim_b([{**summary, "trials": rows("vae", (300, 90, 30))}]).verdict == "not measured"
    by_path = {**summary, "metrics": {"quality": {"key": "quality.fid"}}}  # `compare sweep --quality quality.fid`
    assert claim_b([by_path]).to_json() == claim_b([summary]).to_json()
    kid = claim_b([{**summary, "metrics": {"quality": {"key": "kid_x1e3"}}}])
    assert kid.verdict == "not measured" and kid.notes == ("the rule reads FID; this sweep measured kid_x1e3",)


# ---- figures ----

def test_each_figure_writes_a_png(tmp_path):
    c1 = claim1(GAN, plus(GAN, (2, 3, 4), (0.3, 0.4, 0.5)), plus(GAN, (20, 30, 40), (3, 4, 5)))
    data3 = claim3_input()
    c2 = judge_claim2([sweep("gan", (15, 25, 10), (0.5, 1.0, 1.5)), sweep("vae", (300, 90, 12), (0.5, 1.0, 1.5))])  # censored ends
    strips = {"claim 1": claim1_along_budget(Claim1Input(artifacts("gan", GAN), (artifacts("vae-mean", GAN),)), 4000),
              "claim 3": claim3_along_budget(claim3_input(flat_after=500))}
    save_claim1_figure(c1, tmp_path / "c1.png")
    save_claim3_figure(data3, judge_claim3(data3), tmp_path / "c3.png")
    save_claim2_figure(c2, tmp_path / "c2.png")
    save_budget_strip(strips, tmp_path / "strip.png")
    for name in ("c1", "c2", "c3", "strip"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG
