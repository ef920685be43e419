"""Pixel continuity artifacts: isolated bad pixels, specks, broken strokes, blur and spectral excess.

The source claims a VAE, which draws every pixel independently given z, shows "discontinuous bad
pixels" that a GAN avoids. These metrics measure that on raw pixels in [0, 1], each one a pure,
vectorised function of an image batch (N, C, H, W) registered in compare.metrics.METRICS with
space "pixels", and `continuity_report` reports each beside the held-out real images' value.

Colour images are reduced to luma (ITU-R BT.601 weights) first: every metric here is about the
spatial structure of intensity, and one channel keeps thresholds meaningful for any C.

None of these numbers is good or bad on its own: real digits have stroke ends, thin diagonals and
anti-aliased edges that some detectors flag. What a reader should look at is the ratio model/real.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

from compare.errors import UserError
from compare.metrics.registry import Metric

# A pixel is "isolated" when it differs from the median of its 3x3 neighbourhood by more than this.
# 0.5 is half the full range: the pixel sits on the other side of mid-grey from what surrounds it,
# i.e. it would flip if the image were binarised at 0.5, the definition of a salt or pepper pixel.
# Anti-aliased stroke edges in MNIST step by less than that between neighbours and are not flagged
# (real held-out mnist5k: 0.50% of pixels at 0.5, against 0.94% at 0.4 and 2.1% at 0.25), and
# 97-99% of planted salt-and-pepper pixels are found (tests/test_continuity.py).
ISOLATED_THRESHOLD = 0.5
BINARY_THRESHOLD = 0.5  # foreground = pixel > 0.5, for specks and fragments
SPECK_MAX_PIXELS = 2  # a component this small is a speck, not a stroke: no digit stroke is 2 pixels
# High-frequency share: power above half the Nyquist frequency (0.25 cycles/pixel) over all
# non-DC power. Blur removes it; independent per-pixel noise spreads power evenly, so it raises it.
HF_CUTOFF = 0.25
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601


def gray(images: Tensor) -> Tensor:
    """(N, C, H, W) in [0, 1] -> (N, H, W) float: the single channel, or luma for RGB."""
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    images = images.float()
    if images.shape[1] == 1:
        return images[:, 0]
    if images.shape[1] == 3:
        w = torch.tensor(_LUMA, device=images.device).view(1, 3, 1, 1)
        return (images * w).sum(1)
    return images.mean(1)


# ---- per-pixel and per-image maps (what the artifact pictures draw) ----

# Paeth's median-of-9 exchange network (Graphics Gems, 1990): 19 min/max exchanges on whole
# tensors, ~5x faster than torch.median over an unfolded (N, 9, H*W) tensor on the CPU.
_MEDIAN9_EXCHANGES = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
                      (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2))


def median9(values: list[Tensor]) -> Tensor:
    """Elementwise median of 9 same-shaped tensors (after the exchanges the middle slot holds it)."""
    v = list(values)
    for a, b in _MEDIAN9_EXCHANGES:
        v[a], v[b] = torch.minimum(v[a], v[b]), torch.maximum(v[a], v[b])
    return v[4]


def isolated_mask(images: Tensor, threshold: float = ISOLATED_THRESHOLD) -> Tensor:
    """(N, H, W) bool: |x - median of its 3x3 neighbourhood (itself included)| > threshold.

    Borders are reflected, so an edge pixel is compared with its real neighbours and not with a
    copy of itself (replicate padding would let a corner pixel vote for itself four times).
    """
    x = gray(images)  # (N, H, W)
    h, w = x.shape[-2:]
    mode = "reflect" if min(h, w) > 1 else "replicate"
    padded = F.pad(x.unsqueeze(1), (1, 1, 1, 1), mode=mode).squeeze(1)  # (N, H+2, W+2)
    shifted = [padded[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]
    return (x - median9(shifted)).abs() > threshold


def foreground(images: Tensor) -> Tensor:
    """(N, H, W) bool: pixels above the binarisation threshold."""
    return gray(images) > BINARY_THRESHOLD


def label_components(mask: Tensor) -> Tensor:
    """8-connected components of a (N, H, W) bool mask: (N, H, W) long ids, 0 on background.

    Ids run 1..K over the whole batch, each component within one image. One scipy.ndimage.label
    call labels every image at once: its 3x3x3 structure connects the 8 neighbours inside an
    image plane and nothing across images. (A pure-torch max-pool propagation needs ~45 passes
    on MNIST, 1.5-3 s for 5,000 images on this CPU, against 0.02 s here.)
    """
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # the middle plane: 8-connectivity within each image
    labels, _ = ndimage.label(mask.detach().cpu().numpy(), structure=structure)
    return torch.from_numpy(labels.astype(np.int64)).to(mask.device)


def _components(images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(labels (N, H, W), sizes (K+1,) with sizes[0] = 0, image (K,) each component lives in)."""
    labels = label_components(foreground(images))  # (N, H, W)
    sizes = torch.bincount(labels.flatten())  # pixels per component; [0] is the background
    sizes[0] = 0
    # The image each component lives in, written by its pixels (all of one component agree).
    image_of = torch.zeros_like(sizes)
    image_of[labels.flatten()] = torch.arange(len(labels), device=labels.device).repeat_interleave(labels[0].numel())
    return labels, sizes, image_of[1:]


def component_counts(images: Tensor) -> tuple[Tensor, Tensor]:
    """(fragments (N,), specks (N,)): 8-connected components per image after binarisation at 0.5,
    and those of them of <= 2 pixels."""
    _, sizes, image = _components(images)
    n = len(images)
    return torch.bincount(image, minlength=n), torch.bincount(image[sizes[1:] <= SPECK_MAX_PIXELS], minlength=n)


def component_stats(images: Tensor) -> dict[str, Tensor]:
    """component_counts plus per-pixel maps for the pictures: speck_mask (N, H, W), pixels of
    specks; minor_mask, pixels of non-speck components other than the largest one (the
    broken-off pieces of a stroke)."""
    labels, sizes, image = _components(images)
    n = len(images)
    pixel_size = sizes[labels]  # (N, H, W) size of the component each pixel is in, 0 on background
    largest = pixel_size.flatten(1).max(1).values.view(n, 1, 1)
    return {
        "fragments": torch.bincount(image, minlength=n),
        "specks": torch.bincount(image[sizes[1:] <= SPECK_MAX_PIXELS], minlength=n),
        "speck_mask": (pixel_size > 0) & (pixel_size <= SPECK_MAX_PIXELS),
        # Ties for the largest component: all count as main strokes, none is flagged as minor.
        "minor_mask": (pixel_size > SPECK_MAX_PIXELS) & (pixel_size < largest),
    }


def artifact_scores(images: Tensor) -> Tensor:
    """(N,) one number per image to rank the worst: pixels flagged isolated or in specks, plus
    one for every extra stroke piece (components of > 2 pixels beyond the first)."""
    comps = component_stats(images)
    flagged = (isolated_mask(images) | comps["speck_mask"]).flatten(1).sum(1)
    extra_pieces = (comps["fragments"] - comps["specks"] - 1).clamp(min=0)
    return (flagged + extra_pieces).float()


def laplacian(images: Tensor) -> Tensor:
    """(N, H-2, W-2): the 4-neighbour discrete Laplacian [[0, 1, 0], [1, -4, 1], [0, 1, 0]] over the
    interior (no padded edges), by slicing: 5x faster on the CPU than a 1-channel conv2d."""
    x = gray(images)
    return x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:] - 4 * x[:, 1:-1, 1:-1]


def _taper(n: int, device: torch.device) -> Tensor:
    """(n,) Hann window over n + 2 points without its two zero ends: tapers to ~0 at the borders
    yet keeps every pixel (a plain Hann window would zero the outermost rows of an 8x8 image)."""
    return torch.sin(math.pi * torch.arange(1, n + 1, device=device, dtype=torch.float64) / (n + 1)).pow(2)


def power_spectrum(images: Tensor) -> tuple[Tensor, Tensor]:
    """(power (N, H, W), radius (H, W)): the windowed periodogram of each image and each
    frequency's radius in cycles per pixel, so sets of different sizes share one axis.

    The DFT treats an image as periodic, so any jump between opposite borders (a blurred digit
    reaching the edge, a grey background) leaks broadband power that no image feature made; it
    made the high-frequency share of blurred digits rise again past sigma 1.5. Removing each
    image's mean and tapering it with a window (Harris 1978) removes that leakage; the power is
    divided by the window's mean square so a white-noise level is unchanged. The DC term is then
    ~0 and carries no information: brightness is not a continuity artifact.
    Computed in float64: heavily blurred images have high-frequency power ~1e-7 of the total.
    """
    x = gray(images).double()
    h, w = x.shape[-2:]
    window = _taper(h, x.device).view(h, 1) * _taper(w, x.device).view(1, w)
    x = (x - x.mean((1, 2), keepdim=True)) * window
    spectrum = torch.fft.fft2(x)
    power = (spectrum.real.square() + spectrum.imag.square()) / ((h * w) ** 2 * window.pow(2).mean())
    fy = torch.fft.fftfreq(h, device=x.device, dtype=torch.float64).view(h, 1)
    fx = torch.fft.fftfreq(w, device=x.device, dtype=torch.float64).view(1, w)
    return power, (fy.pow(2) + fx.pow(2)).sqrt()


def radial_spectrum(images: Tensor) -> tuple[Tensor, Tensor]:
    """Azimuthally averaged log power spectrum of a set (Durall et al. 2020, "Watch your
    up-convolution"): (frequency (R,) in cycles/pixel, log10 power (R,)), DC left out.

    Annulus r holds the frequencies whose radius * min(H, W) rounds to r, r = 1, 2, ...; the
    corners (up to sqrt(2)/2 cycles/pixel) are kept, since a one-pixel checkerboard lives there.
    The set's power is averaged over images before the log, which stays finite for sparse images
    whose single spectra vanish in some annuli.
    """
    power, radius = power_spectrum(images)
    size = min(power.shape[-2:])
    bins = (radius * size).round().long().flatten()  # (H*W,)
    n_bins = int(bins.max()) + 1
    mean_power = power.mean(0).flatten()  # (H*W,)
    total = torch.zeros(n_bins, device=power.device, dtype=power.dtype).index_add_(0, bins, mean_power)
    count = torch.bincount(bins, minlength=n_bins).clamp(min=1)
    freq = torch.arange(n_bins, device=power.device) / size
    return freq[1:].float(), torch.log10(total / count + 1e-20)[1:].float()


def spectrum_distance(a: Tensor, b: Tensor) -> float:
    """RMS difference in decades between two radial log spectra of the same image size."""
    return float((a - b).pow(2).mean().sqrt())


# ---- registered metrics: fn(images) -> dict of named numbers ----

def _isolated(images: Tensor) -> dict[str, float]:
    return {"isolated_rate": float(isolated_mask(images).float().mean())}


def _specks(images: Tensor) -> dict[str, float]:
    return {"specks_per_image": float(component_counts(images)[1].float().mean())}


def _fragments(images: Tensor) -> dict[str, float]:
    frags = component_counts(images)[0]
    return {"fragments_per_image": float(frags.float().mean()),
            "multi_fragment_share": float((frags > 1).float().mean()),
            "blank_share": float((frags == 0).float().mean())}  # no stroke at all: scores 0 fragments, not 1


def _total_variation(images: Tensor) -> dict[str, float]:
    # Anisotropic TV (Rudin, Osher & Fatemi 1992): sum of |horizontal| + |vertical| neighbour
    # differences, divided by the pixel count so image sizes compare.
    x = gray(images)
    tv = (x[:, 1:, :] - x[:, :-1, :]).abs().flatten(1).sum(1) + (x[:, :, 1:] - x[:, :, :-1]).abs().flatten(1).sum(1)
    return {"tv_per_pixel": float((tv / x[0].numel()).mean())}


def _laplacian_variance(images: Tensor) -> dict[str, float]:
    # Blurriness as in the WAE paper (Tolstikhin et al. 2018, sec. 4): the variance of the
    # Laplacian of each image, averaged over the set. Low = blurry; noise also raises it.
    return {"laplacian_var": float(laplacian(images).flatten(1).var(1).mean())}


def _spectrum(images: Tensor) -> dict[str, float]:
    power, radius = power_spectrum(images)
    total = power.sum(0)  # the set's power, so blank images do not divide by zero
    non_dc = total[radius > 0].sum()
    hf = total[radius > HF_CUTOFF].sum()
    return {"hf_share": float(hf / non_dc) if non_dc > 0 else math.nan}  # nan: every image uniform


# Each key's better direction only where one exists: blur lowers tv / laplacian / hf_share and
# pixel noise raises them, so for those the best value is the real one, shown by the ratio.
CONTINUITY_METRICS: dict[str, Metric] = {
    "isolated_pixels": Metric("pixels", _isolated, f"share of pixels differing from their 3x3 median by > {ISOLATED_THRESHOLD}", {"isolated_rate": "lower"}),
    "specks": Metric("pixels", _specks, f"connected components of <= {SPECK_MAX_PIXELS} pixels per image (binarised at {BINARY_THRESHOLD})", {"specks_per_image": "lower"}),
    "fragments": Metric("pixels", _fragments, "8-connected components per image and the share of images with more than one", {"fragments_per_image": "lower", "multi_fragment_share": "lower", "blank_share": "lower"}),
    "total_variation": Metric("pixels", _total_variation, "anisotropic total variation per pixel"),
    "laplacian_variance": Metric("pixels", _laplacian_variance, "variance of the Laplacian per image (blur: low; Tolstikhin et al. 2018)"),
    "spectrum": Metric("pixels", _spectrum, f"share of non-DC power above {HF_CUTOFF} cycles/pixel (Durall et al. 2020)"),
}


def pixel_metrics(images: Tensor) -> dict[str, float]:
    """Every registered pixel-space metric of one set, flattened into one dict of numbers."""
    out: dict[str, float] = {}
    for metric in CONTINUITY_METRICS.values():
        out.update(metric.fn(images))
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or b == 0:
        return None  # JSON null: a ratio to zero says nothing
    return a / b


def _clean(value: float) -> float | None:
    return value if math.isfinite(value) else None


def continuity_report(views: dict[str, Tensor], real: Tensor, floor: Tensor | None = None) -> dict:
    """Every pixel metric of each image set in `views` beside the `real` reference, and their ratio.

    views: label -> (N, C, H, W) images in [0, 1] (model samples); real: held-out real images.
    floor: optionally more real images (e.g. from the train split, at the same count) whose
    spectrum distance to `real` is the sampling-noise floor of that distance, reported as real's.
    Returns {"protocol", "real", "views": {label: {...}}, "ratios": {label: {...}}, "spectrum"}.
    `spectrum` holds the radial log10 power profiles (lists) for plots.
    """
    for label, images in views.items():
        if images.shape[-2:] != real.shape[-2:]:
            raise UserError(f"{label} images are {tuple(images.shape[-2:])} pixels but the real ones are "
                            f"{tuple(real.shape[-2:])}; compare images of one size")
    freq, real_spec = radial_spectrum(real)
    real_numbers = {k: _clean(v) for k, v in pixel_metrics(real).items()}
    real_numbers["spectrum_distance"] = spectrum_distance(radial_spectrum(floor)[1], real_spec) if floor is not None else None
    numbers, ratios, spectra = {}, {}, {"frequency": freq.tolist(), "real": real_spec.tolist()}
    for label, images in views.items():
        _, spec = radial_spectrum(images)
        numbers[label] = {k: _clean(v) for k, v in pixel_metrics(images).items()}
        numbers[label]["spectrum_distance"] = spectrum_distance(spec, real_spec)
        ratios[label] = {k: _ratio(v, real_numbers[k]) for k, v in numbers[label].items()}
        spectra[label] = spec.tolist()
    protocol = {
        "n_real": len(real), "n": {label: len(images) for label, images in views.items()},
        "n_floor": len(floor) if floor is not None else None,
        "isolated_threshold": ISOLATED_THRESHOLD, "binary_threshold": BINARY_THRESHOLD,
        "speck_max_pixels": SPECK_MAX_PIXELS, "connectivity": 8, "hf_cutoff_cycles_per_pixel": HF_CUTOFF,
        "spectrum_distance": "RMS of log10 radial power differences (decades); mean removed, tapered (Hann) before the DFT",
    }
    return {"protocol": protocol, "real": real_numbers, "views": numbers, "ratios": ratios, "spectrum": spectra}


def continuity_table(report: dict, reference: str = "real") -> str:
    """Markdown table of a continuity_report: one row per number, the reference and each view (x ratio)."""
    views = report["views"]
    lines = [f"| pixel metric | {reference} | {' | '.join(views)} |", f"|---|---:|{'---:|' * len(views)}"]
    for key, value in report["real"].items():
        cells = " | ".join(_with_ratio(views[v].get(key), report["ratios"][v].get(key)) for v in views)
        lines.append(f"| {key} | {_fmt(value)} | {cells} |")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _with_ratio(value, ratio) -> str:
    # No ratio when the reference is 0 or missing (see _ratio): say so instead of printing "(xn/a)".
    return f"{_fmt(value)} ({'ratio n/a' if ratio is None else f'x{ratio:.4g}'})"


# ---- pictures: where the artifacts are ----

ARTIFACT_COLOURS = {  # RGB painted over the grey image, later entries win
    "isolated": (1.0, 0.1, 0.1),  # red: a pixel on the other side of mid-grey from its 3x3 median
    "minor": (1.0, 0.6, 0.0),  # orange: a stroke piece broken off the largest component
    "speck": (0.2, 0.5, 1.0),  # blue: a component of <= 2 pixels
}
ARTIFACT_LEGEND = (f"red: isolated pixel (|x - 3x3 median| > {ISOLATED_THRESHOLD}), blue: speck (<= {SPECK_MAX_PIXELS} px), "
                   "orange: broken-off stroke piece")
MAP_SAMPLES = 64
WORST = 16


def artifact_overlay(images: Tensor) -> Tensor:
    """(N, 3, H, W) in [0, 1]: the grey images with flagged pixels painted in ARTIFACT_COLOURS."""
    comps = component_stats(images)
    masks = {"isolated": isolated_mask(images), "minor": comps["minor_mask"], "speck": comps["speck_mask"]}
    rgb = gray(images).clamp(0, 1).unsqueeze(1).repeat(1, 3, 1, 1)  # (N, 3, H, W)
    for name, colour in ARTIFACT_COLOURS.items():
        paint = torch.tensor(colour, device=rgb.device).view(1, 3, 1, 1)
        rgb = torch.where(masks[name].unsqueeze(1), paint, rgb)
    return rgb


def worst_indices(images: Tensor, k: int = WORST) -> Tensor:
    """Indices of the k images with the highest artifact score, worst first (ties: earliest first)."""
    order = torch.sort(artifact_scores(images), descending=True, stable=True).indices
    return order[:k]


def _filename(label: str) -> str:
    return label.replace(":", "-").replace("/", "-").replace(" ", "_")


def save_artifact_maps(label: str, images: Tensor, out: Path) -> list[str]:
    """artifacts_<label>.png (the first 64 images, raw and flagged) and worst16_<label>.png."""
    from compare.report.plots import save_side_by_side  # deferred: matplotlib only when pictures are drawn

    images = images.detach().cpu()
    shown = images[:MAP_SAMPLES]
    names = [f"artifacts_{_filename(label)}.png", f"worst{WORST}_{_filename(label)}.png"]
    save_side_by_side({f"{label}: samples": shown, "flagged": artifact_overlay(shown)}, out / names[0],
                      title=ARTIFACT_LEGEND, panel_inches=5)
    worst = worst_indices(images)
    scores = artifact_scores(images[worst])
    title = (f"{label}: the {len(worst)} of {len(images)} images with the highest artifact score "
             f"({scores.max():.0f} .. {scores.min():.0f} flagged pixels + extra pieces)\n{ARTIFACT_LEGEND}")
    save_side_by_side({f"worst {len(worst)}": images[worst], "flagged": artifact_overlay(images[worst])}, out / names[1],
                      title=title, panel_inches=4)
    return names


def save_spectrum_plot(report: dict, path: Path) -> None:
    """Every view's radial log power spectrum over the real one, distances in the legend."""
    from compare.report.plots import plt, save_figure  # deferred: matplotlib only when pictures are drawn

    spectra = report["spectrum"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(spectra["frequency"], spectra["real"], color="black", linewidth=2.5, label="real (held-out)")
    for label, numbers in report["views"].items():
        ax.plot(spectra["frequency"], spectra[label], marker=".", label=f"{label}  (distance {numbers['spectrum_distance']:.3f})")
    ax.axvline(HF_CUTOFF, color="grey", linestyle="--", linewidth=1, label=f"high-frequency share: power right of {HF_CUTOFF}")
    ax.set_xlabel("spatial frequency (cycles / pixel)")
    ax.set_ylabel("log10 mean power")
    ax.set_title("Azimuthally averaged power spectrum (Durall et al. 2020)", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def continuity_outputs(views: dict[str, Tensor], real: Tensor, out: Path, floor: Tensor | None = None) -> dict:
    """continuity_report plus its pictures in `out`: artifact maps and worst-16 galleries for every
    view and for the real set, and spectrum.png. Returns the report with a "files" list added."""
    report = continuity_report(views, real, floor)
    files = []
    for label, images in {**views, "real": real}.items():
        files += save_artifact_maps(label, images, Path(out))
    save_spectrum_plot(report, Path(out) / "spectrum.png")
    report["files"] = [*files, "spectrum.png"]
    return report
