"""Known answers in the digits evaluator's feature space: identical sets, dropped classes, growing damage, the floor."""

import math

import pytest
import torch
from torchvision.transforms.functional import gaussian_blur

from compare.data import load_dataset
from compare.metrics.scoring import evaluate_views, flat_values, quality_report, score_sets
from compare.metrics.evaluator import load_domain_evaluator
from compare.metrics.quality import modes_hit


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    return data, load_domain_evaluator(data)


def values(result: dict) -> dict:
    return flat_values(result["metrics"])


def test_identical_sets_score_perfectly(digits):
    data, ext = digits
    v = values(score_sets(data.heldout, data.heldout, data, ext))
    assert abs(v["fid"]) < 1e-6
    assert (v["precision"], v["recall"], v["density"], v["coverage"]) == (1.0, 1.0, 1.0, 1.0)
    assert (v["modes_hit"], v["class_kl"], v["memorisation_ratio"]) == (10, 0.0, 1.0)


def test_removing_half_the_classes_loses_recall_coverage_and_exactly_those_modes(digits):
    data, ext = digits
    reference = data.train[:len(data.heldout)]
    full = values(score_sets(reference, data.heldout, data, ext))
    keep = data.heldout_labels < 5
    half = values(score_sets(reference, data.heldout[keep], data, ext))
    assert half["recall"] < full["recall"] - 0.25 and half["coverage"] < full["coverage"] - 0.25
    assert half["fid"] > full["fid"] and half["class_kl"] > full["class_kl"] + 0.5
    assert (full["modes_hit"], half["modes_hit"]) == (10, 5)
    assert modes_hit(ext.extract(reference), ext.extract(data.heldout[keep])).tolist() == [True] * 5 + [False] * 5


def _noise(x, s):
    return (x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)


@pytest.mark.parametrize("damage, levels", [
    (lambda x, s: x if s == 0 else gaussian_blur(x, 3, s), [0, 0.5, 0.8, 1.1]),
    (_noise, [0, 0.2, 0.3, 0.4]),
], ids=["blur", "noise"])
def test_growing_damage_scores_monotonically_worse(digits, damage, levels):
    data, ext = digits
    reference = data.train[:len(data.heldout)]
    rows = [values(score_sets(reference, damage(data.heldout, s), data, ext)) for s in levels]
    for key, sign in [("fid", 1), ("kid_mean", 1), ("precision", -1), ("density", -1), ("coverage", -1), ("classifier_score", -1)]:
        series = [sign * r[key] for r in rows]
        assert series == sorted(series) and len(set(series)) == len(series), (key, series)
    assert [r["recall"] for r in rows] == sorted((r["recall"] for r in rows), reverse=True)


def test_views_are_scored_beside_the_real_floor_with_their_protocol(digits):
    data, ext = digits
    n = len(data.heldout)
    noisy = _noise(data.heldout, 0.3)
    q = evaluate_views({"copy": data.heldout.clone(), "noisy": noisy, "few": noisy[:40]}, data, ext)
    # A "model" whose samples are the held-out set itself scores exactly the floor: same N, same reference.
    assert q["views"]["copy"] == q["floor"]
    assert q["views"]["noisy"]["fid"]["values"]["fid"] > q["floor"]["fid"]["values"]["fid"]
    proto = q["views"]["noisy"]["precision_recall"]["protocol"]
    assert proto == {"extractor": "evaluator:digits", "weights_sha256": ext.weights_sha256, "n_real": n, "n_fake": n, "k": 3}
    assert q["views"]["few"]["fid"]["protocol"]["n_real"] == 40 and q["floor"]["fid"]["protocol"]["n_real"] == n
    assert q["views"]["noisy"]["memorisation"]["protocol"] == {"extractor": "evaluator:digits", "weights_sha256": ext.weights_sha256,
                                                                "n_fake": n, "n_train": len(data.train), "n_heldout": n}
    assert q["floor"]["memorisation"]["values"]["memorisation_ratio"] == 1.0
    report = quality_report(q)
    assert "| fid | ↓ |" in report and "real floor | copy | noisy | few" in report
    assert f"held-out accuracy {ext.info['heldout_accuracy']:.2%}" in report
    assert all(v is None or math.isfinite(v) for m in q["views"]["few"].values() for v in m["values"].values())


def test_curve_points_compare_against_the_final_evaluations_reference():
    from compare.metrics.curves import make_point_evaluator
    from compare.data import load_dataset
    from compare.metrics.scoring import evaluate_views
    from compare.metrics.evaluator import load_extractor

    data = load_dataset("digits")
    extractor = load_extractor("evaluator", data)
    views = {"noisy": (data.heldout + 0.2 * torch.rand(data.heldout.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)}
    final = evaluate_views(views, data, extractor)["views"]["noisy"]["fid"]["values"]["fid"]
    point = make_point_evaluator(data, extractor, len(views["noisy"]))(views)["noisy"]["fid"]
    assert point == pytest.approx(final, rel=1e-6)  # same reference images, so the curve ends where its points lead
