"""Pixel continuity artifacts: bad pixels (lone pixels, specks, fragments), checkerboard energy, blur and
spectral excess.

The source claims a VAE, which draws every pixel independently given z, shows "discontinuous bad
pixels" that a GAN avoids. These metrics measure that on raw pixels in [0, 1], each one a pure,
vectorised function of an image batch (N, C, H, W) registered in compare.metrics.METRICS with
space "pixels", and `continuity_report` reports each beside the held-out real images' value.

Colour images are reduced to luma (ITU-R BT.601 weights) first: every metric here is about the
spatial structure of intensity, and one channel keeps thresholds meaningful for any C.

Bad pixels are counted as a person sees them on the images binarised at BINARY_THRESHOLD
(definitions in compare.metrics.bad_pixels): clean real digits score ~0, each rate comes with a bootstrap
95% interval, and the counts are repeated at SENSITIVITY_THRESHOLDS. Blur (total variation,
Laplacian variance, high-frequency share) is a separate measure, never counted as bad pixels: it
has no good value of its own, so what a reader should look at is the ratio model/real.
Checkerboard energy (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts") is the share of each image's
power at the frequencies a stride-2 transposed convolution's uneven overlap imprints: the conv nets of both
families upsample that way, so it is an artifact of theirs, on grey levels, not binarised.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from compare.stats import RESAMPLES, SEED
from compare.metrics.bad_pixels import (CI_SUFFIX, SPECK_MAX_PIXELS, lone_counts, per_image_counts, piece_counts,
                                        rates_with_intervals)
from compare.errors import UserError
from compare.metrics.registry import Key, Metric

BINARY_THRESHOLD = 0.5  # ink = pixel > 0.5: the side of mid-grey a reader sees it on
SENSITIVITY_THRESHOLDS = (0.3, 0.7)  # the bad-pixel counts again at these, to show how much the threshold matters
# High-frequency share: power above half the Nyquist frequency (0.25 cycles/pixel) over all
# non-DC power. Blur removes it; independent per-pixel noise spreads power evenly, so it raises it.
HF_CUTOFF = 0.25
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601
CHECKERBOARD_STRIDE = 2  # every transposed convolution of gan.conv and vae.conv has stride 2


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

def ink(images: Tensor, threshold: float = BINARY_THRESHOLD) -> Tensor:
    """(N, H, W) bool: the binarised images, True where a pixel is brighter than `threshold`."""
    return gray(images) > threshold


def bad_pixel_counts(images: Tensor, threshold: float = BINARY_THRESHOLD) -> dict[str, Tensor]:
    """Every bad-pixel count of each image (compare.metrics.bad_pixels), (N,) by key, binarised at `threshold`."""
    return per_image_counts(ink(images, threshold))


def artifact_scores(images: Tensor) -> Tensor:
    """(N,) the number worst16 ranks by: lone pixels + specks of each image."""
    counts = bad_pixel_counts(images)
    return counts["lone_pixels_per_image"] + counts["specks_per_image"]


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

def _rates(counter, *keys: str):
    """A registered metric fn: the mean over images of these of counter's bad-pixel counts, at BINARY_THRESHOLD."""
    def fn(images: Tensor) -> dict[str, float]:
        counts = counter(ink(images))
        return {key: float(counts[key].double().mean()) for key in keys}
    return fn


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


def checkerboard_shares(images: Tensor, stride: int = CHECKERBOARD_STRIDE) -> Tensor:
    """(N,) each image's share of its mean-removed power at the stride's frequencies: (fy, fx) multiples of
    (H/stride, W/stride) but not (0, 0); for stride 2, (H/2, 0), (0, W/2) and (H/2, W/2), where a +/- checkerboard of
    period 2 puts all its power. No window here (unlike power_spectrum): a taper would spread that single frequency
    over its neighbours; by Parseval the share is then exact, e.g. a^2 / (a^2 + v) for a checkerboard of amplitude a
    on an image of variance v with no power at those frequencies. NaN for a uniform image (no power to share) and for
    sides the stride does not divide (those frequencies are not on the DFT's grid)."""
    x = gray(images).double()
    h, w = x.shape[-2:]
    if h % stride or w % stride:
        return torch.full((len(x),), math.nan, dtype=torch.float64)
    spectrum = torch.fft.fft2(x - x.mean((1, 2), keepdim=True))
    power = spectrum.real.square() + spectrum.imag.square()  # (N, H, W); the DC term is 0
    at = power[:, :: h // stride, :: w // stride].flatten(1).sum(1)  # the stride's grid, DC included at 0
    total = power.flatten(1).sum(1)
    return torch.where(total > 0, at / total.clamp(min=1e-300), math.nan)


def _checkerboard(images: Tensor) -> dict[str, float]:
    shares = checkerboard_shares(images)
    shares = shares[~shares.isnan()]  # uniform images have no pattern at all to share out
    return {"checkerboard_share": float(shares.mean()) if len(shares) else math.nan}


def _spectrum(images: Tensor) -> dict[str, float]:
    power, radius = power_spectrum(images)
    total = power.sum(0)  # the set's power, so blank images do not divide by zero
    non_dc = total[radius > 0].sum()
    hf = total[radius > HF_CUTOFF].sum()
    return {"hf_share": float(hf / non_dc) if non_dc > 0 else math.nan}  # nan: every image uniform


# registered name -> its keys: each a per-image count (compare.metrics.bad_pixels) averaged over images
BAD_PIXEL_KEYS = {
    "lone_pixels": ("lone_pixels_per_image", "lone_ink_per_image", "lone_holes_per_image"),
    "specks": ("specks_per_image",),
    "fragments": ("fragments_per_image", "fragmented_share", "blank_share"),
}
HEADLINE = ("lone_pixels_per_image", "specks_per_image", "fragments_per_image")  # the report compares their intervals


LABELS = {"lone_pixels_per_image": "lone pixels", "lone_ink_per_image": "lone ink pixels",
          "lone_holes_per_image": "lone holes", "specks_per_image": "specks", "fragments_per_image": "fragments",
          "fragmented_share": "images with a fragment", "blank_share": "blank images"}


def _counts(name: str) -> dict[str, Key]:
    """A bad-pixel metric's keys: lower is better; a share of images, else a count per image."""
    return {k: Key("lower", "share of images" if k.endswith("_share") else "per image", headline=k in HEADLINE,
                   label=LABELS[k], bounds=(0.0, 1.0) if k.endswith("_share") else (0.0, None))
            for k in BAD_PIXEL_KEYS[name]}


# Blur keys have no better direction: blur lowers tv / laplacian / hf_share and pixel noise raises
# them, so for those the best value is the real one, shown by the ratio.
CONTINUITY_METRICS: dict[str, Metric] = {
    "lone_pixels": Metric("pixels", _rates(lone_counts, *BAD_PIXEL_KEYS["lone_pixels"]),
                          f"pixels whose 8 neighbours all take the other value after binarising at {BINARY_THRESHOLD} "
                          "(lone ink on background, lone holes in ink), per image", _counts("lone_pixels"),
                          "bad pixels"),
    "specks": Metric("pixels", _rates(piece_counts, *BAD_PIXEL_KEYS["specks"]),
                     f"8-connected ink components of 1-{SPECK_MAX_PIXELS} pixels per image (binarised at "
                     f"{BINARY_THRESHOLD})", _counts("specks"), "bad pixels"),
    "fragments": Metric("pixels", _rates(piece_counts, *BAD_PIXEL_KEYS["fragments"]),
                        f"ink components of > {SPECK_MAX_PIXELS} pixels besides the largest, per image; the share of "
                        "images with one; the share with no ink", _counts("fragments"), "bad pixels"),
    "checkerboard": Metric("pixels", _checkerboard,
                           "mean share of each image's mean-removed power at the "
                           f"stride-{CHECKERBOARD_STRIDE} frequencies of transposed convolutions: (H/2, 0), (0, W/2), "
                           "(H/2, W/2) (Odena et al. 2016)",
                           {"checkerboard_share": Key("lower", "share of power", bounds=(0.0, 1.0),
                                                      label="checkerboard power")}, "bad pixels"),
    "total_variation": Metric("pixels", _total_variation, "anisotropic total variation per pixel",
                              {"tv_per_pixel": Key(unit="per pixel", label="total variation")}, "blur"),
    "laplacian_variance": Metric("pixels", _laplacian_variance,
                                 "variance of the Laplacian per image (blur: low; Tolstikhin et al. 2018)",
                                 {"laplacian_var": Key(label="Laplacian variance")}, "blur"),
    # spectrum_distance is computed beside fn, against the real set's spectrum (continuity_report)
    "spectrum": Metric("pixels", _spectrum,
                       f"share of non-DC power above {HF_CUTOFF} cycles/pixel (Durall et al. 2020)",
                       {"hf_share": Key(unit="share of power", label="high-frequency power"),
                        "spectrum_distance": Key(unit="decades", label="spectrum distance to real")}, "blur"),
}
SENSITIVE_KEYS = HEADLINE  # the bad-pixel rates repeated at SENSITIVITY_THRESHOLDS


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


def _set_numbers(images: Tensor) -> dict:
    """Every registered pixel metric of one set, JSON-clean, each bad-pixel rate with its 95% interval beside it.
    The bad-pixel counts are made once here, not once per registered metric."""
    rates = rates_with_intervals(bad_pixel_counts(images))
    out = {}
    for name, metric in CONTINUITY_METRICS.items():
        for key, value in ({k: rates[k] for k in BAD_PIXEL_KEYS[name]} if name in BAD_PIXEL_KEYS
                           else metric.fn(images)).items():
            out[key] = _clean(value)
            if key + CI_SUFFIX in rates:
                out[key + CI_SUFFIX] = [_clean(bound) for bound in rates[key + CI_SUFFIX]]
    return out


def _sensitivity(images: Tensor) -> dict:
    """{"0.3": {key: rate}, "0.7": {...}}: the main bad-pixel rates at the other binarisation thresholds."""
    return {f"{t:g}": {k: float(v.double().mean()) for k, v in bad_pixel_counts(images, t).items()
                       if k in SENSITIVE_KEYS}
            for t in SENSITIVITY_THRESHOLDS}


def continuity_report(views: dict[str, Tensor], real: Tensor, floor: Tensor | None = None) -> dict:
    """Every pixel metric of each image set in `views` beside the `real` reference, and their ratio.

    views: label -> (N, C, H, W) images in [0, 1] (model samples); real: held-out real images.
    floor: optionally more real images (e.g. from the train split, at the same count) whose
    spectrum distance to `real` is the sampling-noise floor of that distance, reported as real's.
    Returns {"protocol", "real": {key: value, rate + "_ci95": [low, high], ...}, "views": {label: {same}},
    "ratios": {label: {key: view / real}}, "sensitivity": {"real": {"0.3": {key: rate}, "0.7": ..},
    "views": {label: {same}}}, "spectrum"}; `spectrum` holds the radial log10 power profiles for plots.
    """
    for label, images in views.items():
        if images.shape[-2:] != real.shape[-2:]:
            raise UserError(f"{label} images are {tuple(images.shape[-2:])} pixels but the real ones are "
                            f"{tuple(real.shape[-2:])}; compare images of one size")
    freq, real_spec = radial_spectrum(real)
    real_numbers = _set_numbers(real)
    real_numbers["spectrum_distance"] = (spectrum_distance(radial_spectrum(floor)[1], real_spec)
                                         if floor is not None else None)
    numbers, ratios, spectra = {}, {}, {"frequency": freq.tolist(), "real": real_spec.tolist()}
    for label, images in views.items():
        _, spec = radial_spectrum(images)
        numbers[label] = _set_numbers(images)
        numbers[label]["spectrum_distance"] = spectrum_distance(spec, real_spec)
        ratios[label] = {k: _ratio(v, real_numbers[k]) for k, v in numbers[label].items() if not k.endswith(CI_SUFFIX)}
        spectra[label] = spec.tolist()
    protocol = {
        "n_real": len(real), "n": {label: len(images) for label, images in views.items()},
        "n_floor": len(floor) if floor is not None else None, "binary_threshold": BINARY_THRESHOLD,
        "sensitivity_thresholds": list(SENSITIVITY_THRESHOLDS),
        "lone_pixel": "all 8 neighbours the other binary value; outside the image counts as background",
        "speck_max_pixels": SPECK_MAX_PIXELS, "connectivity": 8, "hf_cutoff_cycles_per_pixel": HF_CUTOFF,
        "intervals": f"{CI_SUFFIX[1:]}: 95% percentile bootstrap of the mean over images, {RESAMPLES} "
                     f"resamples, seed {SEED}",
        "spectrum_distance": "RMS of log10 radial power differences (decades); mean removed, "
                             "tapered (Hann) before the DFT",
    }
    sensitivity = {"real": _sensitivity(real),
                   "views": {label: _sensitivity(images) for label, images in views.items()}}
    return {"protocol": protocol, "real": real_numbers, "views": numbers, "ratios": ratios, "sensitivity": sensitivity,
            "spectrum": spectra}
