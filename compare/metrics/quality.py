"""Sample quality metrics, each a pure function of feature / class-probability tensors.

Every function takes compare.metrics.quality.Features (penultimate-layer features and softmax class
probabilities of an extractor, see compare.metrics.evaluator) and returns a dict of named numbers. They are
registered in compare.metrics.METRICS with space "features"; `inputs` names which sets each takes:
    real     the reference real images (a train subset in `compare run`, set A in `compare score`)
    fake     the images judged (a model's samples, set B)
    train    the whole train split (memorisation only)
    heldout  real images the model never saw (memorisation only; set A in `compare score`)

k-NN metrics are computed in float64 on chunks of rows with torch.cdist: every sample is handled
in batched tensor operations, never by a Python loop over samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from compare.metrics.registry import Metric

CHUNK = 1024  # rows per cdist block: a (1024, N) float64 block is 40 MB at N = 5,000
KID_SUBSETS = 100  # Binkowski et al. 2018's protocol: 100 subsets of 1,000
KID_MAX_SUBSET = 1000
KID_SEED = 0


@dataclass(frozen=True)
class Features:
    """What an extractor says about N images: features (N, D) and class probabilities (N, K)."""

    features: Tensor
    probs: Tensor

    def __len__(self) -> int:
        return len(self.features)

    def subset(self, index: Tensor) -> "Features":
        return Features(self.features[index], self.probs[index])


def _nan(*keys: str) -> dict[str, float]:
    return {k: math.nan for k in keys}


def mean_cov(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of the rows of x, in float64."""
    x = x.double()
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / (len(x) - 1)


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Dowson & Landau 1982): the squared Wasserstein-2
    distance between two Gaussians. Tr((S1 S2)^(1/2)) is the sum of the square roots of the
    eigenvalues of S1 S2 (real and non-negative for covariances, up to rounding), as in torchmetrics."""
    trace_sqrt = torch.linalg.eigvals(sigma1 @ sigma2).sqrt().real.sum()
    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt)


def fid(real: Features, fake: Features) -> dict[str, float]:
    """Frechet distance between Gaussians fitted to the two feature sets (Heusel et al. 2017), in float64.

    The same formula and numbers as torchmetrics' FrechetInceptionDistance fed the same features
    (tests/test_quality.py checks it), computed here because importing torchmetrics alone costs
    seconds of the 15 s that scoring 5,000 images may take."""
    if len(real) < 2 or len(fake) < 2:
        return _nan("fid")
    return {"fid": frechet_distance(*mean_cov(real.features), *mean_cov(fake.features))}


def kid_subset_size(n_real: int, n_fake: int, max_size: int = KID_MAX_SUBSET) -> int:
    """Subsets of 1,000 as in Binkowski et al. 2018, but at most half the smaller set so that the
    subsets still differ and the std means something; never below 2 (the unbiased MMD needs 2)."""
    return max(2, min(max_size, min(n_real, n_fake) // 2))


def _unbiased_mmd2(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / D + 1)^3 between equal-size sets x, y (m, D)."""
    m, dim = x.shape
    k_xx, k_yy, k_xy = ((a @ b.T * (1 / dim) + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_xy.sum() / m**2


def kid(real: Features, fake: Features, subsets: int = KID_SUBSETS, max_subset_size: int = KID_MAX_SUBSET,
        seed: int = KID_SEED) -> dict[str, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial
    kernel, mean and (population) std over random subsets drawn from a seeded generator.

    The same algorithm, subset draws and numbers as torchmetrics' KernelInceptionDistance with the
    global RNG seeded to `seed` (tests/test_quality.py checks it), but the subset size adapts to
    small sets (kid_subset_size) where torchmetrics would raise."""
    if len(real) < 2 or len(fake) < 2:
        return _nan("kid_mean", "kid_std")
    m = kid_subset_size(len(real), len(fake), max_subset_size)
    rng = torch.Generator().manual_seed(seed)
    r, f = real.features.float(), fake.features.float()
    scores = []
    for _ in range(subsets):  # a loop over subsets, each one a few (m, m) matrix products
        real_idx = torch.randperm(len(r), generator=rng)[:m]
        fake_idx = torch.randperm(len(f), generator=rng)[:m]
        scores.append(_unbiased_mmd2(r[real_idx], f[fake_idx]))
    scores = torch.stack(scores)
    return {"kid_mean": scores.mean().item(), "kid_std": scores.std(unbiased=False).item()}


def _rows(x: Tensor):
    for start in range(0, len(x), CHUNK):
        yield start, x[start:start + CHUNK]


def kth_neighbour_distance(x: Tensor, k: int) -> Tensor:
    """(N,) distance of each row of x to its k-th nearest other row (the point itself, at 0, is skipped)."""
    out = torch.empty(len(x), dtype=x.dtype)
    for start, rows in _rows(x):
        out[start:start + len(rows)] = torch.cdist(rows, x).topk(k + 1, dim=1, largest=False).values[:, k]
    return out


def nearest_index(x: Tensor, y: Tensor) -> Tensor:
    """(N,) index of each row of x's nearest row of y, x taken in row chunks (memory stays bounded)."""
    return torch.cat([torch.cdist(rows, y).argmin(dim=1) for _, rows in _rows(x)])


def nearest_distance(x: Tensor, y: Tensor) -> Tensor:
    """(N,) distance of each row of x to its nearest row of y.

    cdist finds the neighbour through a matrix product (fast, but ~1e-7 off for equal rows); the
    distance to it is then recomputed directly, so an exact copy is at exactly 0."""
    return (x - y[nearest_index(x, y)]).norm(dim=1)


def _as64(f: Features) -> Tensor:
    return f.features.double()


def precision_recall(real: Features, fake: Features, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its points, each ball reaching that point's
    k-th nearest neighbour in the same set. Precision: the share of fake points inside the real
    manifold (quality). Recall: the share of real points inside the fake manifold (diversity).
    """
    if len(real) <= k or len(fake) <= k:
        return _nan("precision", "recall")
    r, f = _as64(real), _as64(fake)
    real_radii, fake_radii = kth_neighbour_distance(r, k), kth_neighbour_distance(f, k)
    fake_inside = torch.zeros(len(f), dtype=torch.bool)
    real_inside = torch.zeros(len(r), dtype=torch.bool)
    for start, rows in _rows(f):  # one (chunk, N_real) block serves both directions
        d = torch.cdist(rows, r)
        fake_inside[start:start + len(rows)] = (d <= real_radii[None, :]).any(dim=1)
        real_inside |= (d <= fake_radii[start:start + len(rows), None]).any(dim=0)
    return {"precision": fake_inside.double().mean().item(), "recall": real_inside.double().mean().item()}


def density_coverage(real: Features, fake: Features, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020), with the authors' strict `<` ball test.

    Density: how many real k-NN balls contain each fake point, divided by k and averaged (1 when
    fakes sit like real points do; above 1 when they crowd dense regions). Coverage: the share of
    real balls that contain at least one fake point. Both use only the real set's radii, so they
    resist the outliers that inflate precision and recall.
    """
    if len(real) <= k or len(fake) < 1:
        return _nan("density", "coverage")
    r, f = _as64(real), _as64(fake)
    radii = kth_neighbour_distance(r, k)
    inside = torch.zeros((), dtype=torch.float64)
    nearest_fake = torch.full((len(r),), math.inf, dtype=torch.float64)
    for _, rows in _rows(f):
        d = torch.cdist(rows, r)  # (chunk, N_real)
        inside += (d < radii[None, :]).sum()
        nearest_fake = torch.minimum(nearest_fake, d.min(dim=0).values)
    return {"density": (inside / (k * len(f))).item(), "coverage": (nearest_fake < radii).double().mean().item()}


def classifier_score(fake: Features) -> dict[str, float]:
    """The Inception-score formula (Salimans et al. 2016) on the evaluator's class probabilities:
    exp(E_x KL(p(y|x) || p(y))). High when each sample is classified confidently and the classes are
    balanced; at most the number of classes. Computed over the whole set, without splits."""
    if len(fake) < 1 or fake.probs.shape[1] == 0:  # no classes: an unlabelled dataset's evaluator
        return _nan("classifier_score")
    p = fake.probs.double().clamp_min(1e-12)
    marginal = p.mean(dim=0, keepdim=True)
    return {"classifier_score": (p * (p.log() - marginal.log())).sum(dim=1).mean().exp().item()}


def class_histogram(f: Features, classes: int) -> Tensor:
    """(K,) share of the set predicted as each class (argmax of the class probabilities)."""
    return torch.bincount(f.probs.argmax(dim=1), minlength=classes).double() / max(1, len(f))


def modes_hit(real: Features, fake: Features) -> Tensor:
    """(K,) bool: class c is hit when the samples predicted as c are at least half as frequent as in the real set."""
    classes = real.probs.shape[1]
    real_share, fake_share = class_histogram(real, classes), class_histogram(fake, classes)
    return (real_share > 0) & (fake_share >= 0.5 * real_share)


def mode_coverage(real: Features, fake: Features) -> dict[str, float]:
    """Modes (classes) the samples hit, out of those the real set has, and KL(real || fake) of the
    predicted class histograms. The counts get the Krichevsky-Trofimov +1/2, so a dropped class costs
    a large but finite KL; identical histograms give exactly 0."""
    if len(real) < 1 or len(fake) < 1 or real.probs.shape[1] == 0:  # no classes: no modes to count
        return _nan("modes_hit", "modes_total", "class_kl")
    classes = real.probs.shape[1]
    counts_r = torch.bincount(real.probs.argmax(dim=1), minlength=classes).double() + 0.5
    counts_f = torch.bincount(fake.probs.argmax(dim=1), minlength=classes).double() + 0.5
    p, q = counts_r / counts_r.sum(), counts_f / counts_f.sum()
    return {"modes_hit": int(modes_hit(real, fake).sum()), "modes_total": int((class_histogram(real, classes) > 0).sum()),
            "class_kl": (p * (p / q).log()).sum().item()}


def memorisation(fake: Features, train: Features, heldout: Features) -> dict[str, float]:
    """Mean feature distance from each sample to its nearest train image, against the same for held-out
    real images. A ratio well below 1 means the samples sit closer to the training images than fresh
    real images do: the model is copying rather than generalising. Near 1 is healthy."""
    if len(train) < 1 or len(fake) < 1 or len(heldout) < 1:
        return _nan("nn_train_fake", "nn_train_real", "memorisation_ratio")
    t = _as64(train)
    d_fake, d_real = nearest_distance(_as64(fake), t).mean().item(), nearest_distance(_as64(heldout), t).mean().item()
    return {"nn_train_fake": d_fake, "nn_train_real": d_real, "memorisation_ratio": d_fake / d_real if d_real > 0 else math.nan}


QUALITY_METRICS: dict[str, Metric] = {
    "fid": Metric("features", fid, "Frechet distance of Gaussians fitted to the features (Heusel et al. 2017)",
                  {"fid": "lower"}, inputs=("real", "fake")),
    "kid": Metric("features", kid, "kernel (cubic polynomial) MMD^2 over random subsets (Binkowski et al. 2018)",
                  {"kid_mean": "lower"}, inputs=("real", "fake"), params={"subsets": KID_SUBSETS, "max_subset_size": KID_MAX_SUBSET}),
    "precision_recall": Metric("features", precision_recall, "improved precision (quality) and recall (diversity), k-NN manifolds (Kynkaanniemi et al. 2019)",
                               {"precision": "higher", "recall": "higher"}, inputs=("real", "fake"), params={"k": 3}),
    "density_coverage": Metric("features", density_coverage, "density and coverage of the real k-NN balls (Naeem et al. 2020)",
                               {"density": "higher", "coverage": "higher"}, inputs=("real", "fake"), params={"k": 5}),
    "classifier_score": Metric("features", classifier_score, "Inception-score formula on the extractor's class probabilities (Salimans et al. 2016)",
                               {"classifier_score": "higher"}, inputs=("fake",)),
    "mode_coverage": Metric("features", mode_coverage, "classes hit with at least half their real frequency; KL(real || samples) of predicted classes",
                            {"modes_hit": "higher", "class_kl": "lower"}, inputs=("real", "fake")),
    "memorisation": Metric("features", memorisation, "mean distance to the nearest train image, samples vs held-out real (ratio < 1: copying)",
                           {}, inputs=("fake", "train", "heldout")),
}
