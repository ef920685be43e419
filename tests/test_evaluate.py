"""Known answers in the digits evaluator's feature space: identical sets, dropped classes, growing damage, the floor."""

import dataclasses

import pytest
import torch
from torchvision.transforms.functional import gaussian_blur

from compare.data import load_dataset
from compare.errors import UserError
from compare.metrics.evaluator import load_domain_evaluator
from compare.metrics.quality import modes_hit
from compare.metrics.scoring import eval_sample_count, evaluate_views, flat_values, score_sets
from compare.report.text import quality_report
from compare.settings import MIN_RESAMPLES


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    return data, load_domain_evaluator(data)


def values(result: dict) -> dict:
    return flat_values(result["metrics"])


def score_values(real, fake, data, ext) -> dict:
    """score_sets' values at the fewest resamples (MIN_RESAMPLES): the known answers below are values, which do not
    depend on the resamples (test_fewer_resamples_change_the_intervals_never_the_values); fid_inf, which does, is
    not read."""
    return values(score_sets(real, fake, data, ext, resamples=MIN_RESAMPLES))


def test_identical_sets_score_perfectly(digits):
    data, ext = digits
    v = score_values(data.heldout, data.heldout, data, ext)
    assert v["fid"] == 0.0  # exactly: not the -1.6e-06 that the eigenvalues' rounding once gave
    assert (v["precision"], v["recall"], v["density"], v["coverage"]) == (1.0, 1.0, 1.0, 1.0)
    assert (v["modes_hit"], v["class_kl"], v["memorisation_ratio"]) == (10, 0.0, 1.0)


def test_removing_half_the_classes_loses_recall_coverage_and_exactly_those_modes(digits):
    data, ext = digits
    reference, judged, labels = data.train[:600], data.train[600:], data.train_labels[600:]
    full = score_values(reference, judged[:600], data, ext)
    keep = labels[:1200] < 5
    half = score_values(reference, judged[:1200][keep][:600], data, ext)
    assert half["recall"] < full["recall"] - 0.25 and half["coverage"] < full["coverage"] - 0.25
    assert half["fid"] > full["fid"] and half["class_kl"] > full["class_kl"] + 0.5
    assert (full["modes_hit"], half["modes_hit"]) == (10, 5)
    assert modes_hit(ext.extract(reference), ext.extract(judged[:1200][keep])).tolist() == [True] * 5 + [False] * 5


def _noise(x, s):
    return (x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)


@pytest.mark.parametrize("damage, levels", [
    (lambda x, s: x if s == 0 else gaussian_blur(x, 3, s), [0, 0.5, 0.8, 1.1]),
    (_noise, [0, 0.2, 0.3, 0.4]),
], ids=["blur", "noise"])
def test_growing_damage_scores_monotonically_worse(digits, damage, levels):
    data, ext = digits
    reference = data.train[:len(data.heldout)]
    rows = [score_values(reference, damage(data.heldout, s), data, ext) for s in levels]
    for key, sign in [("fid", 1), ("kid_x1e3", 1), ("precision", -1), ("density", -1), ("coverage", -1),
                      ("classifier_score", -1)]:
        series = [sign * r[key] for r in rows]
        assert series == sorted(series) and len(set(series)) == len(series), (key, series)
    assert [r["recall"] for r in rows] == sorted((r["recall"] for r in rows), reverse=True)


@pytest.mark.slow  # full evaluation
def test_views_are_scored_beside_the_real_floor_at_one_n_with_their_protocol_and_intervals(digits):
    data, ext = digits
    n = 150  # of digits' 180 held-out images: the floor takes the first 150
    noisy = _noise(data.heldout, 0.3)[:n]
    q = evaluate_views({"copy": data.heldout[:n].clone(), "noisy": noisy}, data, ext)
    # A "model" whose samples are the floor's held-out images scores exactly the floor: same N, same reference.
    assert q["views"]["copy"] == q["floor"]
    assert q["views"]["noisy"]["fid"]["values"]["fid"] > q["floor"]["fid"]["values"]["fid"]
    proto = q["views"]["noisy"]["precision_recall"]["protocol"]
    assert proto == {"extractor": "evaluator:digits", "weights_sha256": ext.weights_sha256, "n_real": n, "n_fake": n,
                     "k": 3, "bootstrap": {"resamples": 1000, "seed": 0,
                                           "resampled": "the judged set only (the reference set is pinned)",
                                           "interval": "bias-corrected percentile, clipped to the value's range"}}
    assert q["floor"]["fid"]["protocol"]["n_real"] == q["floor"]["fid"]["protocol"]["n_fake"] == n
    assert q["views"]["noisy"]["memorisation"]["protocol"] == {"extractor": "evaluator:digits",
                                                               "weights_sha256": ext.weights_sha256, "n_fake": n,
                                                               "n_train": len(data.train), "n_heldout": n}
    assert q["floor"]["memorisation"]["values"]["memorisation_ratio"] == 1.0
    assert q["extractor"]["source"] == "shipped"
    for entry in (q["floor"], q["views"]["noisy"]):
        for metric in ("fid", "kid", "precision_recall", "density_coverage"):
            for key, interval in entry[metric]["intervals"].items():
                assert (interval["resamples"] == 1000 and interval["ci95"][0] <= interval["ci95"][1]
                        and interval["se"] > 0), (metric, key)
    report = quality_report(q)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in report.splitlines() if line.startswith("|")]
    assert (rows[0] == ["metric", "unit", "better", "real floor", "copy", "noisy"]
            and [f"FID at N = {n}", "", "↓"] in [r[:3] for r in rows])
    assert f"held-out accuracy {ext.info['heldout_accuracy']:.2%}" in report


@pytest.mark.slow  # two full evaluations
def test_fewer_resamples_change_the_intervals_never_the_values(digits):
    data, ext = digits
    views = {"noisy": _noise(data.heldout, 0.3)[:150]}
    full, few = evaluate_views(views, data, ext), evaluate_views(views, data, ext, resamples=100)
    for entry in ("floor", "views"):
        a, b = (q[entry] if entry == "floor" else q[entry]["noisy"] for q in (full, few))
        for metric in a:
            # fid_inf subtracts the bootstrap's bias
            values = {k: v for k, v in a[metric]["values"].items() if k != "fid_inf"}
            assert values == {k: v for k, v in b[metric]["values"].items() if k != "fid_inf"}, metric
            for key, interval in b[metric].get("intervals", {}).items():
                assert interval["resamples"] == 100 and a[metric]["intervals"][key]["resamples"] == 1000, (metric, key)
        assert a["fid"]["intervals"]["fid"]["ci95"] != b["fid"]["intervals"]["fid"]["ci95"]


def test_the_floor_is_scored_once_per_process_for_the_same_inputs_and_again_for_others(digits, monkeypatch):
    from compare.metrics import scoring

    data, ext = digits
    monkeypatch.setattr(scoring, "_FLOORS", {})
    scored = []
    real = scoring.score_features
    monkeypatch.setattr(scoring, "score_features",
                        lambda sets, *a, **k: scored.append(sets["fake"]) or real(sets, *a, **k))
    views = {"noisy": _noise(data.heldout, 0.3)[:150]}
    first = evaluate_views(views, data, ext, resamples=MIN_RESAMPLES)
    first["floor"]["fid"]["values"]["fid"] = -1.0  # a caller's change to its copy reaches no later run
    second = evaluate_views(views, data, ext, resamples=MIN_RESAMPLES)
    assert len(scored) == 3  # the floor once, the view twice
    assert second["floor"]["fid"]["values"]["fid"] > 0 and second["views"] == first["views"]
    other_n = evaluate_views({"noisy": views["noisy"][:140]}, data, ext, resamples=MIN_RESAMPLES)
    other_resamples = evaluate_views(views, data, ext, resamples=MIN_RESAMPLES + 1)
    assert len(scored) == 7  # another N, another count of resamples: each its own floor, scored
    assert other_n["floor"]["fid"]["protocol"]["n_fake"] == 140
    assert other_resamples["floor"]["fid"]["intervals"]["fid"]["resamples"] == MIN_RESAMPLES + 1
    monkeypatch.setattr(scoring, "_FLOORS", {})
    assert evaluate_views(views, data, ext, resamples=MIN_RESAMPLES)["floor"] == second["floor"]  # scored afresh: equal


def test_views_of_another_n_than_each_other_or_more_than_the_heldout_split_are_refused(digits):
    data, ext = digits
    with pytest.raises(UserError, match=r"views of \[130, 150\] samples against 180 held-out images: every view and "
                                        r"the real-data floor"):
        evaluate_views({"a": data.train[:150], "b": data.train[:130]}, data, ext)
    with pytest.raises(UserError, match="must share one N, at most the held-out size"):
        evaluate_views({"a": data.train[:200]}, data, ext)


@pytest.mark.parametrize("asked, expected", [
    (None, 180), (128, 128), (180, 180),
    (127, "--eval-samples 127 is below the 128 feature dimensions, where FID's covariance is rank-deficient; give "
          "--eval-samples between 128 and 180"),
    (181, "--eval-samples 181 is more than the 180 held-out images of the real-data floor, which is scored at the same "
          "N; give --eval-samples between 128 and 180"),
])
def test_eval_sample_count_is_between_the_feature_dimension_and_the_heldout_size(digits, asked, expected):
    data, _ = digits
    if isinstance(expected, int):
        assert eval_sample_count(asked, data, 128) == expected
    else:
        with pytest.raises(UserError) as err:
            eval_sample_count(asked, data, 128)
        assert str(err.value) == expected


def test_a_heldout_split_below_the_feature_dimension_keeps_its_default_n_with_a_warning(digits):
    data, _ = digits
    small = dataclasses.replace(data, heldout=data.heldout[:40], heldout_labels=data.heldout_labels[:40])
    with pytest.warns(UserWarning, match="holds 40 images, fewer than the 128 feature dimensions: FID, KID and the "
                                         "k-NN metrics at N=40 are unreliable"):
        assert eval_sample_count(None, small, 128) == 40
    with pytest.raises(UserError, match="leave --eval-samples out: the held-out split of digits"):
        eval_sample_count(128, small, 128)


def test_curve_points_compare_against_the_final_evaluations_reference():
    from compare.metrics.curves import make_point_evaluator
    from compare.data import load_dataset
    from compare.metrics.scoring import evaluate_views
    from compare.metrics.evaluator import load_extractor

    data = load_dataset("digits")
    extractor = load_extractor("evaluator", data)
    views = {"noisy": (data.heldout + 0.2 * torch.rand(data.heldout.shape,
                                                       generator=torch.Generator().manual_seed(0))).clamp(0, 1)}
    # a value: any resamples
    final = evaluate_views(views, data, extractor, resamples=MIN_RESAMPLES)["views"]["noisy"]["fid"]["values"]["fid"]
    point = make_point_evaluator(data, extractor, len(views["noisy"]))(views)["noisy"]["fid"]
    assert point == pytest.approx(final, rel=1e-6)  # same reference images, so the curve ends where its points lead
