import pytest
import torch

from compare.train.cost import (count_flops, match_widths, parameter_counts, peak_memory_mb, reset_peak_memory,
                                size_table, train_step_flops)
from compare.errors import UserError
from compare.models import parse_model_specs

SHAPE = (1, 8, 8)
P = 64  # pixels


def spec(name):
    return parse_model_specs([name])[0]


def test_gan_step_flops_equal_the_hand_count():
    # 2 FLOPs per multiply-add; a = D's matmuls, g = G's matmuls for one image
    B, L, h = 16, 64, 256
    a, g = P * h + h * h + h, L * h + h * h + h * P
    expected = 2 * B * (
        g                        # G forward (once, reused by both updates)
        + 2 * a                  # D forward on real and on detached fake
        + 2 * (a + h * h + h)    # D backward, both passes: weight grads + input grads of layers 2, 3
        + a                      # G update: D forward on fake
        + a                      # ...D backward, input grads only (D frozen), all 3 layers
        + g + h * h + h * P      # ...G backward: weight grads + input grads of layers 2, 3
    )
    assert train_step_flops(spec("gan"), SHAPE, B) == expected


def test_vae_step_flops_equal_the_hand_count():
    B, L, h = 16, 16, 256
    e, d = P * h + h * h + h * 2 * L, L * h + h * h + h * P
    expected = 2 * B * (
        e + d                    # forward
        + e + d                  # weight grads
        + h * h + h * 2 * L      # encoder input grads, layers 2, 3 (the image needs none)
        + d                      # decoder input grads, all layers (z depends on the encoder)
    )
    assert train_step_flops(spec("vae"), SHAPE, B) == expected


def test_flop_counting_does_not_touch_the_model():
    model = spec("gan").build(SHAPE, "cpu", seed=0)
    before = [p.clone() for p in model.generator.parameters()]
    count_flops(model.sample, 4, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))


@pytest.mark.parametrize("mode, part", [("generator", None), ("total", "total")])
def test_match_params_lands_within_5_percent(mode, part):
    specs = parse_model_specs(["gan", "vae"])
    shape = (1, 28, 28)
    widths = match_widths(specs, shape, mode, width=0.5)
    assert widths["gan"] == 0.5
    gan = parameter_counts(specs[0].build(shape, "cpu", 0, width=widths["gan"]))
    vae = parameter_counts(specs[1].build(shape, "cpu", 0, width=widths["vae"]))
    if mode == "generator":
        gan_n, vae_n = gan["generator"], vae["decoder"]
    else:
        gan_n, vae_n = gan["total"], vae["total"]
    assert abs(vae_n - gan_n) <= 0.05 * gan_n
    assert widths["vae"] != 0.5


def test_match_params_none_keeps_widths_and_bad_mode_is_user_error():
    specs = parse_model_specs(["gan", "vae"])
    assert match_widths(specs, SHAPE, "none", 2.0) == {"gan": 2.0, "vae": 2.0}
    with pytest.raises(UserError, match="--match-params"):
        match_widths(specs, SHAPE, "decoder", 1.0)


def test_size_table_reports_every_figure():
    model = spec("vae").build(SHAPE, "cpu", seed=0)
    table = size_table(model, step_flops=123, train_images_per_second=1000.0)
    assert table["parameters"]["total"] == table["parameters"]["encoder"] + table["parameters"]["decoder"]
    assert table["fp32_mb"]["total"] == pytest.approx(table["parameters"]["total"] * 4 / 1e6, abs=1e-3)
    h, L = 256, 16
    assert table["flops_per_image"] == 2 * (L * h + h * h + h * P)  # the decoder's forward pass
    assert table["sampling_images_per_second"] > 0 and table["peak_memory_mb"] > 0


def test_gpu_peak_memory_leaves_out_what_was_resident(monkeypatch):
    # CUDA's counters faked, so the arithmetic is checked on any machine: 10 MB of data resident
    # when the model starts, 25 MB at the peak of its training -> 15 MB is the model's own.
    allocated = {"now": 10_000_000, "peak": 12_000_000}
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device: allocated.update(peak=allocated["now"]))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: allocated["now"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device: allocated["peak"])
    gpu = torch.device("cuda")
    resident = reset_peak_memory(gpu)
    allocated["peak"] = 25_000_000
    assert resident == 10_000_000 and peak_memory_mb(gpu, resident) == 15.0
    assert reset_peak_memory(torch.device("cpu")) == 0
