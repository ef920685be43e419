"""compare.metrics.numbers.fmt, the one number style: known answers for values with and without intervals, and the
metric registry's words (labels, units, constants) every table takes its row names from."""

import pytest

from compare.metrics import METRICS, key_info, label_of
from compare.metrics.numbers import fmt, parts


@pytest.mark.parametrize("value, ci, text", [
    # value and ends rounded to one place: the second significant digit of the half-width
    (0.026, (0.01395, 0.04205), "0.026 [0.014, 0.042]"),  # half-width 0.014: thousandths
    (4.95e4, (4.116e4, 5.933e4), "49,500 [41,200, 59,300]"),  # half-width 9,085: hundreds, with thousands separators
    (92.94, (78.29, 104.0), "93 [78, 104]"),  # half-width 12.9: ones
    (95.2, (94.4, 96.0), "95.20 [94.40, 96.00]"),  # half-width 0.80: hundredths, trailing zeros kept
    (2813.0, (-1946.0, 1.176e4), "2,800 [-1,900, 11,800]"),  # an interval across zero: no e-notation
    (-5.366, (-5.642, -5.085), "-5.37 [-5.64, -5.08]"),
    (5.0, (4.99, 5.01), "5.000 [4.990, 5.010]"),  # 5.01 - 4.99 is 0.0199999..: the float error adds no digit
    (-0.004, (-0.0051, 0.0003), "-0.0040 [-0.0051, 0.0003]"),
    (0.0, (0.0, 0.0), "0 [0, 0]"),  # no width to round to: each number alone
    (None, (1.0, 2.0), "n/a"),
])
def test_a_value_and_its_interval_share_the_decimal_place_the_interval_sets(value, ci, text):
    assert fmt(value, ci) == text


@pytest.mark.parametrize("value, text", [
    (1.47e3, "1,470"),  # 1,470 s, never "1.47e+03 s"
    (5.652e5, "565,200"),  # FLOPs per image beside an integer count: whole numbers from 100 up
    (655884288, "655,884,288"),  # integers (counts) exact
    (0.9708, "0.971"), (8.757, "8.76"), (1.0, "1.00"), (0.0, "0"), (-0.0004, "-0.0004"),  # 3 significant digits
    (0.0012, "0.00120"),  # 1e-3 still in fixed point
    (2.5e13, "2.5e+13"), (None, "n/a"), (float("nan"), "n/a"), (float("inf"), "∞"), ("abc", "abc"),
])
def test_a_value_alone_keeps_three_significant_digits_and_its_whole_part(value, text):
    assert fmt(value) == text


def test_signed_values_and_the_parts_of_a_sentence():
    assert fmt(-5.366, (-5.642, -5.085), signed=True) == "-5.37 [-5.64, -5.08]"
    assert (fmt(0.5, signed=True) == "+0.500" and fmt(3, signed=True) == "+3"
            and fmt(0.001, (-0.3, 0.3), signed=True) == "+0.00 [-0.30, 0.30]")
    assert parts(5.366, (5.085, 5.642)) == ("5.37", "5.08", "5.64")
    assert parts(5.366) == ("5.37", None, None)


def test_no_e_notation_between_a_thousandth_and_a_billion():
    for value in (1e-3, 0.0123, 1.5, 999.4, 1234.5, 9e8):
        assert "e" not in fmt(value) and "e" not in fmt(value, (value * 0.9, value * 1.1))
    assert fmt(2e9, (1e9, 3e9)) == "2e+09 [1e+09, 3e+09]"  # beyond: all three in e-notation


def test_every_registered_number_has_words():
    for metric in METRICS.values():
        for k, key in metric.keys.items():
            assert key.constant or (key.label and "_" not in key.label), k  # a row name in words, never the raw key
            assert "^" not in key.unit and "x10" not in key.unit  # units in words
    assert (label_of("lone_pixels_per_image") == "lone pixels per image"
            and label_of("precision") == "precision (share of samples)")
    assert label_of("fid", 500) == "FID at N = 500" and label_of("kid_x1e3") == "KID × 1,000"
    assert key_info("modes_total").constant and key_info("nn_train_real").constant  # the real data's own: no table row
    assert label_of("final_losses.d_loss") == "final_losses.d_loss"  # not a metric: as it is
