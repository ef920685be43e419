"""Seed statistics: known t intervals, paired differences, flattening of metrics entries."""

import math

import pytest

from compare.stats import numeric_leaves, paired_difference, summarize

T_975_DF1, T_975_DF2 = 12.706204736174694, 4.302652729749462  # Student t quantiles from tables


def test_interval_of_two_and_three_values_is_the_t_interval():
    two = summarize([9.0, 11.0])  # mean 10, std sqrt(2), half-width t * sqrt(2) / sqrt(2)
    assert two["n"] == 2 and two["mean"] == 10.0 and two["std"] == pytest.approx(math.sqrt(2))
    assert two["ci95"] == pytest.approx([10 - T_975_DF1, 10 + T_975_DF1])
    three = summarize([1.0, 2.0, 3.0])  # mean 2, std 1
    assert three["ci95"] == pytest.approx([2 - T_975_DF2 / math.sqrt(3), 2 + T_975_DF2 / math.sqrt(3)])
    assert three["values"] == [1.0, 2.0, 3.0]


def test_one_value_has_no_spread_and_none_has_no_mean():
    assert summarize([4.0]) == {"n": 1, "mean": 4.0, "std": None, "ci95": None, "values": [4.0]}
    assert summarize([])["mean"] is None


def test_constant_values_give_a_zero_width_interval():
    assert summarize([3.0, 3.0, 3.0])["ci95"] == [3.0, 3.0]


def test_paired_difference_sees_a_shift_that_seed_noise_would_hide():
    a = {0: 1.0, 1: 5.0, 2: 9.0}  # large spread over seeds ...
    b = {0: 1.5, 1: 5.5, 2: 9.5}  # ... but b is a+0.5 on every seed
    d = paired_difference(a, b)
    assert d["mean"] == pytest.approx(0.5) and d["ci95"] == pytest.approx([0.5, 0.5]) and d["significant"] is True
    noisy = paired_difference(a, {0: 2.0, 1: 4.0, 2: 10.0})  # differences +1, -1, +1: interval includes 0
    assert noisy["significant"] is False and noisy["ci95"][0] < 0 < noisy["ci95"][1]


def test_paired_difference_uses_only_shared_seeds_and_needs_two():
    d = paired_difference({0: 1.0, 1: 2.0, 7: 100.0}, {0: 2.0, 1: 3.5})
    assert d["seeds"] == [0, 1] and d["mean"] == pytest.approx(1.25)
    assert paired_difference({0: 1.0}, {0: 2.0})["significant"] is None


def test_numeric_leaves_flatten_numbers_only():
    entry = {"fid": 3, "quality": {"kid": 0.5, "ok": True}, "views": ["a"], "loss_history": {"x": 1}, "name": "gan",
             "bad": float("nan")}
    assert numeric_leaves(entry, skip=("loss_history",)) == {"fid": 3.0, "quality.kid": 0.5}
