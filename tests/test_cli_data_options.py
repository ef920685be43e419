"""`compare run`'s --arch, --precision, --data-root, --download, --image-size and --channels, end to end."""

from __future__ import annotations

import json
import urllib.error

import pytest
import torch
from PIL import Image

from helpers import FAST, run_cli, write_mnist_like

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)


def _run(*args: str):
    """A run of a few steps; these tests read what the options reached, not the curves or the intervals."""
    return run_cli("run", "--quiet", "--budget", "3steps", "--curve-points", "1", *FAST, *args)


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_arch_conv_trains_both_families(tmp_path):
    result = _run("--models", "gan", "vae", "--arch", "conv", "--dataset", "digits", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert {m["arch"] for m in config["models"].values()} == {"conv"}
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["models"]["gan"]["steps"] == 3
    assert metrics["models"]["vae"]["size"]["peak_memory_kind"] == "process_max_rss"  # CPU run
    assert (tmp_path / "run" / "samples_vae-mean.png").exists()


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_precision_reaches_every_model(tmp_path):
    result = _run("--models", "gan:hinge,vae", "--precision", "bf16", "--dataset", "digits", "--out",
                  str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert ([(m["precision"], m.get("generator_loss")) for m in config["models"].values()]
            == [("bf16", "hinge"), ("bf16", None)])


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_data_root_reads_torchvision_files(tmp_path, cheap_evaluator):
    write_mnist_like(tmp_path / "data", "MNIST", n_train=20, n_test=6)
    result = _run("--models", "vae", "--dataset", "mnist", "--data-root", str(tmp_path / "data"), "--batch-size", "4",
                  "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["dataset"]["train"], config["dataset"]["heldout"]) == (20, 6)


def test_missing_files_and_failed_download_exit_2_with_one_line(tmp_path, monkeypatch):
    result = _run("--dataset", "fashion-mnist", "--data-root", str(tmp_path))
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "FashionMNIST/raw/" in result.output and "--download" in result.output

    import torchvision.datasets.mnist as mnist

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    result = _run("--dataset", "fashion-mnist", "--data-root", str(tmp_path), "--download")
    assert result.exit_code == 2 and result.output.startswith("Error: could not download Fashion-MNIST")


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_folder_with_image_size_channels_and_a_corrupt_file(tmp_path, cheap_evaluator):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(30):  # 31 files: 3 held out, so at least 2 readable ones whichever file is bad
        Image.new("RGB", (12 + i, 10), (8 * i, 0, 0)).save(images / f"{i}.png")
    (images / "bad.jpg").write_bytes(b"\xff\xd8 truncated")
    result = _run("--models", "gan,vae", "--arch", "conv", "--dataset", f"folder:{images}", "--image-size", "8",
                  "--channels", "1", "--batch-size", "4", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    assert "Warning: skipped 1 of 31 image files under" in result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["dataset"]["image_shape"] == [1, 8, 8]


def test_conv_size_it_cannot_make_is_a_one_line_error(tmp_path):
    for i in range(4):
        Image.new("L", (40, 40), i).save(tmp_path / f"{i}.png")
    result = _run("--arch", "conv", "--dataset", f"folder:{tmp_path}", "--image-size", "30", "--batch-size", "2",
                  "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert result.output.startswith("Error: model gan on 3x30x30 images: the conv architecture needs an image side")


def test_option_for_another_dataset_is_refused():
    result = _run("--dataset", "mnist5k", "--channels", "1")
    assert result.exit_code == 2 and "--channels does not apply to dataset 'mnist5k'" in result.output


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_records_peak_memory(tmp_path):
    result = _run("--models", "gan,vae", "--arch", "conv", "--precision", "bf16", "--device", "cuda", "--dataset",
                  "digits", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert all(m["size"]["peak_memory_kind"] == "cuda_max_allocated_above_resident" and m["size"]["peak_memory_mb"] > 0
               for m in metrics["models"].values())


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_run_streams_a_folder_over_the_memory_threshold(tmp_path, monkeypatch, cheap_evaluator):
    from compare.data import sources

    images = tmp_path / "images"
    images.mkdir()
    for i in range(24):
        Image.new("L", (8, 8), 10 * i).save(images / f"{i}.png")
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 0)  # nothing fits: train and held-out both stream
    result = _run("--models", "gan,vae", "--dataset", f"folder:{images}", "--image-size", "8", "--channels", "1",
                  "--batch-size", "4", "--budget", "7steps", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [m["steps"] for m in metrics["models"].values()] == [7, 7]  # more steps than one epoch (5 batches)
    assert (tmp_path / "run" / "side_by_side.png").exists()


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_fp16_gradient_norms_are_true_gradients_in_strict_json(tmp_path):
    # fp16 scales the loss (65536 at first); the recorded norms must be of the unscaled gradients, and a
    # step whose gradient overflowed (skipped by the scaler) is null: metrics.json stays standard JSON.
    norms = {}
    for precision in ("fp32", "fp16"):
        out = tmp_path / precision
        result = _run("--models", "gan", "vae", "--arch", "conv", "--precision", precision, "--dataset", "digits",
                      "--out", str(out))
        assert result.exit_code == 0, result.output
        metrics = json.loads((out / "metrics.json").read_text(),
                             parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
        norms[precision] = metrics["models"]["gan"]["grad_norms"][0]["generator"]
    assert norms["fp16"] == pytest.approx(norms["fp32"], rel=0.05)
