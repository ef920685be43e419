"""What every figure shares: matplotlib's pyplot (headless, imported on first use), save_figure, sample grids,
side-by-side panels and interval curves; also the progress grids of compare.watch and a sweep's curves."""

from __future__ import annotations

import functools
import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from compare.io import write_bytes


@functools.cache
def _headless_pyplot():
    """matplotlib.pyplot on the Agg backend, set once, at the first figure (as importing this module once did):
    setting it again at every call would switch back a backend the user chose since, closing their figures."""
    import matplotlib

    matplotlib.use("Agg")  # never needs a display; set before pyplot is imported anywhere
    import matplotlib.pyplot

    return matplotlib.pyplot


class _Pyplot:
    """matplotlib.pyplot, imported on first use, headless: matplotlib and torchvision take 1.7 s of a process's start,
    and most processes that import the report's modules (a score, a worker's trial, --help) draw nothing."""

    def __getattr__(self, name: str):
        return getattr(_headless_pyplot(), name)


plt = _Pyplot()


def grid_array(images: Tensor, nrow: int | None = None) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one (H', W', 3) uint8 picture, `nrow` images a row (default: square)."""
    from torchvision.utils import make_grid  # on first use, as pyplot (above)

    nrow = nrow or math.ceil(math.sqrt(len(images)))
    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=2, pad_value=0.5)  # (3, H', W')
    return (grid.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def save_grid(images: Tensor, path: Path, nrow: int | None = None) -> None:
    """Lossless PNG of the grid at one screen pixel per image pixel (byte-identical for identical images)."""
    buf = io.BytesIO()
    Image.fromarray(grid_array(images, nrow)).save(buf, format="PNG")
    write_bytes(path, buf.getvalue())


def save_figure(fig: plt.Figure, path: Path, dpi: int = 100) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_bytes(path, buf.getvalue())


# the report's 1,200 px column at save_figure's 100 dpi, less the margins bbox_inches="tight" keeps
COLUMN_INCHES = 11.5


def save_side_by_side(grids: dict[str, Tensor], path: Path, title: str = "", panel_inches: float = 3.2) -> None:
    """Every labelled image set as a grid in one row, each under its label, pixels unsmoothed; panels narrowed so the
    row fits the report's column at its own size (a browser shrinking a wider one shrinks its labels too)."""
    panel_inches = min(panel_inches, COLUMN_INCHES / len(grids))
    fig, axes = plt.subplots(1, len(grids), figsize=(panel_inches * len(grids), panel_inches + 0.4), squeeze=False)
    for ax, (label, images) in zip(axes[0], grids.items()):
        ax.imshow(grid_array(images), interpolation="nearest")
        ax.set_title(label, fontsize=11)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def save_interval_curves(lines: dict[str, list[tuple[float, float, float, float]]], path: Path, xlabel: str,
                         ylabel: str, title: str = "") -> None:
    """One line per label through (x, mean) points, a shaded band from low to high; x on a log scale."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, points in lines.items():
        x, mean, low, high = (np.array(v, dtype=float) for v in zip(*sorted(points)))
        (line,) = ax.plot(x, mean, marker="o", label=label)
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    save_figure(fig, path)
