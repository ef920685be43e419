"""Sample quality of whole runs and of image sets: features once, every registered metric, the real floor.

Protocol of `compare run` / `compare evaluate` (one extractor for everything, see compare.metrics.evaluator):
- One N for everything compared: N = `eval_samples`, by default the held-out size; never more than
  the held-out size nor (refused) below the extractor's feature dimension. FID, KID and the k-NN
  metrics all move with N, so every number shares its floor's exact protocol.
- The reference "real" set is a fixed, seeded N-subset of the train split (precision/recall and
  density/coverage assume equal set sizes); each model view is scored with N samples against it.
- The real-data floor scores the first N held-out images as if they were a model's samples against
  the same reference: what a perfect model would get.
- The memorisation check compares the samples' nearest-train-image distances with those of the N
  held-out images (so its floor is exactly 1).
- FID, KID, precision/recall and density/coverage carry a bootstrap interval (compare.stats) of
  the samples only, the reference set being pinned; FID also its large-N value fid_inf with its interval.
Every metric's numbers are stored with their protocol: extractor, its weights' SHA-256, set sizes, k.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field

import torch
from torch import Tensor

from compare.data import HELDOUT_FRACTION, STREAMED_EVAL_CAP, ImageDataset, in_memory
from compare.data.sources import StreamedImages
from compare.errors import UserError
from compare.io import content_sha256
from compare.protocol import GenerativeModel
from compare import stats
from compare.metrics import METRICS, Metric
from compare.metrics.continuity import continuity_report
from compare.metrics.likelihood import heldout_likelihood
from compare.metrics.evaluator import Extractor
from compare.metrics.feature_cache import real_features
from compare.metrics.quality import Features, full_set

REAL_SUBSET_SEED = 0  # which train images form the reference set: fixed, so every run compares against the same ones


def feature_metrics() -> dict[str, Metric]:
    return {name: m for name, m in METRICS.items() if m.space == "features"}


def evaluated_count(images: Tensor | StreamedImages) -> int:
    """Images of a split the evaluation uses: all, or a streamed split's first STREAMED_EVAL_CAP (see
    data.in_memory)."""
    return min(len(images), STREAMED_EVAL_CAP) if isinstance(images, StreamedImages) else len(images)


def heldout_evaluated(data: ImageDataset) -> int:
    return evaluated_count(data.heldout)


MIN_SET_SIZE = 2  # FID needs a covariance and KID pairs of images: one image gives neither


def images_for_heldout(n_heldout: int) -> int:
    """The fewest images a dataset needs for `n_heldout` held-out images under compare.data's split."""
    return next(n for n in range(n_heldout, 100 * n_heldout) if max(1, round(n * HELDOUT_FRACTION)) >= n_heldout)


def eval_sample_count(eval_samples: int | None, data: ImageDataset, feature_dim: int) -> int:
    """N, the samples per view, the floor's held-out images and the reference train images alike.

    At most the held-out size (the floor is an N-subset of it) and at least the feature dimension
    (below it the covariance behind FID is rank-deficient: the floor's FID doubles). By default the
    held-out size; a held-out split smaller than the feature dimension still gets that N, with a warning."""
    heldout = heldout_evaluated(data)
    if heldout < MIN_SET_SIZE:  # no spread: the floor (and the default N) would score every number as null
        raise UserError(f"{data.name} has {heldout} held-out image(s), and the quality metrics need at least "
                        f"{MIN_SET_SIZE}; give a dataset of at least {images_for_heldout(MIN_SET_SIZE)} images")
    if eval_samples is None:
        if heldout < feature_dim:
            warnings.warn(f"the held-out split of {data.name} holds {heldout} images, fewer than the {feature_dim} "
                          f"feature dimensions: FID, KID and the k-NN metrics at N={heldout} are unreliable; a "
                          f"dataset of {math.ceil(feature_dim / HELDOUT_FRACTION):,} images or more gives a "
                          "held-out split large enough")
        return heldout
    allowed = (f"give --eval-samples between {feature_dim} and {heldout}" if heldout >= feature_dim
               else f"leave --eval-samples out: the held-out split of {data.name} ({heldout} images) is "
                    "below the feature dimension")
    if eval_samples < feature_dim:
        raise UserError(f"--eval-samples {eval_samples} is below the {feature_dim} feature dimensions, where FID's "
                        f"covariance is rank-deficient; {allowed}")
    if eval_samples > heldout:
        raise UserError(f"--eval-samples {eval_samples} is more than the {heldout} held-out images of the real-data "
                        f"floor, which is scored at the same N; {allowed}")
    return eval_samples


def _estimates(n: int, pinned: bool) -> dict[str, str]:
    against = "this reference set, over redraws of the judged set" if pinned else "over redraws of both sets"
    return {"fid": f"FID at N = {n} against {against}",
            "fid_inf": "FID as N -> infinity: the value less the bootstrap's estimate of both sets' finite-N bias"}


def score_features(sets: dict[str, Features], extractor_info: dict, resamples: int = stats.RESAMPLES,
                   pinned: bool = True, names: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Every features metric on the named sets: {metric: {"values": {...}, "protocol": {...}}}; NaN -> null.

    A metric with a weighted form (FID, KID, precision/recall, density/coverage) also gets
    "intervals": {key: {"ci95": [low, high], "se": .., "bias": .., "resamples": B} or null} from a
    bootstrap scored in the same pass as the value (compare.stats): of the "fake" set only
    where the "real" set is `pinned` (compare run's reference), of both otherwise (compare score). A key
    with a large-N key beside it (fid, fid_inf) gets that value and interval from resamples of each side
    with the other whole; for two resampled sets its own interval adds the two sides' deviations too.
    `names` limits the metrics scored (compare.calibrate.coverage scores a few, many times)."""
    real, fake = sets["real"], sets["fake"]
    w_real, w_fake = stats.resample_pair(len(real), len(fake), resamples)
    whole_real, whole_fake = full_set(len(real)), full_set(len(fake))
    judged = torch.cat([whole_fake, w_fake], dim=1)  # column 0: the full set (the value); the others: the resamples
    scores = {}
    for name, metric in feature_metrics().items():
        if names is not None and name not in names:
            continue
        params = {**metric.params, **{p: extractor_info.get(p, 1.0) for p in metric.extractor_params}}
        protocol = {"extractor": extractor_info["name"], "weights_sha256": extractor_info["weights_sha256"],
                    **{f"n_{i}": len(sets[i]) for i in metric.inputs}, **params}
        intervals = None
        if metric.weighted is None:
            values = metric.fn(*(sets[i] for i in metric.inputs), **params)
        elif large := [k for k in metric.keys if f"{k}_inf" in metric.keys]:
            by_fake = metric.weighted(real, fake, whole_real, judged, **params)
            by_real = metric.weighted(real, fake, w_real, whole_fake, **params)
            values, intervals = {}, {}
            for k in large:
                values[k] = by_fake[k][0].item()
                values[f"{k}_inf"], intervals[f"{k}_inf"] = stats.large_n(values[k], by_fake[k][1:], by_real[k])
                intervals[k] = (stats.interval(by_fake[k][1:], values[k], metric.keys[k].bounds)
                                if pinned or intervals[f"{k}_inf"] is None
                                else stats.around(values[k], *_both_sides(by_fake[k][1:], by_real[k], values[k]),
                                                      metric.keys[k].bounds))
            protocol["estimates"] = _estimates(len(fake), pinned)
        else:
            columns = metric.weighted(real, fake, whole_real if pinned else torch.cat([whole_real, w_real], dim=1),
                                      judged, **params)
            values = {k: v[0].item() for k, v in columns.items()}
            intervals = {k: stats.interval(v[1:], values[k], metric.keys[k].bounds) for k, v in columns.items()}
        if intervals is not None:
            protocol["bootstrap"] = {"resamples": resamples, "seed": stats.SEED,
                                     "resampled": stats.PINNED if pinned else stats.BOTH,
                                     "interval": "bias-corrected percentile, clipped to the value's range"}
        scores[name] = {"values": {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()},
                        "protocol": protocol}
        if intervals is not None:
            scores[name]["intervals"] = intervals
    return scores


def _both_sides(by_fake: Tensor, by_real: Tensor, value: float) -> tuple[Tensor, float]:
    """Deviations and bias of two sets resampled at once, to first order: each side's, resample by resample, added."""
    return (by_fake - by_fake.mean()) + (by_real - by_real.mean()), float(by_fake.mean() + by_real.mean()) - 2 * value


def reference_order(n_train: int) -> Tensor:
    """The train images in reference order: the first N of it are every N-sample comparison's real set."""
    return torch.randperm(n_train, generator=torch.Generator().manual_seed(REAL_SUBSET_SEED))


# The real-data floors this process scored, by a digest of everything they are computed from: a study's or sweep's
# trials in one process (and a run's every evaluation) share one floor, which is half of a one-model trial's scoring.
_FLOORS: dict[str, dict] = {}
_FLOORS_KEPT = 8


def real_floor(common: dict[str, Features], extractor_info: dict, resamples: int) -> dict:
    """score_features of the held-out images against the reference, as for a model's view. Seeded and a function of
    its inputs alone, so a floor of bit-identical features, extractor and resamples is scored once per process and
    copied (a caller may change its copy)."""
    key = content_sha256([extractor_info, resamples,
                          {name: (common[name].features, common[name].probs) for name in ("real", "train", "heldout")}])
    if key not in _FLOORS:
        if len(_FLOORS) >= _FLOORS_KEPT:
            del _FLOORS[next(iter(_FLOORS))]
        _FLOORS[key] = score_features({"fake": common["heldout"], **common}, extractor_info, resamples)
    return copy.deepcopy(_FLOORS[key])


def evaluate_views(views: dict[str, Tensor], data: ImageDataset, extractor: Extractor,
                   resamples: int = stats.RESAMPLES) -> dict:
    """Score every sample view (label -> (N, C, H, W) images) and the real floor at one N.

    Each view is compared with the same N train images (the first N of reference_order); the floor
    scores the first N held-out images against them, and the memorisation check uses those N held-out
    images too, so every number of the table shares one protocol. Views of different sizes, or more
    samples than held-out images, are refused."""
    sizes = {len(images) for images in views.values()}
    heldout = real_features(extractor, in_memory(data.heldout), "held-out images", data.name)
    n = sizes.pop() if len(sizes) == 1 else len(heldout)
    if sizes or n > len(heldout):
        raise UserError(f"views of {sorted({len(v) for v in views.values()})} samples against {len(heldout)} held-out "
                        "images: every view and the real-data floor must share one N, at most the held-out size")
    train = real_features(extractor, in_memory(data.train), "train images", data.name)
    reference = train.subset(reference_order(len(train))[:n])
    heldout = heldout.subset(torch.arange(n))
    common = {"real": reference, "train": train, "heldout": heldout}
    floor = real_floor(common, extractor.info, resamples)
    scores = {view: score_features({"fake": extractor.extract(images, f"samples of {view}"), **common}, extractor.info,
                                   resamples)
              for view, images in views.items()}
    return {"extractor": extractor.info, "floor": floor, "views": scores}


@dataclass
class Scores:
    """The evaluate stage's result: every view's quality beside the real floor (`quality`, as
    evaluate_views returns it) and its pixel continuity beside real images (`continuity`, as
    compare.metrics.continuity.continuity_report returns it)."""

    quality: dict
    continuity: dict
    likelihood: dict = field(default_factory=dict)  # {model label: held-out bounds}, compare.metrics.likelihood

    def view_numbers(self, view: str) -> dict[str, dict[str, float | None]]:
        """{"quality": {key: value}, "continuity": {key: value}} of one view."""
        return {"quality": flat_values(self.quality["views"][view]), "continuity": dict(self.continuity["views"][view])}

    def value(self, view: str, key: str) -> float | None:
        """One number of a view by its key ("fid", "lone_pixels_per_image"), from whichever section holds it."""
        for section in self.view_numbers(view).values():
            if key in section:
                return section[key]
        raise KeyError(f"no metric {key!r} for view {view!r}")


def evaluate(views: dict[str, Tensor], data: ImageDataset, extractor: Extractor, n_eval: int,
             models: dict[str, GenerativeModel] | None = None, resamples: int = stats.RESAMPLES) -> Scores:
    """The evaluate stage: quality on the first n_eval samples of every view, continuity on as many as
    there are held-out real images (the train split at that count is the continuity floor), and the
    held-out likelihood of every model that defines one. Writes nothing."""
    heldout = in_memory(data.heldout).cpu()
    continuity = continuity_report({v: images[:len(heldout)] for v, images in views.items()}, heldout,
                                   floor=data.train[:len(heldout)].cpu())
    quality = evaluate_views({v: images[:n_eval] for v, images in views.items()}, data, extractor, resamples)
    return Scores(quality, continuity, heldout_likelihood(models or {}, heldout))


def flat_values(scores: dict[str, dict]) -> dict[str, float | None]:
    """{metric: {"values": {...}}} -> one dict of every number, e.g. {"fid": .., "precision": .., ...}."""
    return {k: v for entry in scores.values() for k, v in entry["values"].items()}


def check_comparable(a: Tensor, b: Tensor, feature_dim: int, names: tuple[str, str] = ("A", "B")) -> None:
    """Two sets can be scored against each other: at least `feature_dim` images each (fewer make FID's
    covariance rank-deficient), all of one size and channel count. Their numbers of images may differ, as
    in pytorch-fid."""
    if a.shape[1:] != b.shape[1:]:
        (ca, ha, wa), (cb, hb, wb) = a.shape[1:], b.shape[1:]
        raise UserError(f"{names[0]} holds {ca}x{ha}x{wa} (CxHxW) images but {names[1]} holds {cb}x{hb}x{wb}; "
                        "give two sets of the same size and channels")
    for name, images in zip(names, (a, b)):
        if len(images) < max(2, feature_dim):
            raise UserError(f"{name} holds {len(images)} image(s), fewer than the {feature_dim} feature "
                            "dimensions (FID's covariance would be rank-deficient); give at least "
                            f"{max(2, feature_dim)} images per set")


def score_sets(real: Tensor, fake: Tensor, data: ImageDataset, extractor: Extractor,
               resamples: int = stats.RESAMPLES) -> dict:
    """Score `fake` against the reference `real` (both (N, C, H, W) in [0, 1]); memorisation uses
    `data`'s train split. `resamples`: the bootstrap's, behind the intervals and fid_inf (every other value is the
    same whatever it is)."""
    check_comparable(real, fake, extractor.info["feature_dim"])
    real_f, fake_f = extractor.extract(real, "A's images"), extractor.extract(fake, "B's images")
    train = extractor.extract(in_memory(data.train), "train images")
    return {"extractor": extractor.info,
            "metrics": score_features({"real": real_f, "fake": fake_f, "train": train, "heldout": real_f},
                                      extractor.info, resamples, pinned=False)}
