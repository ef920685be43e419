"""Quality against compute: each model evaluated at K evenly spaced points of its budget.

At every point each view is scored with FID (in the run's evaluator features, against a fixed
train subset) and lone pixels per image (raw pixels binarised, compare.bad_pixels), with what the model had consumed so far in
steps, images, seconds and FLOPs. The last point of every curve is the end-of-run evaluation
itself, so a curve ends exactly on the numbers of the metrics table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt

from compare.data import ImageDataset, in_memory
from compare.evaluate import reference_order
from compare.evaluator import Extractor
from compare.metrics import METRICS
from compare.plots import save_figure
from compare.quality import fid

CURVE_METRICS = ("fid", "lone_pixels_per_image")


def eval_steps(total_steps: int, points: int) -> list[int]:
    """The steps of the K-1 points before the end (the end is the final evaluation), evenly spaced."""
    return sorted({max(1, round(total_steps * k / points)) for k in range(1, points)} - {total_steps})


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


def final_point(consumed: dict, quality_views: dict, continuity_views: dict, views: list[str]) -> dict:
    """The end-of-run evaluation as the curve's last point."""
    return {**consumed, "views": {v: {"fid": quality_views[v]["fid"]["values"]["fid"],
                                      "lone_pixels_per_image": continuity_views[v]["lone_pixels_per_image"]} for v in views}}


def save_curves(curves: dict[str, list[dict]], path: Path) -> None:
    """FID and lone pixels per image against training FLOPs and seconds; every view of every model on the same axes."""
    fig, axes = plt.subplots(len(CURVE_METRICS), 2, figsize=(10, 3.4 * len(CURVE_METRICS)), squeeze=False)
    for row, metric in enumerate(CURVE_METRICS):
        for col, (unit, label) in enumerate([("flops", "training FLOPs"), ("s", "training seconds")]):
            ax = axes[row][col]
            for model, points in curves.items():
                for view in points[-1]["views"] if points else ():
                    xs = [p[unit] for p in points]
                    ys = [p["views"][view][metric] for p in points]
                    ax.plot(xs, ys, marker="o", markersize=3, label=view)
            ax.set_xlabel(label)
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            if metric == "fid":
                ax.set_yscale("log")
            ax.legend(fontsize=8)
    save_figure(fig, path)
