"""Known answers of the feature-space quality metrics, on synthetic features (no network involved)."""

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from compare.metrics import quality
from compare.metrics import METRICS
from compare.metrics.quality import (Features, classifier_score, density_coverage, fid, frechet_distance, kid, kid_subset_size, mean_cov,
                             memorisation, mode_coverage, modes_hit, precision_recall)


def feats(x: torch.Tensor, labels: torch.Tensor | None = None, classes: int = 4) -> Features:
    labels = torch.zeros(len(x), dtype=torch.long) if labels is None else labels
    return Features(x, torch.nn.functional.one_hot(labels, classes).float())


def gaussian(n, dim, seed, shift=0.0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_feature_metrics_are_registered_with_their_inputs():
    names = {n for n, m in METRICS.items() if m.space == "features"}
    assert names == {"fid", "kid", "precision_recall", "density_coverage", "classifier_score", "mode_coverage", "memorisation"}
    assert METRICS["precision_recall"].params == {"k": 3} and METRICS["density_coverage"].params == {"k": 5}
    assert METRICS["memorisation"].inputs == ("fake", "train", "heldout")


def test_identical_sets_give_fid_zero_and_perfect_precision_recall_density_coverage():
    x = feats(gaussian(400, 16, 0).float(), torch.arange(400) % 4)
    assert abs(fid(x, x)["fid"]) < 1e-8
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

    with pytest.warns(UserWarning):
        tm_kid = KernelInceptionDistance(feature=Given(), subsets=20, subset_size=kid_subset_size(300, 250))
    tm_kid.update(real.float(), real=True)
    tm_kid.update(fake.float(), real=False)
    torch.manual_seed(0)  # torchmetrics draws its subsets from the global RNG; ours from a generator seeded alike
    mean, std = tm_kid.compute()
    ours = kid(feats(real), feats(fake), subsets=20, seed=0)
    assert ours["kid_mean"] == pytest.approx(float(mean), rel=1e-4)
    assert ours["kid_std"] == pytest.approx(float(std), rel=1e-3)


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
    out = kid(real, fake)
    if n < 2:
        assert math.isnan(out["kid_mean"]) and math.isnan(out["kid_std"])
    else:
        assert math.isfinite(out["kid_mean"]) and math.isfinite(out["kid_std"])
    assert kid_subset_size(n, n + 1) == max(2, n // 2)
    assert kid_subset_size(5000, 8000) == 1000


def test_kid_is_seeded_and_grows_with_the_shift():
    real = feats(gaussian(400, 6, 0))
    near, far = feats(gaussian(400, 6, 1, shift=0.2)), feats(gaussian(400, 6, 1, shift=1.0))
    assert kid(real, near) == kid(real, near)
    assert kid(real, near)["kid_mean"] < kid(real, far)["kid_mean"]


def test_classifier_score_is_the_class_count_for_confident_balanced_predictions_and_one_for_uniform():
    confident = Features(torch.zeros(40, 1), torch.eye(4).repeat(10, 1))
    assert classifier_score(confident)["classifier_score"] == pytest.approx(4.0, rel=1e-9)
    assert classifier_score(Features(torch.zeros(40, 1), torch.full((40, 4), 0.25)))["classifier_score"] == pytest.approx(1.0)
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
