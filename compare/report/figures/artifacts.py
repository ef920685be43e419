"""Where the pixel artifacts are: artifact maps, the worst-16 galleries and the power spectra of a run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch
from torch import Tensor

from compare.metrics.bad_pixels import SPECK_MAX_PIXELS, lone_masks, pieces
from compare.metrics.continuity import BINARY_THRESHOLD, HF_CUTOFF, artifact_scores, gray, ink
from compare.metrics.numbers import fmt
from compare.report.figures.common import plt, save_figure, save_side_by_side


ARTIFACT_COLOURS = {  # RGB painted over the grey image, later entries win (a lone ink pixel is also a speck)
    "speck": (0.2, 0.5, 1.0),  # blue: an ink piece of 1-3 pixels
    "fragment": (1.0, 0.6, 0.0),  # orange: a piece of 4+ pixels besides the main stroke
    "lone hole": (0.1, 0.8, 0.1),  # green: a background pixel with ink all around
    "lone ink": (1.0, 0.1, 0.1),  # red: an ink pixel with background all around
}
ARTIFACT_LEGEND = ("red: lone ink pixel, green: lone hole (all 8 neighbours the other value, binarised at "
                   f"{BINARY_THRESHOLD}), blue: speck (ink piece of 1-{SPECK_MAX_PIXELS} px), orange: fragment (piece "
                   "besides the main stroke)")
LEGEND_LINES = textwrap.fill(ARTIFACT_LEGEND, 110)  # in lines no wider than the figure: one line overflowed the column
MAP_SAMPLES = 64
WORST = 16


def artifact_overlay(images: Tensor) -> Tensor:
    """(N, 3, H, W) in [0, 1]: the grey images with flagged pixels painted in ARTIFACT_COLOURS."""
    binary = ink(images)
    lone_ink, lone_holes = lone_masks(binary)
    found = pieces(binary)
    masks = {"speck": found["speck"][found["labels"]], "fragment": found["fragment"][found["labels"]],
             "lone hole": lone_holes, "lone ink": lone_ink}
    rgb = gray(images).clamp(0, 1).unsqueeze(1).repeat(1, 3, 1, 1)  # (N, 3, H, W)
    for name, colour in ARTIFACT_COLOURS.items():
        paint = torch.tensor(colour, device=rgb.device).view(1, 3, 1, 1)
        rgb = torch.where(masks[name].to(rgb.device).unsqueeze(1), paint, rgb)
    return rgb


def worst_indices(images: Tensor, k: int = WORST) -> Tensor:
    """Indices of the k images with the highest artifact score, worst first (ties: earliest first)."""
    order = torch.sort(artifact_scores(images), descending=True, stable=True).indices
    return order[:k]


def _filename(label: str) -> str:
    return label.replace(":", "-").replace("/", "-").replace(" ", "_")


def save_artifact_maps(label: str, images: Tensor, out: Path, real: Tensor | None = None) -> list[str]:
    """artifacts_<label>.png (the first 64 images, raw and flagged) and worst16_<label>.png; with `real`, the real
    images' own panel comes first in each, the reference every sample is read against."""
    images = images.detach().cpu()
    shown = images[:MAP_SAMPLES]
    names = [f"artifacts_{_filename(label)}.png", f"worst{WORST}_{_filename(label)}.png"]
    first = {} if real is None else {"real (held-out)": real[:MAP_SAMPLES]}
    save_side_by_side({**first, f"{label}: samples": shown, "flagged": artifact_overlay(shown)}, out / names[0],
                      title=LEGEND_LINES, panel_inches=5)
    worst = worst_indices(images)
    scores = artifact_scores(images[worst])
    title = (f"{label}: the {len(worst)} of {len(images)} images with the most lone pixels + specks "
             f"({fmt(int(scores.max()))} .. {fmt(int(scores.min()))})\n{LEGEND_LINES}")
    first = {} if real is None else {f"real: worst {WORST}": real[worst_indices(real)]}
    save_side_by_side({**first, f"{label}: worst {len(worst)}": images[worst],
                       "flagged": artifact_overlay(images[worst])},
                      out / names[1], title=title, panel_inches=4)
    return names


def save_spectrum_plot(report: dict, path: Path) -> None:
    """Every view's radial log power spectrum over the real one, distances in the legend."""
    spectra = report["spectrum"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(spectra["frequency"], spectra["real"], color="black", linewidth=2.5, label="real (held-out)")
    for label, numbers in report["views"].items():
        ax.plot(spectra["frequency"], spectra[label], marker=".",
                label=f"{label}  (distance {fmt(numbers['spectrum_distance'])} decades)")
    ax.axvline(HF_CUTOFF, color="grey", linestyle="--", linewidth=1,
               label=f"high-frequency share: power right of {HF_CUTOFF}")
    ax.set_xlabel("spatial frequency (cycles / pixel)")
    ax.set_ylabel("log10 mean power")
    ax.set_title("Azimuthally averaged power spectrum (Durall et al. 2020)", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def save_continuity_pictures(report: dict, views: dict[str, Tensor], real: Tensor, out: Path) -> list[str]:
    """Artifact maps and worst-16 galleries of every view and of the real set, and spectrum.png; returns
    the file names."""
    files = []
    for label, images in views.items():
        files += save_artifact_maps(label, images, Path(out), real.detach().cpu())
    files += save_artifact_maps("real", real, Path(out))  # after the views: the order metrics.json has always listed
    save_spectrum_plot(report, Path(out) / "spectrum.png")
    return [*files, "spectrum.png"]
