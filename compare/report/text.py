"""The tables as the CLI prints them and metrics.md holds them: aligned Markdown with the protocol in words.

    quality_report     a run's (or `compare evaluate`'s) quality: the real floor beside every view
    run_text           metrics.md (and `compare run --verbose`): quality, bad pixels, likelihood
Each is the same table the report shows (compare.report.tables), followed by which intervals overlap.
"""

from __future__ import annotations

from pathlib import Path

from compare.io import write_bytes
from compare.report.render import text_table
from compare.report.tables import (likelihood_table, overlap_sentences, pixel_intervals, pixel_table, quality_intervals,
                                   quality_table)

FLOOR = "real floor"
INTERVALS = ("[low, high]: 95% bootstrap interval over the samples against the pinned reference set; "
             "FID as N → ∞'s over both sets.")


def extractor_line(info: dict) -> str:
    if info.get("heldout_accuracy") is not None:
        accuracy = f", held-out accuracy {info['heldout_accuracy']:.2%}"
    elif "heldout_reconstruction_bce_per_pixel" in info:  # unlabelled data: an autoencoder, no classes
        accuracy = (", autoencoder for unlabelled data: held-out BCE "
                    f"{info['heldout_reconstruction_bce_per_pixel']:.4f}/pixel; class metrics n/a")
    else:
        accuracy = ""
    return f"Features: {info['name']} (weights sha256 {info['weights_sha256'][:12]}{accuracy})."


def _with_overlaps(columns: dict) -> list[str]:
    """The quality table, then (for two sets or more) which of their intervals overlap."""
    overlaps = overlap_sentences(quality_intervals(columns)) if len(columns) > 1 else []
    return [text_table(quality_table(columns)), "", INTERVALS, *overlaps]


def quality_report(quality: dict) -> str:
    """The metrics table of a run (floor beside every view) with the protocol in words above it."""
    views = quality["views"]
    any_view = next(iter(views.values()), quality["floor"])
    n_fake, n_real = any_view["fid"]["protocol"]["n_fake"], any_view["fid"]["protocol"]["n_real"]
    n_floor = quality["floor"]["fid"]["protocol"]["n_fake"]
    return "\n".join([
        extractor_line(quality["extractor"]),
        f"Each view: {n_fake} samples vs {n_real} train images (k-NN: precision/recall k=3, density/coverage k=5). "
        f"{FLOOR}: {n_floor} held-out vs {n_floor} train images.",
        "",
        *_with_overlaps({FLOOR: quality["floor"], **views}),
    ])


def run_text(metrics: dict) -> str:
    """What metrics.md holds and `compare run --verbose` prints: quality beside the real floor, bad pixels beside
    real images, and the held-out likelihood of the models that have one."""
    parts = [quality_report(metrics["quality"])]
    if continuity := metrics.get("continuity"):
        parts.append("\n".join([text_table(pixel_table(continuity, "bad pixels", "real")),
                                "", "[low, high]: 95% bootstrap interval over images; (Rx): the ratio to real.",
                                *overlap_sentences(pixel_intervals(continuity, "real"))]))
    if likelihood := metrics.get("likelihood"):
        parts.append("\n".join([text_table(likelihood_table(likelihood)), "",
                                "Upper bounds on -log p(x) of held-out images, lower is better; [low, high]: "
                                "95% interval over images."]))
    return "\n\n".join(parts)


def write_metrics_md(out: Path, metrics: dict) -> None:
    write_bytes(Path(out) / "metrics.md", f"# Sample quality, bad pixels, likelihood\n\n{run_text(metrics)}\n".encode())
