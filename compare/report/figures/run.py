"""The run's explanatory figures: loss curves, latent interpolations, nearest train neighbours,
reconstructions. Each is drawn from what a model offers (optional methods), never from its family."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from compare.metrics import label_of
from compare.metrics.numbers import fmt
from compare.report.figures.common import grid_array, plt, save_figure, save_grid
from compare.metrics.curves import CURVE_METRICS
from compare.protocol import GenerativeModel
from compare.metrics.quality import nearest_index

INTERPOLATION_STEPS = 10
INTERPOLATION_ROWS = 6


def save_loss_curves(histories: dict[str, list[dict[str, float]]], path: Path) -> None:
    """One panel per model, every loss it reports against the training step."""
    fig, axes = plt.subplots(1, len(histories), figsize=(4.2 * len(histories), 3.2), squeeze=False)
    for ax, (label, history) in zip(axes[0], histories.items()):
        steps = [h["step"] for h in history]
        keys = [k for k in history[0] if k != "step"] if history else []  # empty when diverged before the first reading
        for key in keys:
            ax.plot(steps, [h[key] for h in history], label=key, linewidth=1)
        ax.set_title(label)
        ax.set_xlabel("step")
        if keys:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between latent rows a and b (White 2016, "Sampling generative networks"):
    it keeps the norm typical of a Gaussian latent, where a straight line passes near the origin."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1, 1))  # (R, 1)
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolation_images(model: GenerativeModel, seed: int) -> Tensor | None:
    """(rows * steps, C, H, W) images along latent paths, or None when the model cannot generate from z."""
    generate = getattr(model, "generate", None)
    latent_dim = getattr(model.config, "latent_dim", None)
    if generate is None or latent_dim is None:
        return None
    rng = torch.Generator().manual_seed(seed)
    ends = torch.randn(2, INTERPOLATION_ROWS, 1, latent_dim, generator=rng)  # (2, R, 1, D)
    t = torch.linspace(0, 1, INTERPOLATION_STEPS).view(1, -1, 1)  # (1, S, 1)
    z = slerp(ends[0], ends[1], t).reshape(-1, latent_dim)  # (R * S, D)
    return generate(z).cpu()


def save_interpolations(models: dict[str, GenerativeModel], path: Path, seed: int) -> bool:
    rows = {label: imgs for label, m in models.items() if (imgs := interpolation_images(m, seed)) is not None}
    if not rows:
        return False
    fig, axes = plt.subplots(1, len(rows), figsize=(4.6 * len(rows), 3.2), squeeze=False)
    for ax, (label, images) in zip(axes[0], rows.items()):
        ax.imshow(grid_array(images, nrow=INTERPOLATION_STEPS), interpolation="nearest")
        ax.set_title(f"{label}: latent interpolation")
        ax.axis("off")
    save_figure(fig, path)
    return True


def save_nearest_neighbours(views: dict[str, Tensor], train: Tensor, path: Path, n: int = 8) -> None:
    """Per view, n samples (top row) over their nearest training images in pixel space (bottom row)."""
    fig, axes = plt.subplots(len(views), 1, figsize=(n * 0.9, 2.1 * len(views)), squeeze=False)
    for ax, (view, images) in zip(axes[:, 0], views.items()):
        flat_samples, flat_train = images[:n].flatten(1), train.cpu().flatten(1).to(images.dtype)
        idx = nearest_index(flat_samples, flat_train)
        dist = (flat_samples - flat_train[idx]).norm(dim=1)
        ax.imshow(grid_array(torch.cat([images[:n], train.cpu()[idx]]), nrow=n), interpolation="nearest")
        ax.set_title(f"{view}: samples (top) and nearest train image (bottom), mean L2 {fmt(float(dist.mean()))}",
                     fontsize=9)
        ax.axis("off")
    save_figure(fig, path)


def save_reconstructions(model: GenerativeModel, heldout: Tensor, path: Path, n: int = 16) -> bool:
    """Held-out images (top row) over the model's reconstructions, when the model can reconstruct."""
    reconstruct = getattr(model, "reconstruct", None)
    if reconstruct is None:
        return False
    originals = heldout[:n]
    save_grid(torch.cat([originals.cpu(), reconstruct(originals).cpu()]), path, nrow=n)
    return True


def save_curves(curves: dict[str, list[dict]], path: Path) -> None:
    """FID and lone pixels per image against training FLOPs and seconds; every view of every model on the same axes."""
    fig, axes = plt.subplots(len(CURVE_METRICS), 2, figsize=(10, 3.4 * len(CURVE_METRICS)), squeeze=False)
    for row, metric in enumerate(CURVE_METRICS):
        for col, (unit, label) in enumerate([("flops", "training FLOPs"), ("s", "training seconds")]):
            ax = axes[row][col]
            for model, points in curves.items():
                for view in points[-1]["views"] if points else ():
                    # a prior's view (vae-gmm) has its final point only
                    seen = [p for p in points if view in p["views"]]
                    xs = [p[unit] for p in seen]
                    ys = [p["views"][view][metric] for p in seen]
                    ax.plot(xs, ys, marker="o", markersize=3, label=view)
            ax.set_xlabel(label)
            ax.set_ylabel(label_of(metric))
            ax.grid(alpha=0.3)
            if metric == "fid":
                ax.set_yscale("log")
            ax.legend(fontsize=8)
    save_figure(fig, path)
