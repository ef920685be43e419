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

FID, KID, precision/recall and density/coverage also come as `*_weighted` functions that take
multiplicity weights (N, C) per set, one column per resample of a bootstrap (compare.stats):
column c scores the sets in which image i appears weights[i, c] times. A column of ones is the full
set, so the plain functions are the weighted ones on one column of ones: one formula for the value
and its resamples, computed in one pass over the features (no feature is extracted again).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from compare.metrics.frechet import fid_of_resamples, frechet_distance, mean_cov
from compare.metrics.manifold import ball_radii, inside_any, weighted_ball_pairs
from compare.metrics.registry import Key, Metric

CHUNK = 1024  # rows per cdist / kernel block: a (1024, N) float64 block is 40 MB at N = 5,000
SHARE = (0.0, 1.0)  # the range of a share: its interval is clipped to it
KID_SCALE = 1e3  # KID is reported as MMD^2 x 10^3 (its key says so: kid_x1e3), as in most papers' tables


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


def full_set(n: int) -> Tensor:
    """(n, 1) weights of one "resample" that is the whole set, each image once."""
    return torch.ones(n, 1, dtype=torch.float64)


def _point(weighted: Callable[..., dict[str, Tensor]], real: "Features", fake: "Features",
           **params) -> dict[str, float]:
    """A weighted metric on the full sets: its one column, as floats."""
    return {k: v[0].item() for k, v in weighted(real, fake, full_set(len(real)), full_set(len(fake)), **params).items()}


def _nan_columns(columns: int, *keys: str) -> dict[str, Tensor]:
    return {k: torch.full((columns,), math.nan, dtype=torch.float64) for k in keys}


def fid_weighted(real: Features, fake: Features, w_real: Tensor, w_fake: Tensor) -> dict[str, Tensor]:
    """FID of every column of weights: {"fid": (C,)}. One side is the whole set (weights of one column of
    ones) and the other resampled, as compare.metrics.scoring always asks; two resampled sides are
    scored column by column (slow: a square root per column)."""
    if len(real) < 2 or len(fake) < 2:
        return _nan_columns(max(w_real.shape[1], w_fake.shape[1]), "fid")
    whole = lambda w: w.shape[1] == 1 and bool((w == 1).all())  # noqa: E731
    if whole(w_real):
        return {"fid": fid_of_resamples(real.features, fake.features, w_fake)}
    if whole(w_fake):
        return {"fid": fid_of_resamples(fake.features, real.features, w_real)}
    return {"fid": torch.tensor([frechet_distance(*mean_cov(real.features, w_real[:, c]),
                                                  *mean_cov(fake.features, w_fake[:, c]))
                                 for c in range(w_real.shape[1])],
                                dtype=torch.float64)}


def fid(real: Features, fake: Features) -> dict[str, float]:
    """Frechet distance between Gaussians fitted to the two feature sets (Heusel et al. 2017), in float64
    (compare.metrics.frechet: the symmetric form of the trace of the square root).

    The same formula and numbers as torchmetrics' FrechetInceptionDistance fed the same features
    (tests/test_quality.py checks it), computed here because importing torchmetrics alone costs
    seconds of the 15 s that scoring 5,000 images may take."""
    return {"fid": frechet_distance(*mean_cov(real.features), *mean_cov(fake.features))}


def _cubic_kernel_form(x: Tensor, y: Tensor, wx: Tensor, wy: Tensor) -> Tensor:
    """(C,) wx[:, c]^T K wy[:, c] for the kernel k(a, b) = (a.b / D + 1)^3 of Binkowski et al. 2018, K in row blocks."""
    out = torch.zeros(max(wx.shape[1], wy.shape[1]), dtype=torch.float64)
    for start, rows in _rows(x):
        kernel = (rows @ y.T / x.shape[1] + 1) ** 3  # (chunk, N_y)
        out += (wx[start:start + len(rows)] * (kernel @ wy)).sum(dim=0)
    return out


def kid_weighted(real: Features, fake: Features, w_real: Tensor, w_fake: Tensor,
                 feature_sd: float = 1.0) -> dict[str, Tensor]:
    """Unbiased MMD^2 x 10^3 of every column of weights: {"kid_x1e3": (C,)}, on the features divided by
    `feature_sd` (the extractor's constant, compare.metrics.evaluator.feature_sd: the kernel's a.b / D
    was made for features of unit scale; the evaluator's raw features have mean |x|^2 / D = 8.6, which
    put KID x 10^3 at 26,000-93,000). Unbiased, so it can fall below 0 (a set against itself does).

    A column is a multiset of images. Its within-set term averages k over pairs of DIFFERENT images:
    (w^T K w - sum_i w_i^2 k(x_i, x_i)) / (n^2 - sum_i w_i^2). Pairing a repeated image with its own
    copies would add k(x, x), far above any k between two images, and push every resample up; with
    all weights 1 this is the usual U-statistic."""
    if len(real) < 2 or len(fake) < 2:
        return _nan_columns(max(w_real.shape[1], w_fake.shape[1]), "kid_x1e3")
    x, y = real.features.double() / feature_sd, fake.features.double() / feature_sd
    m, n = w_real.sum(dim=0), w_fake.sum(dim=0)  # (C,) set sizes: N_real and N_fake in every column

    def within(z: Tensor, w: Tensor, size: Tensor) -> Tensor:
        diagonal = (z.square().sum(dim=1) / z.shape[1] + 1) ** 3  # (N,) k(z_i, z_i)
        same = w.square()  # (N, C) pairs of draws that are the same image
        return ((_cubic_kernel_form(z, z, w, w) - (same * diagonal[:, None]).sum(dim=0))
                / (size.square() - same.sum(dim=0)))

    mmd2 = within(x, w_real, m) + within(y, w_fake, n) - 2 * _cubic_kernel_form(x, y, w_real, w_fake) / (m * n)
    return {"kid_x1e3": mmd2 * KID_SCALE}


def kid(real: Features, fake: Features, feature_sd: float = 1.0) -> dict[str, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial
    kernel between the full sets, x 10^3 (key kid_x1e3). Deterministic: no random subsets; on equal-size
    sets the same number as torchmetrics' KernelInceptionDistance with one subset of the whole set
    (tests/test_quality.py checks it) on features divided by `feature_sd`."""
    return _point(kid_weighted, real, fake, feature_sd=feature_sd)


def _rows(x: Tensor):
    for start in range(0, len(x), CHUNK):
        yield start, x[start:start + CHUNK]


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


def precision_recall_weighted(real: Features, fake: Features, w_real: Tensor, w_fake: Tensor,
                              k: int = 3) -> dict[str, Tensor]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of every column of weights: {"precision": (C,),
    "recall": (C,)}.

    Each set's manifold is the union of balls around its points, each ball reaching that point's
    k-th nearest neighbour in the same set. Precision: the share of fake points inside the real
    manifold (quality). Recall: the share of real points inside the fake manifold (diversity).
    A resample's manifold is built from that resample, its radii recomputed within it
    (compare.metrics.manifold); a set of one column of ones is the whole set, in every column.
    """
    if len(real) <= k or len(fake) <= k:
        return _nan_columns(max(w_real.shape[1], w_fake.shape[1]), "precision", "recall")
    r, f = _as64(real), _as64(fake)
    fake_inside = inside_any(f, r, ball_radii(r, w_real, k), w_real > 0)  # (N_fake, C) in the real manifold
    real_inside = inside_any(r, f, ball_radii(f, w_fake, k), w_fake > 0)
    return {"precision": (fake_inside * w_fake).sum(dim=0) / w_fake.sum(dim=0),
            "recall": (real_inside * w_real).sum(dim=0) / w_real.sum(dim=0)}


def precision_recall(real: Features, fake: Features, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of the full sets; see precision_recall_weighted."""
    return _point(precision_recall_weighted, real, fake, k=k)


def density_coverage_weighted(real: Features, fake: Features, w_real: Tensor, w_fake: Tensor,
                              k: int = 5) -> dict[str, Tensor]:
    """Density and coverage (Naeem et al. 2020) of every column of weights, with the authors' strict `<` ball test.

    Density: how many real k-NN balls contain each fake point, divided by k and averaged (1 when
    fakes sit like real points do; above 1 when they crowd dense regions). Coverage: the share of
    real balls that contain at least one fake point. Both use only the real set's radii, so they
    resist the outliers that inflate precision and recall. A resampled real set's radii are recomputed
    within each resample, and each ball and each fake counts as often as drawn (compare.metrics.manifold).
    """
    if len(real) <= k or len(fake) < 1:
        return _nan_columns(max(w_real.shape[1], w_fake.shape[1]), "density", "coverage")
    r, f = _as64(real), _as64(fake)
    radii = ball_radii(r, w_real, k)
    covered = inside_any(r, f, radii, w_fake > 0, by_point=True, strict=True)  # (N_real, C) a drawn fake in the ball
    return {"density": weighted_ball_pairs(f, r, radii, w_fake, w_real) / (k * w_fake.sum(dim=0)),
            "coverage": (covered * w_real).sum(dim=0) / w_real.sum(dim=0)}


def density_coverage(real: Features, fake: Features, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) of the full sets; see density_coverage_weighted."""
    return _point(density_coverage_weighted, real, fake, k=k)


def classifier_score(fake: Features) -> dict[str, float]:
    """The Inception-score formula (Salimans et al. 2016) on the evaluator's class probabilities:
    exp(E_x KL(p(y|x) || p(y))). High when each sample is classified confidently and the classes are
    balanced; at most the number of classes. Computed over the whole set, without splits."""
    if len(fake) < 1 or fake.probs.shape[1] == 0:  # no classes: an unlabelled dataset's evaluator
        return _nan("classifier_score")
    p = fake.probs.double().clamp_min(1e-12)
    marginal = p.mean(dim=0, keepdim=True)
    return {"classifier_score": (p * (p.log() - marginal.log())).sum(dim=1).mean().exp().item()}


def mean_confidence(fake: Features) -> dict[str, float]:
    """Mean over the samples of the evaluator's top class probability, max_c p(c|x): how recognisable each
    sample is as some class (1 for a confident classification, 1/K for a uniform one). NaN without classes."""
    if len(fake) < 1 or fake.probs.shape[1] == 0:
        return _nan("mean_confidence")
    return {"mean_confidence": fake.probs.double().max(dim=1).values.mean().item()}


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
    return {"modes_hit": int(modes_hit(real, fake).sum()),
            "modes_total": int((class_histogram(real, classes) > 0).sum()),
            "class_kl": (p * (p / q).log()).sum().item()}


def memorisation(fake: Features, train: Features, heldout: Features) -> dict[str, float]:
    """Mean feature distance from each sample to its nearest train image, against the same for held-out
    real images. A ratio well below 1 means the samples sit closer to the training images than fresh
    real images do: the model is copying rather than generalising. Near 1 is healthy."""
    if len(train) < 1 or len(fake) < 1 or len(heldout) < 1:
        return _nan("nn_train_fake", "nn_train_real", "memorisation_ratio")
    t = _as64(train)
    d_fake, d_real = nearest_distance(_as64(fake), t).mean().item(), nearest_distance(_as64(heldout), t).mean().item()
    return {"nn_train_fake": d_fake, "nn_train_real": d_real,
            "memorisation_ratio": d_fake / d_real if d_real > 0 else math.nan}


QUALITY_METRICS: dict[str, Metric] = {
    "fid": Metric("features", fid,
                  "Frechet distance of Gaussians fitted to the features (Heusel et al. 2017); "
                  "fid_inf: as N -> infinity",
                  {"fid": Key("lower", headline=True, bounds=(0.0, None), label="FID", at_n=True),
                   "fid_inf": Key("lower", bounds=(0.0, None), label="FID as N → ∞")},
                  inputs=("real", "fake"), weighted=fid_weighted),
    "kid": Metric("features", kid,
                  "unbiased kernel (cubic polynomial) MMD^2 x 10^3 between the full sets, features / the extractor's "
                  "feature_sd (Binkowski et al. 2018)",
                  {"kid_x1e3": Key("lower", headline=True, label="KID × 1,000")}, inputs=("real", "fake"),
                  weighted=kid_weighted, extractor_params=("feature_sd",)),
    "precision_recall": Metric("features", precision_recall,
                               "improved precision (quality) and recall (diversity), k-NN manifolds "
                               "(Kynkaanniemi et al. 2019)",
                               {"precision": Key("higher", "share of samples", headline=True, bounds=SHARE,
                                                 label="precision"),
                                "recall": Key("higher", "share of real images", headline=True, bounds=SHARE,
                                              label="recall")},
                               inputs=("real", "fake"), params={"k": 3}, weighted=precision_recall_weighted),
    "density_coverage": Metric("features", density_coverage,
                               "density and coverage of the real k-NN balls (Naeem et al. 2020)",
                               {"density": Key("higher", bounds=(0.0, None), label="density"),
                                "coverage": Key("higher", "share of real images", bounds=SHARE, label="coverage")},
                               inputs=("real", "fake"), params={"k": 5}, weighted=density_coverage_weighted),
    "classifier_score": Metric("features", classifier_score,
                               "Inception-score formula on the extractor's class probabilities (Salimans et al. 2016)",
                               {"classifier_score": Key("higher", label="classifier score")}, inputs=("fake",)),
    "confidence": Metric("features", mean_confidence,
                         "mean over samples of the evaluator's top class probability (1: every sample recognised)",
                         {"mean_confidence": Key("higher", label="evaluator confidence")}, inputs=("fake",)),
    "mode_coverage": Metric("features", mode_coverage,
                            "classes hit with at least half their real frequency; KL(real || "
                            "samples) of predicted classes",
                            {"modes_hit": Key("higher", label="classes hit"),
                             "modes_total": Key(unit="classes", constant=True),
                             "class_kl": Key("lower", "nats", label="class KL from real")},
                            inputs=("real", "fake")),
    "memorisation": Metric("features", memorisation,
                           "mean distance to the nearest train image, samples vs held-out real (ratio < 1: copying)",
                           {"nn_train_fake": Key(label="distance to nearest train image"),
                            "nn_train_real": Key(constant=True),
                            "memorisation_ratio": Key(label="memorisation ratio (below 1: copying)")},
                           inputs=("fake", "train", "heldout")),
}
