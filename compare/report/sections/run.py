"""The report's sections over run directories, each a function of the runs returning its blocks.

The numbers' tables come from compare.report.tables (the same ones the CLI prints); the pictures are
the PNGs a run wrote, embedded only when they are PNGs inside the run directory.
"""

from __future__ import annotations

from typing import Callable

from compare.metrics.numbers import fmt
from compare.report.render import Block, Heading, Image, Para, Table, embeddable
from compare.report.runs import Run
from compare.report.tables import (likelihood_table, overlap_sentences, pixel_intervals, pixel_table, quality_intervals,
                                   quality_table, sensitivity_table)
from compare.report.text import FLOOR


def section_setup(runs: list[Run]) -> list[Block]:
    rows = []
    for run in runs:
        c = run.config
        ds = c.get("dataset", {})
        consumed = "; ".join(f"{label}: {fmt(m.get('steps'))} steps, {fmt(m.get('images_seen'))} images, "
                             f"{fmt(m.get('train_seconds'))} s" for label, m in run.models.items())
        versions = c.get("versions", {})
        optimizers = "; ".join(f"{label}: {m['optimizer']} lr {m.get('lr'):g}"
                               for label, m in c.get("models", {}).items() if "optimizer" in m)
        rows.append([run.name,
                     f"{ds.get('name')} ({fmt(ds.get('train'))} train / {fmt(ds.get('heldout'))} held-out, "
                     f"{'x'.join(map(str, ds.get('image_shape', [])))})",
                     c.get("budget", {}).get("spec", "?"), consumed, optimizers or "–",
                     f"{c.get('device', {}).get('type')} ({c.get('device', {}).get('name')})", fmt(c.get("seed")),
                     f"torch {versions.get('torch')}, git {str(versions.get('git'))[:10]}"])
    return [Heading("Setup"),
            Table(["run", "dataset", "budget", "consumed", "optimizer", "device", "seed", "versions"], rows)]


def images(runs: list[Run], filename: str, alt: str, pixelated: bool = False) -> list[Block]:
    """Each run's PNGs matching `filename`, the real images' first (the reference a reader compares the rest with)."""
    blocks: list[Block] = []
    for run in runs:
        for path in sorted(run.path.glob(filename), key=lambda p: (not p.stem.endswith("_real"), p.name)):
            if embeddable(path, run.path):
                blocks.append(Image(path, f"{run.name}: {alt}" + (f" ({path.stem})" if "*" in filename else ""),
                                    pixelated))
    return blocks


def pictures(heading: str, intro: str, found: list[Block]) -> list[Block]:
    """A section of pictures, or none when the runs drew none (a sweep's or --seeds' trials draw no pictures)."""
    return [Heading(heading), *([Para(intro)] if intro else []), *found] if found else []


def section_samples(runs: list[Run]) -> list[Block]:
    return pictures("Samples side by side",
                    "Held-out real images and every model's samples, each model drawing from the "
                    "same fixed noise seed.",
                    images(runs, "side_by_side.png", "samples side by side"))


def section_training(runs: list[Run]) -> list[Block]:
    rows = [[run.name, label, m.get("failure") or m.get("status", "finished"), fmt(m.get("steps")),
             fmt(m.get("steps_per_second")),
             ", ".join(f"{k.replace('_', ' ')} {fmt(v)}" for k, v in m.get("final_losses", {}).items())]
            for run in runs for label, m in run.models.items()]
    return [Heading("Training"), Table(["run", "model", "status", "steps", "steps/s", "final losses"], rows),
            *images(runs, "loss_curves.png", "training losses")]


def section_latents(runs: list[Run]) -> list[Block]:
    return pictures("Latent interpolations",
                    "Each row walks a great circle between two latent draws: smooth rows mean a "
                    "continuous latent space.",
                    images(runs, "interpolations.png", "latent interpolations"))


def section_neighbours(runs: list[Run]) -> list[Block]:
    return pictures("Nearest training images",
                    "A sample identical to its nearest training image would be memorised, not generated.",
                    images(runs, "nearest_neighbours.png", "nearest training neighbours"))


def section_reconstructions(runs: list[Run]) -> list[Block]:
    return pictures("Reconstructions", "",
                    images(runs, "reconstructions_*.png", "held-out images (top) and reconstructions (bottom)",
                           pixelated=True))


def _overlaps(sentences: list[str]) -> list[Block]:
    return [Para("Which 95% intervals overlap: " + " ".join(sentences))] if sentences else []


def section_quality(runs: list[Run]) -> list[Block]:
    blocks: list[Block] = [Heading("Sample quality")]
    measured = [run for run in runs if run.metrics.get("quality")]
    if not measured:
        return blocks + [Para("Not measured in these runs; `compare evaluate RUN_DIR` adds it from the saved weights.")]
    for run in measured:
        quality = run.metrics["quality"]
        info = quality["extractor"]
        columns = {FLOOR: quality["floor"], **quality["views"]}
        any_view = next(iter(quality["views"].values()), quality["floor"])
        protocol = any_view["fid"]["protocol"]
        accuracy = info.get("heldout_accuracy")
        blocks.append(Para(f"{run.name}: features {info['name']} (weights sha256 {info['weights_sha256'][:12]}"
                           + (f", held-out accuracy {accuracy:.2%}" if accuracy is not None
                              else ", no labels: class metrics n/a")
                           + f"); {protocol.get('n_fake')} samples per view against {protocol.get('n_real')} train "
                             "images; the real floor is held-out against train images at the same count, what a "
                             "perfect model scores. [low, high] is a 95% bootstrap interval over the samples against "
                             "the pinned reference set (that of FID as N → ∞: over both sets)."))
        blocks += [quality_table(columns), *_overlaps(overlap_sentences(quality_intervals(columns)))]
    return blocks


def section_likelihood(runs: list[Run]) -> list[Block]:
    """The VAE's held-out likelihood, where a run measured it; no section otherwise."""
    measured = [run for run in runs if run.metrics.get("likelihood")]
    if not measured:
        return []
    blocks: list[Block] = [Heading("Held-out likelihood"),
                           Para("The VAE's held-out evidence lower bound and its importance-weighted bound on the "
                                "negative log-likelihood (IWAE, Burda et al. 2016) with k importance samples, in "
                                "nats per image, with 95% intervals over the held-out images; lower NLL is better. "
                                "A GAN has no likelihood.")]
    for run in measured:
        blocks += [Para(f"{run.name}:"), likelihood_table(run.metrics["likelihood"])]
    return blocks


def section_size(runs: list[Run]) -> list[Block]:
    rows = []
    for run in runs:
        for label, m in run.models.items():
            size = m.get("size")
            if not size:
                continue
            parts = ", ".join(f"{part} {fmt(n)}" for part, n in size["parameters"].items() if part != "total")
            rows.append([run.name, label, fmt(m.get("width")), fmt(size["parameters"]["total"]), parts,
                         fmt(size["fp32_mb"]["total"]), fmt(size["flops_per_image"]), fmt(size["train_flops_per_step"]),
                         fmt(size["sampling_images_per_second"]), fmt(size["training_images_per_second"]),
                         f"{fmt(size['peak_memory_mb'])} ({size['peak_memory_kind']})"])
    if not rows:
        return []  # runs stopped before their final evaluation (which measures sizes): no section, not an empty one
    return [Heading("Model size"),
            Para("FLOPs are counted by torch's FlopCounterMode on the real networks (matrix "
                 "products and convolutions)."),
            Table(["run", "model", "width", "parameters", "per part", "fp32 MB", "FLOPs / image", "train FLOPs / step",
                   "sampling img/s", "training img/s", "peak memory MB"],
                  rows)]


def section_curves(runs: list[Run]) -> list[Block]:
    return pictures("Quality against compute", "",
                    images(runs, "curves.png", "FID and lone pixels per image against training FLOPs and seconds"))


REAL = "real (held-out)"


def section_continuity(runs: list[Run]) -> list[Block]:
    measured = [run for run in runs if run.metrics.get("continuity")]
    if not measured:
        return [Heading("Pixel continuity"),
                Para("Not measured in these runs (they predate the continuity metrics); rerun with `compare run`.")]
    blocks: list[Block] = [Heading("Pixel continuity"),
                           Para("Bad pixels, counted per image on the images binarised at 0.5: lone pixels (all 8 "
                                "neighbours the other value: lone ink on the background, lone holes in a stroke), "
                                "specks (ink pieces of 1-3 pixels) and fragments (pieces of 4+ pixels besides the main "
                                "stroke); [low, high] is a 95% bootstrap interval over images, (Rx) the ratio to the "
                                "held-out real images. Clean strokes, stroke ends and corners count zero. Blur and "
                                "spectrum are measured apart and never counted as bad pixels: blur lowers all three, "
                                "pixel noise raises them, so the real value (1x) is the target; the real column's "
                                "spectrum distance is the train-vs-held-out floor. Last, the bad-pixel rates binarised "
                                "at 0.3 and 0.7 instead of 0.5: how much they depend on the threshold.")]
    for run in measured:
        report = run.metrics["continuity"]
        blocks += [Para(f"{run.name}: bad pixels."), pixel_table(report, "bad pixels", REAL),
                   *_overlaps(overlap_sentences(pixel_intervals(report, REAL))),
                   Para(f"{run.name}: blur and spectrum."), pixel_table(report, "blur", REAL)]
        if report.get("sensitivity"):
            blocks += [Para(f"{run.name}: threshold sensitivity."), sensitivity_table(report, REAL)]
    return blocks + [*images(runs, "spectrum.png", "radially averaged power spectra"),
                     *images(runs, "artifacts_*.png",
                             "flagged pixels (red lone ink, green lone hole, blue speck, orange fragment)"),
                     *images(runs, "worst16_*.png", "the 16 images with the most lone pixels + specks")]


SECTIONS: list[Callable[[list[Run]], list[Block]]] = [
    section_setup,
    section_samples,
    section_quality,
    section_likelihood,
    section_continuity,
    section_size,
    section_curves,
    section_training,
    section_latents,
    section_neighbours,
    section_reconstructions,
]
