"""Pixel continuity metrics: known answers on hand-made images and planted artifacts of known size on real digits."""

import json
import math

import pytest
import torch
from torchvision.transforms.functional import gaussian_blur

from compare.metrics import bad_pixels as bp
from compare.metrics import continuity as c
from compare.report.figures import artifacts
from compare.data import load_dataset
from compare.metrics import METRICS
from helpers import FAST_FIELDS


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k")


def checkerboard(size: int, period: int) -> torch.Tensor:
    """(1, 1, size, size) checkerboard of squares of period/2 pixels."""
    r = torch.arange(size) // (period // 2)
    return ((r.view(-1, 1) + r.view(1, -1)) % 2).float().view(1, 1, size, size)


def canvas(h: int = 16, w: int = 16) -> torch.Tensor:
    return torch.zeros(1, 1, h, w)


def counts(*images: torch.Tensor) -> dict[str, list[int]]:
    """Every bad-pixel count of each image, as exact integers."""
    found = c.bad_pixel_counts(torch.cat(images))
    return {key: [int(v) for v in values] for key, values in found.items()}


def clean_one() -> torch.Tensor:
    """A clean 2-px wide "1" on 16x16: a flag up-left, a stem and a foot (one piece of 36 pixels)."""
    x = canvas()
    x[0, 0, 2:14, 7:9] = 1  # stem, 2 px wide
    x[0, 0, 3, 5:7] = x[0, 0, 4, 4:6] = 1  # flag, stepping down-left
    x[0, 0, 13, 5:11] = 1  # foot
    return x


def thin_strokes() -> list[torch.Tensor]:
    """1-px lines (horizontal, vertical, diagonal, touching the border), an L corner and the clean "1"."""
    horizontal, vertical, diagonal, corner = canvas(), canvas(), canvas(), canvas()
    horizontal[0, 0, 5, 2:14] = 1
    vertical[0, 0, 0:16, 0] = 1  # along the left border, end to end
    diagonal[0, 0, torch.arange(3, 13), torch.arange(3, 13)] = 1
    corner[0, 0, 2:12, 4] = corner[0, 0, 11, 4:12] = 1
    return [horizontal, vertical, diagonal, corner, clean_one()]


# ---- the bad-pixel definitions, known answers on hand-built images ----

def test_clean_thin_strokes_ends_and_corners_count_zero():
    found = counts(*thin_strokes())
    for key in ("lone_pixels_per_image", "specks_per_image", "fragments_per_image"):
        assert found[key] == [0, 0, 0, 0, 0], key


def test_planted_salt_is_counted_one_for_one_as_lone_ink_and_specks_not_fragments():
    salted = clean_one()
    for y, x in [(0, 0), (0, 15), (8, 2), (8, 13), (15, 15)]:  # two corners and the border: outside is background
        salted[0, 0, y, x] = 1
    found = counts(clean_one(), salted)
    assert found["lone_ink_per_image"] == [0, 5] and found["lone_holes_per_image"] == [0, 0]
    assert found["lone_pixels_per_image"] == [0, 5]
    assert found["specks_per_image"] == [0, 5] and found["fragments_per_image"] == [0, 0]


def test_planted_holes_in_a_thick_stroke_are_counted_one_for_one():
    bar = canvas()
    bar[0, 0, 2:14, 5:10] = 1  # a stroke 5 px thick
    holed = bar.clone()
    for y in (4, 7, 10):
        holed[0, 0, y, 7] = 0  # interior pixels, 3 rows apart so no hole neighbours another
    found = counts(bar, holed)
    assert found["lone_holes_per_image"] == [0, 3] and found["lone_ink_per_image"] == [0, 0]
    assert found["specks_per_image"] == [0, 0] and found["fragments_per_image"] == [0, 0]


def test_border_handling_outside_counts_as_background():
    corner_salt = canvas()
    corner_salt[0, 0, 0, 0] = 1  # lone: its 3 inside neighbours are background, the 5 outside count as background
    full = torch.ones(1, 1, 16, 16)  # all ink: no pixel is lone
    edge_gap, interior_hole = full.clone(), full.clone()
    edge_gap[0, 0, 0, 7] = 0  # on the border: its outside neighbours are background, so not a lone hole
    interior_hole[0, 0, 1, 1] = 0  # one pixel in from the corner: all 8 neighbours are ink
    found = counts(corner_salt, full, edge_gap, interior_hole)
    assert found["lone_ink_per_image"] == [1, 0, 0, 0]
    assert found["lone_holes_per_image"] == [0, 0, 0, 1]


def test_speck_and_fragment_sizes():
    two, three, four = clean_one(), clean_one(), clean_one()
    two[0, 0, 1, 12:14] = 1  # a 2-px speck: neither pixel is lone (each has the other as a neighbour)
    three[0, 0, 1, 12:14] = three[0, 0, 2, 13] = 1  # an L of 3 px: still a speck
    four[0, 0, 1, 12:14] = four[0, 0, 2, 12:14] = 1  # a 2x2 block: a fragment
    found = counts(clean_one(), two, three, four)
    assert found["specks_per_image"] == [0, 1, 1, 0]
    assert found["fragments_per_image"] == [0, 0, 0, 1]
    assert found["lone_pixels_per_image"] == [0, 0, 0, 0]


def test_a_cut_stroke_gives_exactly_one_fragment():
    stroke = canvas()
    stroke[0, 0, 1:15, 7:9] = 1  # 2 px wide, 14 rows
    cut = stroke.clone()
    cut[0, 0, 8:10] = 0  # two rows erased: pieces of 12 and 10 pixels
    found = counts(stroke, cut)
    assert found["fragments_per_image"] == [0, 1] and found["fragmented_share"] == [0, 1]
    assert found["specks_per_image"] == [0, 0] and found["lone_pixels_per_image"] == [0, 0]


def test_blank_images_specks_only_and_equal_pieces():
    specks_only, twins = canvas(), canvas()
    specks_only[0, 0, 2, 2] = specks_only[0, 0, 9, 9:11] = 1  # no piece of 4+: no main stroke, no fragment
    twins[0, 0, 1:7, 3] = twins[0, 0, 9:15, 3] = 1  # two 6-px strokes: one is the main one, the other a fragment
    found = counts(canvas(), specks_only, twins)
    assert found["fragments_per_image"] == [0, 0, 1] and found["specks_per_image"] == [0, 2, 0]
    assert found["blank_share"] == [1, 0, 0]


def test_checkerboard_patch_by_hand():
    # A 4x4 one-pixel checkerboard, ink where (row + col) is even: 8 ink pixels. Each touches another
    # diagonally, so they are one 8-connected piece of 8 pixels: no lone ink, no speck. Each
    # background pixel in it has ink left/right/up/down but background on its diagonals: no lone
    # hole. Beside a 10-px stroke that piece is a fragment; alone it is the main stroke. (A
    # checkerboard is texture, not stray pixels: the spectrum sees it, test_checkerboard_* below.)
    patch = ((torch.arange(4).view(-1, 1) + torch.arange(4).view(1, -1)) % 2 == 0).float()
    alone, beside = canvas(), canvas()
    alone[0, 0, 2:6, 2:6] = beside[0, 0, 2:6, 2:6] = patch
    beside[0, 0, 1:11, 12] = 1
    found = counts(alone, beside)
    assert found["lone_pixels_per_image"] == [0, 0] and found["specks_per_image"] == [0, 0]
    assert found["fragments_per_image"] == [0, 1]


def test_gaussian_blur_of_clean_digits_adds_no_lone_pixels():
    strokes = torch.cat([thin_strokes()[3], clean_one()])  # the L corner and the "1"
    blurred = gaussian_blur(strokes, kernel_size=5, sigma=0.7)
    assert counts(blurred)["lone_pixels_per_image"] == [0, 0]
    assert (c.CONTINUITY_METRICS["laplacian_variance"].fn(blurred)["laplacian_var"]
            < c.CONTINUITY_METRICS["laplacian_variance"].fn(strokes)["laplacian_var"])


def test_binarisation_threshold_and_sensitivity_rows():
    faint, grey = canvas(), canvas()
    faint[0, 0, 4, 4] = 0.4  # ink only when binarised at 0.3
    grey[0, 0, 4, 4] = 0.6  # ink at 0.3 and 0.5, not at 0.7
    report = c.continuity_report({"B": torch.cat([faint, grey])}, torch.cat([canvas(), canvas()]))
    sens = report["sensitivity"]["views"]["B"]
    assert report["views"]["B"]["lone_pixels_per_image"] == 0.5
    assert sens["0.3"]["lone_pixels_per_image"] == 1.0 and sens["0.7"]["lone_pixels_per_image"] == 0.0
    assert sens["0.3"]["specks_per_image"] == 1.0 and set(sens) == {"0.3", "0.7"}
    assert report["sensitivity"]["real"]["0.3"] == {k: 0.0 for k in c.SENSITIVE_KEYS}


def test_rates_carry_a_reproducible_bootstrap_interval():
    constant = bp.rates_with_intervals({"x": torch.full((50,), 3.0)})
    assert constant == {"x": 3.0, "x_ci95": [3.0, 3.0]}
    coin = torch.rand(2000, generator=torch.Generator().manual_seed(0)).round()  # Bernoulli(1/2) per image
    rare = torch.zeros(2000)
    rare[:3] = 1
    rates = bp.rates_with_intervals({"coin": coin, "rare": rare})
    low, high = rates["coin_ci95"]
    assert (low < rates["coin"] < high
            and bp.rates_with_intervals({"coin": coin}) == {k: rates[k] for k in ("coin", "coin_ci95")})
    # The normal-theory half-width 1.96 * 0.5 / sqrt(2000) = 0.0219; 200 resamples estimate it within ~10%.
    assert (high - low) / 2 == pytest.approx(1.96 * 0.5 / math.sqrt(2000), rel=0.2)
    assert rates["rare_ci95"][0] >= 0  # a percentile interval of counts never goes below zero (mean - 1.96 SE would)


# ---- registry, real digits ----

def test_pixel_metrics_are_registered_pure_functions(mnist):
    names = {"lone_pixels", "specks", "fragments", "total_variation", "laplacian_variance", "spectrum"}
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

@pytest.mark.parametrize("name", ["mnist5k", "digits"])
def test_clean_real_digits_have_almost_no_lone_pixels(name):
    real = load_dataset(name).heldout
    assert c.CONTINUITY_METRICS["lone_pixels"].fn(real)["lone_pixels_per_image"] < 0.1
    blurred = gaussian_blur(real, kernel_size=5, sigma=0.7)
    assert c.CONTINUITY_METRICS["lone_pixels"].fn(blurred)["lone_pixels_per_image"] < 0.1


def plant_on_grid(images: torch.Tensor, where: torch.Tensor, value: float,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Set a random fifth of the pixels in `where` (N, H, W) that lie on a 3-px grid to `value`:
    3 px apart, no planted pixel is in another's neighbourhood. Returns (images, planted per image)."""
    h, w = where.shape[-2:]
    grid = ((torch.arange(h) % 3 == 1).view(-1, 1) & (torch.arange(w) % 3 == 1).view(1, -1))
    chosen = where & grid & (torch.rand(where.shape, generator=torch.Generator().manual_seed(seed)) < 0.2)
    planted = images.clone()
    planted[:, 0][chosen] = value
    return planted, chosen.flatten(1).sum(1)


def test_salt_and_holes_planted_on_real_digits_are_counted_one_for_one(mnist):
    clean = mnist.heldout
    binary = c.ink(clean)
    neighbours = bp.ink_neighbours(binary)
    salted, n_salt = plant_on_grid(clean, ~binary & (neighbours == 0), 1.0)  # on background, away from ink
    holed, n_holes = plant_on_grid(clean, binary & (neighbours == 8), 0.0)  # inside thick strokes
    assert n_salt.sum() > 10 * len(clean) and n_holes.sum() > 100
    before, salt, holes = c.bad_pixel_counts(clean), c.bad_pixel_counts(salted), c.bad_pixel_counts(holed)
    assert torch.equal(salt["lone_ink_per_image"] - before["lone_ink_per_image"], n_salt.float())
    assert torch.equal(salt["specks_per_image"] - before["specks_per_image"], n_salt.float())
    assert torch.equal(holes["lone_holes_per_image"] - before["lone_holes_per_image"], n_holes.float())
    for key in ("lone_holes_per_image", "fragments_per_image"):
        assert torch.equal(salt[key], before[key]), key
    for key in ("lone_ink_per_image", "specks_per_image", "fragments_per_image"):
        assert torch.equal(holes[key], before[key]), key


def test_clean_real_digits_score_as_the_reference(mnist):
    real = mnist.heldout
    same = c.continuity_report({"same": real}, real)
    assert same["views"]["same"]["spectrum_distance"] == 0
    assert all(r == 1 for r in same["ratios"]["same"].values() if r is not None)
    # Another 500 real digits (the train split) match the held-out ones within sampling noise.
    other = c.continuity_report({"train": mnist.train[:len(real)]}, real, floor=mnist.train[-len(real):])
    ratios, numbers = other["ratios"]["train"], other["views"]["train"]
    for key in ("tv_per_pixel", "laplacian_var", "hf_share"):
        assert ratios[key] == pytest.approx(1, abs=0.1), key
    for key in ("lone_pixels_per_image", "specks_per_image", "fragments_per_image"):  # rare: ~0.02 an image
        assert abs(numbers[key] - other["real"][key]) < 0.05, key
        low, high = numbers[key + "_ci95"]
        assert low <= numbers[key] <= high
    assert numbers["spectrum_distance"] < 0.05 and other["real"]["spectrum_distance"] < 0.05


@pytest.mark.parametrize("bands", [1, 2])
def test_erasing_bands_raises_fragments_by_the_planted_amount(mnist, bands):
    # Single-piece "1"s cut across by `bands` erased 2-row bands, evenly spaced over the digit's
    # height, fall into exactly bands + 1 pieces: `bands` fragments besides the main one.
    ones = mnist.heldout[mnist.heldout_labels == 1]
    clean = c.bad_pixel_counts(ones)
    ones = ones[(clean["fragments_per_image"] == 0) & (clean["specks_per_image"] == 0) & ~clean["blank_share"].bool()]
    assert len(ones) > 30
    rows = c.ink(ones).any(2)  # (N, H): rows with ink
    top = rows.float().argmax(1)
    bottom = rows.shape[1] - 1 - rows.flip(1).float().argmax(1)
    r = torch.arange(rows.shape[1]).view(1, -1)
    erase = torch.zeros_like(rows)
    for j in range(1, bands + 1):
        centre = (top + (bottom - top) * j / (bands + 1)).round().long().view(-1, 1)
        erase |= (r == centre) | (r == centre + 1)
    cut = ones.clone()
    cut[:, 0][erase] = 0.0  # whole rows of the digit
    after = c.bad_pixel_counts(cut)
    assert after["fragments_per_image"].tolist() == [bands] * len(ones)
    assert after["fragmented_share"].tolist() == [1] * len(ones)
    assert int(after["specks_per_image"].sum()) == 0


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

def test_overlay_paints_each_kind_in_its_colour():
    x = canvas()
    x[0, 0, 2:14, 5:10] = 1  # main stroke, 5 px thick
    x[0, 0, 7, 7] = 0  # lone hole
    x[0, 0, 0, 15] = 1  # lone ink (also a 1-px speck: red wins)
    x[0, 0, 15, 0:2] = 1  # 2-px speck
    x[0, 0, 0:2, 0:2] = 1  # 4-px fragment, first in raster order: the main stroke is the largest piece, not the first
    overlay = artifacts.artifact_overlay(x)
    assert overlay.shape == (1, 3, 16, 16)
    expected = {"lone ink": [[0, 15]], "lone hole": [[7, 7]], "speck": [[15, 0], [15, 1]],
                "fragment": [[0, 0], [0, 1], [1, 0], [1, 1]]}
    for kind, pixels in expected.items():
        painted = (overlay[0] == torch.tensor(artifacts.ARTIFACT_COLOURS[kind]).view(3, 1, 1)).all(0)  # (H, W)
        assert painted.nonzero().tolist() == pixels, kind


def test_worst_images_rank_by_lone_pixels_plus_specks_and_maps_are_written(tmp_path):
    salt, speck, fragment = clean_one(), clean_one(), clean_one()
    salt[0, 0, 0, 0] = 1  # 1 lone + 1 speck = 2
    speck[0, 0, 0, 12:14] = 1  # 0 lone + 1 speck = 1
    fragment[0, 0, 0:2, 12:14] = 1  # a fragment scores 0: worst16 shows stray pixels, not broken strokes
    holes = canvas()
    holes[0, 0, 2:14, 5:10] = 1
    holes[0, 0, [4, 7, 10], 7] = 0  # 3 lone holes = 3
    images = torch.cat([clean_one(), salt, holes, speck, fragment])
    assert c.artifact_scores(images).tolist() == [0, 2, 3, 1, 0]
    assert artifacts.worst_indices(images, k=3).tolist() == [2, 1, 3]
    real = torch.cat(thin_strokes())
    report = c.continuity_report({"noisy": images}, real)
    files = artifacts.save_continuity_pictures(report, {"noisy": images}, real, tmp_path)
    for name in files:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(files) == {"artifacts_noisy.png", "worst16_noisy.png", "artifacts_real.png", "worst16_real.png",
                          "spectrum.png"}
    json.dumps(report, allow_nan=False)  # metrics.json-ready: no NaN, no tensors


@pytest.mark.slow
def test_run_writes_the_continuity_section_and_pictures(tmp_path):
    from compare.settings import Budget
    from compare.models import parse_model_specs
    from compare.experiments.pipeline import run
    from compare.settings import RunSettings

    out = tmp_path / "run"
    # the pixels' numbers need neither
    run(RunSettings(models=tuple(parse_model_specs(["gan", "vae"])), budget=Budget.parse("30steps"), dataset="digits",
                    device="cpu", out=out, curve_points=1, **FAST_FIELDS), show_progress=False)
    cont = json.loads((out / "metrics.json").read_text())["continuity"]
    assert set(cont["views"]) == {"gan", "vae-mean", "vae-pixels", "vae-gmm"}
    assert cont["protocol"]["n_real"] == 180 and cont["protocol"]["n"]["vae-pixels"] == 180
    assert cont["real"]["spectrum_distance"] is not None  # the train-vs-held-out floor
    for view in ("gan", "vae-mean", "vae-pixels", "real"):
        assert (out / f"artifacts_{view}.png").exists() and (out / f"worst16_{view}.png").exists()
    assert (out / "spectrum.png").exists()
    # Independent Bernoulli draws of every pixel make more lone pixels than their own means.
    assert cont["views"]["vae-pixels"]["lone_pixels_per_image"] > cont["views"]["vae-mean"]["lone_pixels_per_image"]


def test_sets_of_another_image_size_are_refused():
    from compare.errors import UserError

    with pytest.raises(UserError, match="one size"):
        c.continuity_report({"small": torch.zeros(4, 1, 8, 8)}, torch.zeros(4, 1, 28, 28))
