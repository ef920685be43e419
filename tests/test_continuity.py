"""Pixel continuity metrics: known answers on hand-made images and planted artifacts of known size on real digits."""

import itertools
import json
import math

import pytest
import torch
from torchvision.transforms.functional import gaussian_blur

from compare.metrics import continuity as c
from compare.data import load_dataset
from compare.metrics import METRICS


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k")


def plant_salt_and_pepper(images: torch.Tensor, per_image: int, seed: int = 0) -> torch.Tensor:
    """Exactly `per_image` pixels of every image set to the opposite extreme (dark -> 1, bright -> 0),
    so every planted pixel is a real change and the planted rate is per_image / (H * W)."""
    flat = images.flatten(1).clone()
    pos = torch.rand(flat.shape, generator=torch.Generator().manual_seed(seed)).argsort(1)[:, :per_image]
    flat.scatter_(1, pos, (flat.gather(1, pos) <= 0.5).float())
    return flat.view_as(images)


def checkerboard(size: int, period: int) -> torch.Tensor:
    """(1, 1, size, size) checkerboard of squares of period/2 pixels."""
    r = torch.arange(size) // (period // 2)
    return ((r.view(-1, 1) + r.view(1, -1)) % 2).float().view(1, 1, size, size)


# ---- building blocks ----

def test_median9_is_the_exact_median():
    # 0-1 principle: a comparator network that selects the median of every 0/1 input does so for all inputs.
    bits = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).T  # (9, 512)
    assert torch.equal(c.median9(list(bits)), bits.median(0).values)
    values = torch.rand(9, 5000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(c.median9(list(values)), values.median(0).values)


def test_components_known_answer_and_no_merging_across_images():
    a = torch.zeros(8, 8)
    a[0, 0] = 1  # speck of 1
    a[0, 4:6] = 1  # speck of 2
    a[3:8, 1] = 1  # vertical stroke of 5 touching the bottom edge
    for i in range(4):
        a[4 + i % 4, 4 + i] = 1  # diagonal: one 8-connected piece of 4
    b = torch.zeros(8, 8)
    b[0:3, 1] = 1  # stroke of 3 touching the top edge, right under image a's bottom stroke
    images = torch.stack([a, b, torch.zeros(8, 8)]).unsqueeze(1)
    stats = c.component_stats(images)
    assert stats["fragments"].tolist() == [4, 1, 0]
    assert stats["specks"].tolist() == [2, 0, 0]
    assert int(stats["speck_mask"][0].sum()) == 3
    assert int(stats["minor_mask"][0].sum()) == 4  # the diagonal, smaller than the 5-pixel stroke
    assert int(stats["minor_mask"][1].sum()) == 0
    assert c.CONTINUITY_METRICS["fragments"].fn(images) == pytest.approx(
        {"fragments_per_image": 5 / 3, "multi_fragment_share": 1 / 3, "blank_share": 1 / 3})


def test_isolated_pixel_and_border_handling():
    x = torch.zeros(2, 1, 6, 6)
    x[0, 0, 2, 3] = 1.0  # salt inside
    x[0, 0, 0, 0] = 1.0  # salt in a corner: reflect padding must not let it vote for itself
    x[1] = 1.0
    x[1, 0, 5, 2] = 0.0  # pepper on the border of a white image
    mask = c.isolated_mask(x)
    assert mask.nonzero().tolist() == [[0, 0, 0], [0, 2, 3], [1, 5, 2]]
    x[0, 0, 2, 3] = 0.45  # within the threshold of its median 0
    assert not c.isolated_mask(x)[0, 2, 3]


def test_pixel_metrics_are_registered_pure_functions(mnist):
    names = {"isolated_pixels", "specks", "fragments", "total_variation", "laplacian_variance", "spectrum"}
    assert names <= {k for k, m in METRICS.items() if m.space == "pixels"}
    images = mnist.heldout[:50]
    before = images.clone()
    for name in names:
        first, second = METRICS[name].fn(images), METRICS[name].fn(images)
        assert first == second and all(isinstance(v, float) for v in first.values())
        assert set(METRICS[name].better) <= set(first)
    assert torch.equal(images, before)


def test_rgb_scores_as_its_luma():
    g = torch.rand(20, 1, 12, 12, generator=torch.Generator().manual_seed(1)).round()
    assert c.pixel_metrics(g.repeat(1, 3, 1, 1)) == pytest.approx(c.pixel_metrics(g), rel=1e-5)


# ---- planted artifacts on real digits ----

@pytest.mark.parametrize("per_image", [4, 8, 20, 40])  # rates 0.5%, 1%, 2.6%, 5.1% of 784 pixels
def test_salt_and_pepper_rate_is_recovered_within_10_percent(mnist, per_image):
    clean = mnist.heldout
    planted = per_image / clean[0].numel()
    noisy = plant_salt_and_pepper(clean, per_image)
    found = c.CONTINUITY_METRICS["isolated_pixels"].fn(noisy)["isolated_rate"] - c.CONTINUITY_METRICS["isolated_pixels"].fn(clean)["isolated_rate"]
    assert found == pytest.approx(planted, rel=0.10)


def test_clean_real_digits_score_as_the_reference(mnist):
    real = mnist.heldout
    same = c.continuity_report({"same": real}, real)
    assert same["views"]["same"]["spectrum_distance"] == 0
    assert all(r == 1 for r in same["ratios"]["same"].values() if r is not None)
    # Another 500 real digits (the train split) match the held-out ones within sampling noise.
    other = c.continuity_report({"train": mnist.train[:len(real)]}, real, floor=mnist.train[-len(real):])
    ratios, numbers = other["ratios"]["train"], other["views"]["train"]
    for key in ("isolated_rate", "fragments_per_image", "tv_per_pixel", "laplacian_var", "hf_share"):
        assert ratios[key] == pytest.approx(1, abs=0.1), key
    assert abs(numbers["specks_per_image"] - other["real"]["specks_per_image"]) < 0.05  # rare: ~0.01 an image
    assert numbers["spectrum_distance"] < 0.05 and other["real"]["spectrum_distance"] < 0.05


@pytest.mark.parametrize("bands", [1, 2])
def test_erasing_bands_raises_fragments_by_the_planted_amount(mnist, bands):
    # Single-piece "1"s cut across by `bands` erased 2-row bands, evenly spaced over the digit's
    # height, fall into exactly bands + 1 pieces.
    ones = mnist.heldout[mnist.heldout_labels == 1]
    ones = ones[c.component_stats(ones)["fragments"] == 1]
    assert len(ones) > 30
    rows = c.foreground(ones).any(2)  # (N, H): rows with ink
    top = rows.float().argmax(1)
    bottom = rows.shape[1] - 1 - rows.flip(1).float().argmax(1)
    r = torch.arange(rows.shape[1]).view(1, -1)
    erase = torch.zeros_like(rows)
    for j in range(1, bands + 1):
        centre = (top + (bottom - top) * j / (bands + 1)).round().long().view(-1, 1)
        erase |= (r == centre) | (r == centre + 1)
    cut = ones.clone()
    cut[:, 0][erase] = 0.0  # whole rows of the digit
    before = c.CONTINUITY_METRICS["fragments"].fn(ones)
    after = c.CONTINUITY_METRICS["fragments"].fn(cut)
    assert before["fragments_per_image"] == 1 and before["multi_fragment_share"] == 0
    assert after["fragments_per_image"] == pytest.approx(1 + bands)
    assert after["multi_fragment_share"] == 1
    assert int(c.component_stats(cut)["specks"].sum()) == 0


def test_blur_lowers_sharpness_and_high_frequencies_monotonically(mnist):
    images = mnist.heldout[:200]
    sigmas = (0.5, 1.0, 1.5, 2.0, 3.0)
    series = [images] + [gaussian_blur(images, kernel_size=2 * math.ceil(3 * s) + 1, sigma=s) for s in sigmas]
    lap = [c.CONTINUITY_METRICS["laplacian_variance"].fn(x)["laplacian_var"] for x in series]
    hf = [c.CONTINUITY_METRICS["spectrum"].fn(x)["hf_share"] for x in series]
    assert all(a > b for a, b in zip(lap, lap[1:])), lap
    assert all(a > b for a, b in zip(hf, hf[1:])), hf
    assert lap[-1] < 0.1 * lap[0] and hf[-1] < 0.1 * hf[0]


@pytest.mark.parametrize("period", [2, 4, 14])
def test_checkerboard_peaks_at_its_frequency(period):
    size = 28
    freq, spec = c.radial_spectrum(checkerboard(size, period))
    peak = int(spec.argmax()) + 1  # the profile starts at annulus 1 (DC is left out)
    # A checkerboard of period p is a wave along both axes at 1/p: radius sqrt(2)/p cycles/pixel.
    assert peak == round(math.sqrt(2) * size / period)
    assert float(freq[peak - 1]) == pytest.approx(math.sqrt(2) / period, abs=0.5 / size)


def test_checkerboard_artifact_on_digits_shows_in_the_spectrum(mnist):
    # The up-convolution artifact of Durall et al. 2020: a faint one-pixel checkerboard on top of
    # real digits; the spectrum rises most at its frequency and the distance grows with its strength.
    real = mnist.heldout
    _, clean = c.radial_spectrum(real)
    distances = []
    for amplitude in (0.02, 0.05, 0.1):
        marked = (real + amplitude * checkerboard(28, 2)).clamp(0, 1)
        _, spec = c.radial_spectrum(marked)
        assert int((spec - clean).argmax()) + 1 == 20  # annulus round(sqrt(2) * 28 / 2)
        distances.append(c.spectrum_distance(spec, clean))
    assert distances == sorted(distances) and distances[0] > 0


# ---- pictures and the run ----

def test_worst_images_are_the_planted_ones_and_maps_are_written(tmp_path):
    clean = load_dataset("digits").heldout[:40]
    clean = clean[c.artifact_scores(clean).argsort()[:20]]  # the 20 cleanest real digits
    noisy = clean.clone()
    noisy[[3, 7]] = plant_salt_and_pepper(clean[[3, 7]], 12)
    assert sorted(c.worst_indices(noisy, k=2).tolist()) == [3, 7]
    overlay = c.artifact_overlay(noisy)
    assert overlay.shape == (len(noisy), 3, 8, 8)
    red = torch.tensor(c.ARTIFACT_COLOURS["isolated"]).view(1, 3, 1, 1)
    painted = (overlay == red).all(1)  # (N, H, W) pixels painted red
    assert torch.equal(painted, c.isolated_mask(noisy) & ~c.component_stats(noisy)["speck_mask"] & ~c.component_stats(noisy)["minor_mask"])
    report = c.continuity_outputs({"noisy": noisy}, clean, tmp_path)
    for name in report["files"]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(report["files"]) == {"artifacts_noisy.png", "worst16_noisy.png", "artifacts_real.png", "worst16_real.png", "spectrum.png"}
    json.dumps(report, allow_nan=False)  # metrics.json-ready: no NaN, no tensors


@pytest.mark.slow
def test_run_writes_the_continuity_section_and_pictures(tmp_path):
    from compare.train.budget import Budget
    from compare.models import parse_model_specs
    from compare.pipeline import run
    from compare.settings import RunSettings

    out = tmp_path / "run"
    run(RunSettings(models=tuple(parse_model_specs(["gan", "vae"])), budget=Budget.parse("30steps"), dataset="digits",
                    device="cpu", out=out), show_progress=False)
    cont = json.loads((out / "metrics.json").read_text())["continuity"]
    assert set(cont["views"]) == {"gan", "vae-mean", "vae-pixels"}
    assert cont["protocol"]["n_real"] == 180 and cont["protocol"]["n"]["vae-pixels"] == 180
    assert cont["real"]["spectrum_distance"] is not None  # the train-vs-held-out floor
    for view in ("gan", "vae-mean", "vae-pixels", "real"):
        assert (out / f"artifacts_{view}.png").exists() and (out / f"worst16_{view}.png").exists()
    assert (out / "spectrum.png").exists()
    # Independent Bernoulli draws of every pixel make more isolated pixels than their own means.
    assert cont["views"]["vae-pixels"]["isolated_rate"] > cont["views"]["vae-mean"]["isolated_rate"]


def test_sets_of_another_image_size_are_refused():
    from compare.errors import UserError

    with pytest.raises(UserError, match="one size"):
        c.continuity_report({"small": torch.zeros(4, 1, 8, 8)}, torch.zeros(4, 1, 28, 28))
