"""Quality against compute: each model evaluated at K evenly spaced points of its budget.

At every point each view is scored with FID (in the run's evaluator features, against the final
evaluation's train subset, at its N) and lone pixels per image (raw pixels binarised, compare.metrics.bad_pixels), with what the model had consumed so far in
steps, images, seconds and FLOPs. The last point of every curve is the end-of-run evaluation
itself, so a curve ends exactly on the numbers of the metrics table.
"""

from __future__ import annotations

from typing import Callable

from compare.data import ImageDataset, in_memory
from compare.errors import UserError
from compare.metrics.evaluator import Extractor
from compare.metrics.scoring import reference_order
from compare.metrics import METRICS
from compare.metrics.quality import fid

CURVE_METRICS = ("fid", "lone_pixels_per_image")


def check_curve_samples(curve_samples: int | None, n_eval: int) -> None:
    """Every curve point is scored at the final evaluation's N (FID moves with N): another N is refused."""
    if curve_samples is not None and curve_samples != n_eval:
        raise UserError(f"--curve-samples {curve_samples} differs from the {n_eval} samples of the final evaluation; every curve point "
                        f"is scored at the same N as the final numbers and the real-data floor: leave --curve-samples out")


def make_point_evaluator(data: ImageDataset, extractor: Extractor, n: int) -> Callable[[dict], dict]:
    """views {label: (n, C, H, W) samples} -> {label: {"fid": .., "lone_pixels_per_image": ..}}, against one fixed train subset."""
    train = in_memory(data.train)
    order = reference_order(len(train))[:n]  # the final evaluation's reference set, so the curve's points compare alike
    reference = extractor.extract(train[order.to(train.device)], "train images")

    def evaluate(views: dict) -> dict:
        return {view: {"fid": fid(reference, extractor.extract(images, f"samples of {view}"))["fid"],
                       "lone_pixels_per_image": METRICS["lone_pixels"].fn(images)["lone_pixels_per_image"]}
                for view, images in views.items()}

    return evaluate
