"""Known answers of the feature-space quality metrics, on synthetic features (no network involved)."""

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from compare import stats
from compare.metrics import METRICS, manifold, quality
from compare.metrics.quality import (Features, classifier_score, mean_confidence, density_coverage,
                                     density_coverage_weighted, fid, fid_weighted, frechet_distance, full_set, kid,
                                     kid_weighted, mean_cov, memorisation, mode_coverage, modes_hit, precision_recall,
                                     precision_recall_weighted)


def feats(x: torch.Tensor, labels: torch.Tensor | None = None, classes: int = 4) -> Features:
    labels = torch.zeros(len(x), dtype=torch.long) if labels is None else labels
    return Features(x, torch.nn.functional.one_hot(labels, classes).float())


def gaussian(n, dim, seed, shift=0.0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_feature_metrics_are_registered_with_their_inputs():
    names = {n for n, m in METRICS.items() if m.space == "features"}
    assert names == {"fid", "kid", "precision_recall", "density_coverage", "classifier_score", "confidence",
                     "mode_coverage", "memorisation"}
    assert METRICS["precision_recall"].params == {"k": 3} and METRICS["density_coverage"].params == {"k": 5}
    assert METRICS["memorisation"].inputs == ("fake", "train", "heldout")
    assert {n for n, m in METRICS.items() if m.weighted is not None} == {"fid", "kid", "precision_recall",
                                                                         "density_coverage"}
    assert METRICS["kid"].better == {"kid_x1e3": "lower"} and METRICS["kid"].params == {}


def test_identical_sets_give_fid_zero_and_perfect_precision_recall_density_coverage():
    x = feats(gaussian(400, 16, 0).float(), torch.arange(400) % 4)
    # the unbiased MMD^2 of a set with itself is -mean k_xy/(n-1) < 0
    assert fid(x, x)["fid"] == 0.0 and kid(x, x)["kid_x1e3"] < 0
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    assert density_coverage(x, x) == {"density": 1.0, "coverage": 1.0}
    assert mode_coverage(x, x) == {"modes_hit": 4, "modes_total": 4, "class_kl": 0.0}
    assert memorisation(x, feats(gaussian(50, 16, 1).float()), x)["memorisation_ratio"] == 1.0


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    # Commuting covariances: FID = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2, exactly.
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    a, b = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64), torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64)
    expected = float((mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum())  # 10 + (1 + 1 + 6.25)
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_fid_of_two_gaussian_samples_matches_the_closed_form():
    rng = np.random.default_rng(0)
    dim, n = 5, 20_000
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    l1, l2 = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
    s1, s2 = l1 @ l1.T + np.eye(dim), l2 @ l2.T + 0.5 * np.eye(dim)
    x = torch.from_numpy(rng.multivariate_normal(mu1, s1, size=n))
    y = torch.from_numpy(rng.multivariate_normal(mu2, s2, size=n))

    def closed_form(m1, c1, m2, c2):
        return float(np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real))

    got = fid(Features(x, x[:, :1]), Features(y, y[:, :1]))["fid"]
    # The same formula on the sample statistics (scipy's matrix square root): equal to rounding.
    (m1, c1), (m2, c2) = mean_cov(x), mean_cov(y)
    assert got == pytest.approx(closed_form(m1.numpy(), c1.numpy(), m2.numpy(), c2.numpy()), rel=1e-9)
    # And the population value, up to the sampling error of 20,000 draws.
    assert got == pytest.approx(closed_form(mu1, s1, mu2, s2), rel=0.03)


@pytest.mark.slow  # importing torchmetrics alone takes seconds
def test_fid_and_kid_equal_torchmetrics_on_the_same_features():
    from torch import nn
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    class Given(nn.Module):
        num_features = 8

        def forward(self, x):
            return x

    real, fake = gaussian(300, 8, 0).relu(), gaussian(250, 8, 1, shift=0.3).relu()
    tm_fid = FrechetInceptionDistance(feature=Given())
    tm_fid.update(real, real=True)
    tm_fid.update(fake, real=False)
    assert fid(feats(real), feats(fake))["fid"] == pytest.approx(float(tm_fid.compute()), rel=1e-9)

    # The full-set unbiased MMD^2: torchmetrics with one "subset" that is the whole (equal-size) sets.
    fake = gaussian(300, 8, 1, shift=0.3).relu()
    tm_kid = KernelInceptionDistance(feature=Given(), subsets=1, subset_size=300)
    tm_kid.update(real, real=True)
    tm_kid.update(fake, real=False)
    mean, _ = tm_kid.compute()
    assert kid(feats(real), feats(fake))["kid_x1e3"] == pytest.approx(1e3 * float(mean), rel=1e-9)


def _unbiased_mmd2_by_pairs(x, y):
    """Binkowski et al. 2018, eq. 4 with a loop over every pair: the textbook U-statistic."""
    k = lambda a, b: (a @ b / len(a) + 1) ** 3
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return float(xx + yy - 2 * xy)


def test_kid_is_the_unbiased_mmd2_times_1000_also_for_unequal_sizes(monkeypatch):
    monkeypatch.setattr(quality, "CHUNK", 4)  # kernel rows in several blocks
    x, y = gaussian(13, 3, 0), gaussian(9, 3, 1, shift=0.5)
    assert kid(feats(x), feats(y))["kid_x1e3"] == pytest.approx(1e3 * _unbiased_mmd2_by_pairs(x, y), rel=1e-12)


def test_disjoint_supports_give_zero_precision_recall_density_coverage():
    real, fake = feats(gaussian(300, 8, 0)), feats(gaussian(300, 8, 1, shift=50.0))
    assert precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, fake) == {"density": 0.0, "coverage": 0.0}
    assert fid(real, fake)["fid"] == pytest.approx(8 * 50.0**2, rel=0.02)


def test_knn_metrics_in_chunks_equal_a_brute_force_reference(monkeypatch):
    monkeypatch.setattr(quality, "CHUNK", 7)  # many partial chunks
    real, fake = gaussian(60, 3, 0), gaussian(45, 3, 1, shift=0.7)
    d_rr, d_ff, d_fr = torch.cdist(real, real), torch.cdist(fake, fake), torch.cdist(fake, real)
    r3, f3 = d_rr.sort(1).values[:, 3], d_ff.sort(1).values[:, 3]
    r5 = d_rr.sort(1).values[:, 5]
    expected_p = float((d_fr <= r3[None]).any(1).double().mean())
    expected_r = float((d_fr.T <= f3[None]).any(1).double().mean())
    expected_d = float((d_fr < r5[None]).sum()) / (5 * len(fake))
    expected_c = float((d_fr.min(0).values < r5).double().mean())
    assert precision_recall(feats(real), feats(fake)) == pytest.approx({"precision": expected_p, "recall": expected_r})
    assert density_coverage(feats(real), feats(fake)) == pytest.approx({"density": expected_d, "coverage": expected_c})
    assert 0 < expected_p < 1 and 0 < expected_c < 1  # the case is not degenerate


@pytest.mark.parametrize("n", [1, 2, 3, 5, 40])
def test_small_sets_do_not_crash_kid(n):
    real, fake = feats(gaussian(n, 4, 0)), feats(gaussian(n + 1, 4, 1))
    out = kid(real, fake)["kid_x1e3"]
    assert math.isnan(out) if n < 2 else math.isfinite(out)


def test_kid_is_deterministic_and_grows_with_the_shift():
    real = feats(gaussian(400, 6, 0))
    near, far = feats(gaussian(400, 6, 1, shift=0.2)), feats(gaussian(400, 6, 1, shift=1.0))
    assert kid(real, near) == kid(real, near)
    assert kid(real, near)["kid_x1e3"] < kid(real, far)["kid_x1e3"]


def test_fid_is_never_negative_and_identical_sets_give_exactly_zero():
    for seed in range(10):  # ReLU features with dead dimensions: eigenvalues that are truly 0, rounded either way
        g = torch.Generator().manual_seed(seed)
        x = (torch.randn(180, 128, generator=g, dtype=torch.float64)
             * torch.rand(128, generator=g, dtype=torch.float64) * 3 - 1).relu()
        same_rows_reordered = x[torch.randperm(180, generator=g)]
        assert 0.0 <= frechet_distance(*mean_cov(x), *mean_cov(same_rows_reordered)) < 1e-9
        assert fid(feats(x), feats(x))["fid"] == 0.0


def _explicit_resample(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return x.repeat_interleave(weights.long(), dim=0)


def test_weighted_fid_and_kid_equal_the_metric_on_the_explicitly_resampled_sets():
    real, fake = gaussian(40, 5, 0), gaussian(30, 5, 1, shift=0.4)
    w_real, w_fake = stats.resample_pair(40, 30, resamples=3)
    got = {**fid_weighted(feats(real), feats(fake), w_real, w_fake),
           **kid_weighted(feats(real), feats(fake), w_real, w_fake)}
    for c in range(3):
        r, f = feats(_explicit_resample(real, w_real[:, c])), feats(_explicit_resample(fake, w_fake[:, c]))
        assert len(r) == 40 and len(f) == 30 and float(got["fid"][c]) == pytest.approx(fid(r, f)["fid"], rel=1e-9)
        assert (float(got["kid_x1e3"][c])
                == pytest.approx(_kid_of_different_images(real, w_real[:, c], fake, w_fake[:, c]), rel=1e-9))
    ones_real, ones_fake = full_set(40), full_set(30)  # every image once: the plain unbiased KID
    assert float(kid_weighted(feats(real), feats(fake), ones_real, ones_fake)["kid_x1e3"][0]) == pytest.approx(
        kid(feats(real), feats(fake))["kid_x1e3"], rel=1e-12)


def _kid_of_different_images(x, wx, y, wy):
    """MMD^2 x 1e3 of two resampled sets written out draw by draw: within each set only pairs of draws of
    different images."""
    ix = torch.arange(len(x)).repeat_interleave(wx.long())
    iy = torch.arange(len(y)).repeat_interleave(wy.long())
    k = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3  # noqa: E731
    def within(z, idx):
        different = idx[:, None] != idx[None, :]
        return k(z[idx], z[idx])[different].mean()
    return float((within(x, ix) + within(y, iy) - 2 * k(x[ix], y[iy]).mean()) * 1e3)


def _knn_by_brute_force(real, wr, fake, wf, kp=3, kd=5):
    """Precision, recall, density, coverage of the explicitly resampled multisets, every pair written out:
    each draw's ball reaches its k-th nearest OTHER draw (copies of it at 0), as on any set with repeats."""
    ir, if_ = torch.arange(len(real)).repeat_interleave(wr.long()), torch.arange(len(fake)).repeat_interleave(wf.long())
    r, f = real[ir], fake[if_]

    def radii(z, k):
        d = torch.cdist(z, z)
        d.fill_diagonal_(math.inf)
        return d.sort(1).values[:, k - 1]

    d_fr = torch.cdist(f, r)
    precision = float((d_fr <= radii(r, kp)[None]).any(1).double().mean())
    recall = float((d_fr.T <= radii(f, kp)[None]).any(1).double().mean())
    r5 = radii(r, kd)
    return {"precision": precision, "recall": recall, "density": float((d_fr < r5[None]).sum()) / (kd * len(f)),
            "coverage": float((d_fr < r5[None]).any(0).double().mean())}


@pytest.mark.parametrize("pinned", [True, False])
def test_weighted_knn_metrics_equal_the_metrics_of_the_explicitly_resampled_sets(monkeypatch, pinned):
    # Every resample builds its manifolds from its own draws: radii recomputed within it (issue 19), copies at
    # distance 0.
    monkeypatch.setattr(quality, "CHUNK", 7)
    monkeypatch.setattr(manifold, "ROWS", 7)
    monkeypatch.setattr(manifold, "COLUMNS", 2)
    real, fake = gaussian(60, 3, 0), gaussian(45, 3, 1, shift=0.7)
    w_real, w_fake = stats.resample_pair(60, 45, resamples=4)
    w_real = full_set(60) if pinned else torch.cat([full_set(60), w_real], 1)
    w_fake = torch.cat([full_set(45), w_fake], 1)
    got = {**precision_recall_weighted(feats(real), feats(fake), w_real, w_fake),
           **density_coverage_weighted(feats(real), feats(fake), w_real, w_fake)}
    for c in range(5):
        expected = _knn_by_brute_force(real, w_real[:, 0 if pinned else c], fake, w_fake[:, c])
        assert {k: float(v[c]) for k, v in got.items()} == pytest.approx(expected, rel=1e-12), c
    assert got["precision"][0] == precision_recall(feats(real), feats(fake))["precision"]
    assert len(set(got["recall"].tolist())) > 2  # the resamples differ


def test_resampled_radii_count_copies_and_every_drawn_neighbour():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    w = torch.tensor([[1.0, 2.0, 0.0], [1.0, 0.0, 2.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    # k = 2: column 0 the whole set. Column 1 draws point 0 twice and not point 1: point 0's copy is one neighbour at 0
    # and the undrawn point 1 none, so its radius reaches 3; point 1's two neighbours are point 0's two draws, at 1.
    # Column 2 draws point 1 twice: its copy and point 2 (at 2), point 0's both at 1.
    assert manifold.ball_radii(x, w, 2).tolist() == [[3.0, 3.0, 1.0], [2.0, 1.0, 2.0], [3.0, 3.0, 2.0], [6.0, 7.0, 6.0]]


def test_bootstrap_intervals_hold_the_value_of_a_stable_case():
    from compare.metrics.scoring import score_features

    real, fake = feats(gaussian(2000, 4, 0)), feats(gaussian(2000, 4, 1, shift=0.3))
    scores = score_features({"real": real, "fake": fake, "train": real, "heldout": real},
                            {"name": "given", "weights_sha256": "-"})
    for metric in ("fid", "kid", "precision_recall", "density_coverage"):
        for key, value in scores[metric]["values"].items():
            low, high = scores[metric]["intervals"][key]["ci95"]
            assert (low < value < high
                    and 0 < scores[metric]["intervals"][key]["se"] < high - low), (key, low, value, high)
    assert (scores["fid"]["protocol"]["bootstrap"]
            == {"resamples": 1000, "seed": 0, "resampled": stats.PINNED,
                "interval": "bias-corrected percentile, clipped to the value's range"})
    assert (scores["fid"]["protocol"]["estimates"]["fid"]
            == "FID at N = 2000 against this reference set, over redraws of the judged set")
    assert "intervals" not in scores["classifier_score"]


def test_bootstrap_weights_are_seeded_draws_with_replacement():
    a, b = stats.resample_pair(100, 80), stats.resample_pair(100, 80)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # the same sets always get the same interval
    assert a[0].shape == (100, stats.RESAMPLES) and a[1].shape == (80, stats.RESAMPLES)
    assert (a[0].sum(0) == 100).all() and (a[1].sum(0) == 80).all()
    assert not torch.equal(a[0], stats.resample_pair(100, 80, seed=1)[0])
    # about 1 - 1/e of the items are drawn at least once
    assert 0.55 < float((a[0] > 0).double().mean()) < 0.70


def test_interval_is_the_percentiles_less_the_bootstrap_bias_and_the_spread_of_the_resamples():
    values = torch.arange(101, dtype=torch.float64)  # percentiles 2.5 and 97.5 of 0..100, mean 50
    assert stats.interval(values, 50.0) == {"ci95": pytest.approx([2.5, 97.5]),
                                                "se": pytest.approx(float(values.std())), "bias": 0.0, "resamples": 101}
    shifted = stats.interval(values, 40.0)  # the resamples sit 10 above the value: the interval moves down by 10
    assert shifted["ci95"] == pytest.approx([-7.5, 87.5]) and shifted["bias"] == pytest.approx(10.0)
    assert stats.interval(torch.tensor([1.0, math.nan]), 1.0) is None


def test_small_n_fid_and_kid_intervals_hold_their_value():
    # At N = 60 in 16 dimensions, resampling with replacement inflates FID and (with copy pairs) KID;
    # the bias-corrected interval, and KID's pairs of different images, keep the value inside.
    from compare.metrics.scoring import score_features

    real, fake = feats(gaussian(60, 16, 0)), feats(gaussian(60, 16, 1, shift=0.2))
    scores = score_features({"real": real, "fake": fake, "train": real, "heldout": real},
                            {"name": "given", "weights_sha256": "-"})
    for metric, key in (("fid", "fid"), ("kid", "kid_x1e3")):
        low, high = scores[metric]["intervals"][key]["ci95"]
        assert low < scores[metric]["values"][key] < high, (key, low, high)


def test_mean_confidence_is_the_mean_top_class_probability():
    probs = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.1, 0.6, 0.2, 0.1]], dtype=torch.float64)
    assert (mean_confidence(Features(torch.zeros(3, 1), probs))["mean_confidence"]
            == pytest.approx((1.0 + 0.25 + 0.6) / 3, rel=1e-12))
    assert math.isnan(mean_confidence(Features(torch.zeros(3, 1), torch.zeros(3, 0)))["mean_confidence"])  # no classes
    assert METRICS["confidence"].better == {"mean_confidence": "higher"} and METRICS["confidence"].inputs == ("fake",)


def test_classifier_score_is_the_class_count_for_confident_balanced_predictions_and_one_for_uniform():
    confident = Features(torch.zeros(40, 1), torch.eye(4).repeat(10, 1))
    assert classifier_score(confident)["classifier_score"] == pytest.approx(4.0, rel=1e-9)
    assert (classifier_score(Features(torch.zeros(40, 1), torch.full((40, 4), 0.25)))["classifier_score"]
            == pytest.approx(1.0))
    one_class = Features(torch.zeros(40, 1), torch.eye(4)[torch.zeros(40, dtype=torch.long)])
    assert classifier_score(one_class)["classifier_score"] == pytest.approx(1.0)


def test_mode_coverage_counts_classes_hit_at_half_their_real_frequency():
    real = feats(torch.zeros(100, 1), torch.tensor([0] * 40 + [1] * 30 + [2] * 20 + [3] * 10))
    # class 0 at 20% (real 40%: exactly half, hit), 1 at 14% (real 30%: missed), 2 at 60%, 3 at 6% (real 10%: hit)
    fake = feats(torch.zeros(50, 1), torch.tensor([0] * 10 + [1] * 7 + [2] * 30 + [3] * 3))
    assert modes_hit(real, fake).tolist() == [True, False, True, True]
    out = mode_coverage(real, fake)
    assert (out["modes_hit"], out["modes_total"]) == (3, 4)
    assert out["class_kl"] > 0


def test_memorisation_is_zero_for_copies_of_train_images():
    train = feats(gaussian(200, 8, 0))
    heldout = feats(gaussian(50, 8, 1))
    copies = Features(train.features[:30], train.probs[:30])
    out = memorisation(copies, train, heldout)
    assert out["nn_train_fake"] == 0.0 and out["memorisation_ratio"] == 0.0 and out["nn_train_real"] > 0
    assert memorisation(heldout, train, heldout)["memorisation_ratio"] == 1.0


def _old_fid(x, y):
    """FID through the eigenvalues of the non-symmetric S1 S2 (torchmetrics' way, this package's before issue 19)."""
    (m1, s1), (m2, s2) = mean_cov(x), mean_cov(y)
    return float(
        (m1 - m2).square().sum() + s1.trace() + s2.trace() - 2 * torch.linalg.eigvals(s1 @ s2).sqrt().real.sum())


def _relu_features(n, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 128, generator=g, dtype=torch.float64) * torch.linspace(0.2, 3, 128, dtype=torch.float64)
            + shift).relu()


def test_the_symmetric_form_equals_the_eigenvalues_of_the_product_and_resamples_take_either_side():
    x, y = _relu_features(300, 0), _relu_features(250, 1, shift=0.3)
    assert fid(feats(x), feats(y))["fid"] == pytest.approx(_old_fid(x, y), rel=1e-6)
    w = stats.resample_pair(250, 300, resamples=3)[0]
    by_fake = fid_weighted(feats(x), feats(y), full_set(300), w)["fid"]  # the reference whole, its square root once
    by_real = fid_weighted(feats(y), feats(x), w, full_set(300))["fid"]
    # the resamples' eigenvalues in float32 (compare.metrics.frechet): within 0.1 of a FID whose resamples spread
    # by units
    for c in range(3):
        expected = _old_fid(x, _explicit_resample(y, w[:, c]))
        assert (float(by_fake[c]) == pytest.approx(expected, abs=0.1)
                and float(by_real[c]) == pytest.approx(expected, abs=0.1))
    whole = fid_weighted(feats(x), feats(y), full_set(300), torch.cat([full_set(250), w], dim=1))["fid"]
    assert float(whole[0]) == fid(feats(x), feats(y))["fid"]  # the value's column: float64, exact


def test_kid_divides_the_features_by_the_extractors_scale():
    x, y = gaussian(80, 6, 0).abs() * 3, gaussian(70, 6, 1, shift=0.5).abs() * 3
    scaled = kid(feats(x), feats(y), feature_sd=3.0)["kid_x1e3"]
    assert scaled == pytest.approx(kid(feats(x / 3), feats(y / 3))["kid_x1e3"], rel=1e-12)
    assert scaled == pytest.approx(1e3 * _unbiased_mmd2_by_pairs(x / 3, y / 3), rel=1e-12)
    assert kid(feats(x), feats(y))["kid_x1e3"] > 20 * scaled  # the kernel's cubic term shrinks by 3^6 on these features
    # A set against itself: 2 (mean k over pairs of different images - mean k(x, x)) / n, just below 0, -> 0 as 1 / n.
    k = (x / 3) @ (x / 3).T / 6 + 1
    k = k ** 3
    pairs = (k.sum() - k.trace()) / (80 * 79)
    assert (kid(feats(x), feats(x), feature_sd=3.0)["kid_x1e3"]
            == pytest.approx(1e3 * 2 * float(pairs - k.diagonal().mean()) / 80, rel=1e-9))


def test_intervals_stay_in_the_values_range():
    values = torch.tensor([-0.2, 0.1, 0.5, 1.3], dtype=torch.float64)
    assert stats.interval(values, 0.2, (0.0, 1.0))["ci95"] == [0.0, 1.0]
    assert stats.interval(values, 0.2)["ci95"][0] < 0  # unbounded (KID): not clipped
    fid_inf, ci = stats.large_n(1.0, torch.tensor([3.0, 4.0, 5.0]), torch.tensor([2.0, 3.0, 4.0]))
    assert fid_inf == 0.0 and ci["bias"] == pytest.approx(5.0) and ci["ci95"] == [0.0, 0.0]  # 1 - 5 < 0: at its bound


def test_pinned_reference_resamples_the_judged_set_only_and_fid_inf_removes_both_sides_bias():
    from compare.metrics.scoring import score_features

    real, fake = feats(gaussian(400, 8, 0)), feats(gaussian(400, 8, 1, shift=0.2))
    sets = {"real": real, "fake": fake, "train": real, "heldout": real}
    pinned, both = (score_features(sets, {"name": "given", "weights_sha256": "-"}),
                    score_features(sets, {"name": "given", "weights_sha256": "-"}, pinned=False))
    w_real, w_fake = stats.resample_pair(400, 400)
    kid_fake = kid_weighted(real, fake, full_set(400), w_fake)["kid_x1e3"]
    expected = stats.interval(kid_fake, pinned["kid"]["values"]["kid_x1e3"])
    assert pinned["kid"]["intervals"]["kid_x1e3"]["ci95"] == pytest.approx(expected["ci95"], rel=1e-12)
    assert both["kid"]["intervals"]["kid_x1e3"]["se"] > pinned["kid"]["intervals"]["kid_x1e3"]["se"]
    by_fake, by_real = (fid_weighted(real, fake, full_set(400), w_fake)["fid"],
                        fid_weighted(real, fake, w_real, full_set(400))["fid"])
    value = pinned["fid"]["values"]["fid"]
    bias = float(by_fake.mean() + by_real.mean()) - 2 * value
    assert (pinned["fid"]["values"]["fid_inf"] == pytest.approx(value - bias, rel=1e-12)
            == both["fid"]["values"]["fid_inf"])
    assert pinned["fid"]["intervals"]["fid"]["se"] == pytest.approx(float(by_fake.std()), rel=1e-12)
    # The population FID of these Gaussians is 8 * 0.2^2 = 0.32; the value at N = 400 sits far above it, fid_inf
    # near it.
    low, high = pinned["fid"]["intervals"]["fid_inf"]["ci95"]
    assert low <= 0.32 <= high and abs(pinned["fid"]["values"]["fid_inf"] - 0.32) < value - 0.32


@pytest.mark.parametrize("name", ["digits", pytest.param("mnist5k", marks=pytest.mark.slow)])
def test_the_shipped_kid_scale_is_the_sd_of_the_evaluators_train_features(name):
    from compare.data import in_memory, load_dataset
    from compare.metrics import evaluator

    data = load_dataset(name)
    extractor = evaluator.load_domain_evaluator(data)
    sd = extractor.extract(in_memory(data.train)).features.double().std().item()
    assert extractor.info["feature_sd"] == evaluator.SHIPPED_FEATURE_SD[name] == pytest.approx(sd, rel=1e-9)


def test_an_evaluator_trained_on_first_use_caches_its_kid_scale_and_an_older_cache_is_retrained(monkeypatch, tmp_path):
    import dataclasses

    from compare.data import in_memory, load_dataset
    from compare.io import save_torch
    from compare.metrics import evaluator

    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(evaluator, "TRAIN_STEPS", 10)  # a cheap evaluator: only its scale is under test
    data = dataclasses.replace(load_dataset("digits"), name="digits-copy")
    messages = []
    first = evaluator.load_domain_evaluator(data, on_train=messages.append)
    sd = first.extract(in_memory(data.train)).features.double().std().item()
    path = evaluator.evaluator_path("digits-copy")
    assert (first.info["feature_sd"] == pytest.approx(sd, rel=1e-9)
            and torch.load(path, weights_only=True)["info"]["feature_sd"] == first.info["feature_sd"])
    saved = torch.load(path, weights_only=True)
    # as before issue 19
    save_torch(path, {"state": saved["state"], "info": {k: v for k, v in saved["info"].items() if k != "feature_sd"}})
    again = evaluator.load_domain_evaluator(data, on_train=messages.append)
    assert len(messages) == 2 and again.info["feature_sd"] == first.info["feature_sd"]
