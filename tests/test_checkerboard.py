"""Checkerboard energy (Odena et al. 2016): the share of each image's power at a stride-2 transposed convolution's
frequencies, with known answers on planted images."""

import math

import pytest
import torch

from compare.data import load_dataset
from compare.metrics import METRICS, keys_of
from compare.metrics.continuity import checkerboard_shares, continuity_report

N = 28
I = torch.arange(N, dtype=torch.float64)
CHECKER = (-1.0) ** (I.view(N, 1) + I.view(1, N))  # +1/-1 alternating in both directions: all power at (N/2, N/2)


def smooth(amplitude: float = 0.2) -> torch.Tensor:
    """0.5 + amplitude * cos(2 pi x / N): all its mean-removed power at (0, +-1), variance amplitude^2 / 2."""
    return 0.5 + amplitude * torch.cos(2 * math.pi * I / N).view(1, N).expand(N, N)


@pytest.mark.parametrize("a", [0.01, 0.05, 0.2])
def test_a_planted_checkerboard_on_a_smooth_image_has_its_exact_share(a):
    # Parseval: the checkerboard's power a^2 per pixel against the cosine's 0.2^2 / 2, with no cross term
    # (different frequencies): share = a^2 / (a^2 + 0.02), exact up to the images' float32 pixels.
    image = (smooth() + a * CHECKER).view(1, 1, N, N)
    assert checkerboard_shares(image).item() == pytest.approx(a * a / (a * a + 0.02), rel=1e-6)


def test_smooth_images_have_no_checkerboard_energy_and_pure_patterns_have_all_of_it():
    y, x = torch.meshgrid(I, I, indexing="ij")
    blob = torch.exp(-((y - 13.5) ** 2 + (x - 13.5) ** 2) / (2 * 3.0 ** 2))
    shares = checkerboard_shares(torch.stack([smooth(), blob]).unsqueeze(1))
    assert shares.max() < 1e-12
    rows = 0.5 + 0.5 * (-1.0) ** I.view(N, 1).expand(N, N)  # stripes of period 2 along y: (N/2, 0)
    columns = rows.T  # (0, N/2)
    assert (checkerboard_shares(torch.stack([rows, columns, 0.5 + 0.5 * CHECKER]).unsqueeze(1)).tolist()
            == pytest.approx([1, 1, 1]))


def test_uniform_images_and_odd_sides_have_no_share():
    flat = torch.full((2, 1, N, N), 0.3)
    assert checkerboard_shares(flat).isnan().all()
    assert checkerboard_shares(torch.rand(2, 1, 27, 28)).isnan().all()  # N/2 is not a DFT frequency of 27 rows
    mixed = torch.cat([flat[:1], (smooth() + 0.05 * CHECKER).view(1, 1, N, N).float()])
    # the uniform one left out
    assert METRICS["checkerboard"].fn(mixed)["checkerboard_share"] == pytest.approx(0.0025 / 0.0225, rel=1e-5)


def test_registered_among_the_pixel_measures_and_reported_beside_real():
    assert keys_of("bad pixels")["checkerboard_share"].better == "lower"
    real = load_dataset("digits").heldout
    plain = real.clone()
    planted = (real + 0.1 * CHECKER[:8, :8].float()).clamp(0, 1)
    report = continuity_report({"plain": plain, "planted": planted}, real)
    # Real digits are smooth at the pixel scale (~0.8% of their power at those frequencies); the planted
    # pattern dominates.
    assert report["real"]["checkerboard_share"] < 0.02
    assert report["views"]["plain"]["checkerboard_share"] == report["real"]["checkerboard_share"]
    assert report["ratios"]["planted"]["checkerboard_share"] > 3
