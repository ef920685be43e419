"""Seed statistics: known t intervals, range clipping, paired differences, the decision regions, power."""

import math

import pytest

from compare.stats import (
    classify, detectable_difference, mover_difference, normal_mean_interval, numeric_leaves, paired_difference,
    seeds_needed, summarize,
)

T_975_DF1, T_975_DF2 = 12.706204736174694, 4.302652729749462  # Student t quantiles from tables


def t_df2(p):
    """Student t quantile with 2 degrees of freedom in closed form: (2p - 1) / sqrt(2p(1 - p))."""
    return (2 * p - 1) / math.sqrt(2 * p * (1 - p))


def test_interval_of_two_and_three_values_is_the_t_interval():
    two = summarize([9.0, 11.0])  # mean 10, std sqrt(2), half-width t * sqrt(2) / sqrt(2)
    assert two["n"] == 2 and two["mean"] == 10.0 and two["std"] == pytest.approx(math.sqrt(2))
    assert two["ci95"] == pytest.approx([10 - T_975_DF1, 10 + T_975_DF1])
    three = summarize([1.0, 2.0, 3.0])  # mean 2, std 1
    assert three["ci95"] == pytest.approx([2 - T_975_DF2 / math.sqrt(3), 2 + T_975_DF2 / math.sqrt(3)])
    assert three["values"] == [1.0, 2.0, 3.0]
    assert t_df2(0.975) == pytest.approx(T_975_DF2)


def test_one_value_has_no_spread_and_none_has_no_mean():
    assert summarize([4.0]) == {"n": 1, "mean": 4.0, "std": None, "ci95": None, "values": [4.0]}
    assert summarize([])["mean"] is None


def test_an_interval_never_leaves_the_range_the_value_can_take():
    fid = summarize([2.7, 202.7], (0.0, None))  # the issue's `--seeds 2` FID: 102.7 [-97.0, 302.4] unclipped
    assert fid["mean"] == pytest.approx(102.7) and fid["ci95"] == pytest.approx([0.0, 102.7 + 100 * T_975_DF1])
    share = summarize([0.9, 1.0, 0.95], (0.0, 1.0))
    assert share["ci95"] == pytest.approx([0.95 - 0.05 * T_975_DF2 / math.sqrt(3), 1.0])
    inside = summarize([11.0, 12.0, 13.0], (0.0, None))  # far from the bound: untouched
    assert inside["ci95"] == pytest.approx([12 - T_975_DF2 / math.sqrt(3), 12 + T_975_DF2 / math.sqrt(3)])


def test_constant_values_give_a_zero_width_interval_that_is_not_significant():
    assert summarize([3.0, 3.0, 3.0])["ci95"] == [3.0, 3.0]
    shift = paired_difference({0: 1.0, 1: 5.0}, {0: 1.5, 1: 5.5})  # +0.5 on both seeds: no spread measured
    assert shift["ci95"] == pytest.approx([0.5, 0.5]) and shift["significant"] is False
    rounding = paired_difference({0: 0.1, 1: 0.7, 2: 0.3}, {0: 0.3, 1: 0.9, 2: 0.5})  # +0.2 up to float rounding
    assert 0 < rounding["std"] < 1e-15 and rounding["significant"] is False


def test_paired_difference_sees_a_shift_that_seed_noise_would_hide():
    a = {0: 1.0, 1: 5.0, 2: 9.0}  # large spread over seeds ...
    b = {0: 1.4, 1: 5.5, 2: 9.6}  # ... but b is a + 0.4 to 0.6 on every seed
    d = paired_difference(a, b)
    assert d["mean"] == pytest.approx(0.5) and d["ci95"] == pytest.approx([0.5 - 0.1 * T_975_DF2 / math.sqrt(3),
                                                                        0.5 + 0.1 * T_975_DF2 / math.sqrt(3)])
    assert d["significant"] is True
    noisy = paired_difference(a, {0: 2.0, 1: 4.0, 2: 10.0})  # differences +1, -1, +1: interval includes 0
    assert noisy["significant"] is False and noisy["ci95"][0] < 0 < noisy["ci95"][1]


def test_paired_difference_uses_only_shared_seeds_and_needs_two():
    d = paired_difference({0: 1.0, 1: 2.0, 7: 100.0}, {0: 2.0, 1: 3.5})
    assert d["seeds"] == [0, 1] and d["mean"] == pytest.approx(1.25)
    assert paired_difference({0: 1.0}, {0: 2.0})["significant"] is None


@pytest.mark.parametrize("mean, ci, n, state", [
    (1.0, (0.6, 1.4), 3, "for"),  # wholly above +0.5
    (-1.0, (-1.4, -0.6), 3, "against"),
    (0.0, (-0.4, 0.4), 3, "within"),  # inside (-0.5, +0.5): no practical difference
    (0.6, (0.1, 1.1), 3, "open"),  # above 0 but not above the margin
    (0.3, (-0.1, 0.7), 3, "open"),
    (0.0, (-0.5, 0.5), 3, "open"),  # touching the margin is not inside it
    (1.0, (1.0, 1.0), 3, "open"),  # zero width: no spread measured
    (1.0, (0.6, 1.4), 1, "open"),  # one seed never decides
    (None, None, 0, "open"),
])
def test_classify_regions_against_a_margin_of_half(mean, ci, n, state):
    assert classify(mean, ci, n, 0.5) == state


def test_detectable_difference_matches_a_hand_computation():
    # 3 seeds, SD 2: (t(0.975, 2) + t(0.80, 2)) * 2 / sqrt(3), both quantiles in closed form for 2 degrees of freedom
    by_hand = (0.95 / math.sqrt(2 * 0.975 * 0.025) + 0.6 / math.sqrt(2 * 0.8 * 0.2)) * 2 / math.sqrt(3)
    assert by_hand == pytest.approx(6.1930, abs=1e-4)
    assert detectable_difference(2.0, 3) == pytest.approx(by_hand)
    assert detectable_difference(2.0, 1) is None
    # more seeds, finer
    assert detectable_difference(2.0, 12) < detectable_difference(2.0, 6) < detectable_difference(2.0, 3)


def test_seeds_needed_is_the_fewest_seeds_whose_detectable_difference_fits():
    need = seeds_needed(1.0, 1.0)
    assert detectable_difference(1.0, need) <= 1.0 < detectable_difference(1.0, need - 1)
    assert need == 10  # 10 seeds: (2.262 + 0.883) / sqrt(10) = 0.995; 9 seeds: (2.306 + 0.889) / 3 = 1.065
    assert seeds_needed(1.0, 3.1) == 3 and seeds_needed(1.0, 1e-3) is None


def test_numeric_leaves_flatten_numbers_only():
    entry = {"fid": 3, "quality": {"kid": 0.5, "ok": True}, "views": ["a"], "loss_history": {"x": 1}, "name": "gan",
             "bad": float("nan")}
    assert numeric_leaves(entry, skip=("loss_history",)) == {"fid": 3.0, "quality.kid": 0.5}


def test_seed_summaries_clip_each_interval_to_its_values_range():
    from compare.experiments.seeds import _over_seeds

    values = {"gan": {0: {"continuity.fragmented_share": 0.1, "continuity.lone_ink_per_image": 1.03,
                          "quality.kid_x1e3": 3378.0},
                      1: {"continuity.fragmented_share": 0.0, "continuity.lone_ink_per_image": 0.51,
                          "quality.kid_x1e3": 2865.0}}}
    stats, _ = _over_seeds(values)
    assert stats["gan"]["continuity.fragmented_share"]["ci95"][0] == 0.0  # a share: [0, 1] (unclipped: -0.59)
    assert stats["gan"]["continuity.lone_ink_per_image"]["ci95"][0] == 0.0  # a count per image: >= 0 (unclipped: -2.55)
    assert stats["gan"]["quality.kid_x1e3"]["ci95"][0] < 0  # the unbiased KID may be below 0: not clipped


def test_mover_moves_each_end_by_the_root_sum_of_squares_of_the_sides_distances():
    # a = 5 [4, 7], b = 2 [1.5, 2.5]: d = 3; low end 3 - hypot(5 - 4, 2.5 - 2), high end 3 + hypot(7 - 5, 2 - 1.5)
    d, (low, high) = mover_difference(5.0, (4.0, 7.0), 2.0, (1.5, 2.5))
    assert d == 3.0 and low == pytest.approx(3 - math.hypot(1, 0.5)) and high == pytest.approx(3 + math.hypot(2, 0.5))
    # no uncertainty on either side: none on d
    assert mover_difference(1.0, (1.0, 1.0), 1.0, (1.0, 1.0)) == (0.0, (0.0, 0.0))


def test_normal_mean_interval_is_mean_plus_minus_1_96_standard_errors():
    assert normal_mean_interval(10.0, 2.0, 4) == pytest.approx([10 - 1.959963984540054, 10 + 1.959963984540054])
    assert all(math.isnan(x) for x in normal_mean_interval(3.0, 0.0, 1))  # one image: no interval
