"""Quality against compute: each model evaluated at K evenly spaced points of its budget.

At every point each view is scored with FID, KID and the evaluator's mean top-class confidence (in the
run's evaluator features, against the final evaluation's train subset, at its N) and lone pixels and
specks per image (raw pixels binarised, compare.metrics.bad_pixels), with what the model had consumed
so far in steps, images, seconds and FLOPs. The reference's features come from the features cache
(compare.metrics.feature_cache): a study's trials extract them once. The last point of every curve is the end-of-run
evaluation itself, so a curve ends exactly on the numbers of the metrics table.
"""

from __future__ import annotations

import math
from typing import Callable

from compare.data import ImageDataset, in_memory
from compare.errors import UserError
from compare.metrics.evaluator import Extractor
from compare.metrics.scoring import reference_order
from compare.metrics.continuity import bad_pixel_counts
from compare.metrics.feature_cache import real_features
from compare.metrics.quality import fid, kid, mean_confidence

CURVE_METRICS = ("fid", "kid_x1e3", "mean_confidence", "lone_pixels_per_image", "specks_per_image")


def check_curve_samples(curve_samples: int | None, n_eval: int) -> None:
    """Every curve point is scored at the final evaluation's N (FID moves with N): another N is refused."""
    if curve_samples is not None and curve_samples != n_eval:
        raise UserError(f"--curve-samples {curve_samples} differs from the {n_eval} samples of the final "
                        "evaluation; every curve point is scored at the same N as the final numbers and the "
                        "real-data floor: leave --curve-samples out")


def make_point_evaluator(data: ImageDataset, extractor: Extractor, n: int) -> Callable[[dict], dict]:
    """views {label: (n, C, H, W) samples} -> {label: {key: value for CURVE_METRICS}}, against one fixed
    train subset."""
    train = in_memory(data.train)
    order = reference_order(len(train))[:n]  # the final evaluation's reference set, so the curve's points compare alike
    reference = real_features(extractor, train[order.to(train.device)], "train reference", data.name)

    def evaluate_view(view: str, images) -> dict:
        fake = extractor.extract(images, f"samples of {view}")
        counts = bad_pixel_counts(images)  # the registered lone_pixels / specks rates, counted once
        values = {**fid(reference, fake), **kid(reference, fake, extractor.info.get("feature_sd", 1.0)),
                  **mean_confidence(fake),
                  **{key: float(counts[key].double().mean()) for key in ("lone_pixels_per_image", "specks_per_image")}}
        return {k: None if math.isnan(v) else v for k, v in values.items()}  # as the final evaluation stores them

    return lambda views: {view: evaluate_view(view, images) for view, images in views.items()}
