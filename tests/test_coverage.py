"""compare.calibrate.coverage: the coverage of every interval of its named target, quick mode (digits, 8 redraws)."""

import pytest

from compare.calibrate import ControlResult
from compare.calibrate.coverage import FULL, QUICK, TOLERANCE, interval_coverage
from compare import stats

KEYS = ["fid", "kid_x1e3", "precision", "recall", "fid_inf", "lone_pixels_per_image"]


@pytest.fixture(scope="module")
def results(quick_coverage):
    return quick_coverage  # interval_coverage(quick=True), shared with the quick calibration (conftest)


def test_every_interval_is_checked_for_real_vs_real_and_for_gan_samples(results):
    assert all(isinstance(r, ControlResult) for r in results)
    assert [(r.details["case"], r.details["key"]) for r in results] == [(case, key) for case in ("real", "gan")
                                                                        for key in KEYS]
    for r in results:
        d = r.details
        assert d["redraws"] == QUICK.redraws and d["hits"] + d["misses_below"] + d["misses_above"] == QUICK.redraws
        assert r.counts == f"{d['hits']} of {QUICK.redraws} redraws" and r.got == f"{d['hits'] / QUICK.redraws:.1%}"
        assert r.to_json()["details"]["target"] == d["target"] and "N = 180" in r.control


def test_the_full_band_passes_calibrated_intervals_and_fails_poor_ones():
    """The full mode scores the run's own intervals (its resamples) and its band, over its redraws, passes twelve
    intervals of a true 95% together in at least 98% of calibrations and fails a true 85% one in at least 95%."""
    from scipy.stats import binom

    assert FULL.resamples == stats.RESAMPLES
    low, high = (round(t * FULL.redraws) for t in TOLERANCE)  # a pass: low <= hits <= high

    def passes(coverage: float) -> float:
        return binom.cdf(high, FULL.redraws, coverage) - binom.cdf(low - 1, FULL.redraws, coverage)

    assert passes(0.95) ** 12 >= 0.98 and passes(0.94) >= 0.99
    assert passes(0.85) <= 0.05 and passes(1.0) == 0.0  # an interval that always covers is too wide


def test_only_under_coverage_fails_a_target_on_the_edge_of_the_values_range():
    from compare.calibrate.coverage import _judge

    always = [{"fid_inf": (1.0, [0.0, 3.0])}] * FULL.redraws  # every interval clipped at 0, every one covering
    assert _judge("real", "fid_inf", always, 0.0, 500, FULL).passed  # the large-N FID of real vs real: 0, the edge
    assert not _judge("gan", "fid_inf", always, 1.5, 500, FULL).passed  # inside the range: 100% is too wide
    missing = [{"fid_inf": (1.0, [0.5, 3.0])}] * 30 + always[30:]
    assert not _judge("real", "fid_inf", missing, 0.0, 500, FULL).passed  # 85% is too narrow, edge or not


def test_the_large_n_targets_are_zero_for_real_vs_real_and_below_the_finite_n_fid_for_the_gan(results):
    by = {(r.details["case"], r.details["key"]): r.details for r in results}
    assert by["real", "fid_inf"]["target"] == 0.0  # one distribution against itself
    assert by["real", "fid"]["mean_value"] > 1  # while FID at N = 180 of real vs real is well above it: its bias
    assert 0 < by["gan", "fid_inf"]["target"]


def test_the_intervals_that_quick_mode_can_vouch_for_cover_their_targets(results):
    # The seeded quick run's outcome; with 8 redraws a pass says only that no interval is grossly off (see the module).
    passed = {(r.details["case"], r.details["key"]): r.passed for r in results}
    for case in ("real", "gan"):
        for key in ("fid", "kid_x1e3", "precision", "fid_inf", "lone_pixels_per_image"):
            assert passed[case, key], (case, key)


def test_the_simulations_pinned_fid_is_the_runs():
    import torch

    from compare.calibrate.coverage import _pinned_fid
    from compare.metrics.quality import Features
    from compare.metrics.scoring import score_features

    g = torch.Generator().manual_seed(0)
    real, fake = (Features(torch.randn(150, 8, generator=g) + shift, torch.ones(150, 1)) for shift in (0.0, 0.3))
    run = score_features({"real": real, "fake": fake}, {"name": "given", "weights_sha256": "-"}, 200,
                         names=("fid",))["fid"]
    value, ci = _pinned_fid(real, fake, 200)
    assert value == run["values"]["fid"] and ci == pytest.approx(run["intervals"]["fid"]["ci95"], rel=1e-9)


def test_two_processes_score_the_redraws_as_one_does(results):
    assert [r.to_json() for r in interval_coverage(quick=True, jobs=2)] == [r.to_json() for r in results]
