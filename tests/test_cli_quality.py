"""`compare run` metrics, `compare evaluate RUN_DIR` and `compare score A B` end to end on digits, plus
image-set reading."""

import json
import shutil
import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

from compare.data import load_dataset
from compare.errors import UserError
from compare.data.imagesets import load_image_set, to_images
from helpers import FAST, one_line_error, run_cli


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table line in the output (the CLI pads them into columns)."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]


@pytest.fixture(scope="module")
def heldout():
    return load_dataset("digits").heldout


@pytest.mark.slow  # trains two models for 30 steps and draws 1,000 resamples of each view: a few seconds
def test_a_default_run_writes_every_view_with_its_intervals_from_1000_resamples(tmp_path, quick_figures):
    out = tmp_path / "run"
    result = run_cli("run", "--dataset", "digits", "--budget", "30steps", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    md = (out / "metrics.md").read_text()  # the full tables (the terminal shows them with --verbose)
    rows = table_rows(md)
    assert rows[0] == ["metric", "unit", "better", "real floor", "gan", "vae-mean", "vae-pixels", "vae-gmm"]
    fid = next(row for row in rows if row[0] == "FID at N = 180")  # the row says what its interval covers
    assert fid[1:3] == ["", "↓"] and all(" [" in cell for cell in fid[3:])  # every value with its 95% interval
    fid_inf = next(row for row in rows if row[0] == "FID as N → ∞")
    assert all(" [" in cell for cell in fid_inf[3:])
    assert "\nFID: " in md  # and which intervals overlap
    metrics = json.loads((out / "metrics.json").read_text())
    quality = metrics["quality"]
    # fid_inf: the value less the bootstrap's bias, both intervals >= 0
    for scores in (quality["floor"], *quality["views"].values()):
        fid_values, fid_intervals = scores["fid"]["values"], scores["fid"]["intervals"]
        assert fid_values["fid_inf"] == pytest.approx(max(0.0, fid_values["fid"] - fid_intervals["fid_inf"]["bias"]))
        assert min(fid_intervals["fid"]["ci95"] + fid_intervals["fid_inf"]["ci95"]) >= 0
        assert (fid_intervals["fid"]["resamples"] == 1000
                and scores["kid"]["protocol"]["feature_sd"] == 1.2535148150181017)
    # real vs real: FID's bias > 0
    assert quality["floor"]["fid"]["values"]["fid_inf"] < quality["floor"]["fid"]["values"]["fid"]
    # Numbers live once, per view: a model's entry names its views and carries no copies of their scores.
    assert (metrics["models"]["vae"]["views"] == ["vae-mean", "vae-pixels", "vae-gmm"]
            and "quality" not in metrics["models"]["vae"])
    assert set(quality["views"]) == {"gan", "vae-mean", "vae-pixels", "vae-gmm"}
    assert quality["views"]["gan"]["fid"]["protocol"]["n_fake"] == quality["floor"]["fid"]["protocol"]["n_fake"] == 180
    assert "real floor" in (out / "metrics.md").read_text()


def test_evaluate_reproduces_a_run_from_its_checkpoints_and_keeps_numbers_it_changes(tiny_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    quality = json.loads((out / "metrics.json").read_text())["quality"]
    result = run_cli("evaluate", out, "--quiet")
    assert result.exit_code == 0, result.output
    again = json.loads((out / "metrics.json").read_text())
    assert again["quality"] == quality and "quality_history" not in again  # same weights, same noise: the same numbers

    result = run_cli("evaluate", out, "--quiet", "--eval-samples", 150)
    assert result.exit_code == 0, result.output
    changed = json.loads((out / "metrics.json").read_text())
    assert (changed["quality"]["views"]["gan"]["fid"]["protocol"]["n_fake"]
            == changed["quality"]["floor"]["fid"]["protocol"]["n_fake"] == 150)
    assert changed["quality_history"] == [quality]  # the earlier numbers are kept, not overwritten

    result = run_cli("evaluate", tmp_path / "nowhere")
    assert result.exit_code == 2 and "no such run directory" in result.output and "nowhere" in result.output


@pytest.mark.slow  # full scoring
def test_score_two_sets_as_table_and_json(tmp_path, heldout):
    a = tmp_path / "a.npz"
    np.savez(a, images=(heldout.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8))  # (N, H, W, 1) uint8
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(load_image_set(a)[:150]):
        Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8)).convert("RGB").save(folder / f"{i:03d}.png")

    result = run_cli("score", a, a, "--dataset", "digits", "--json", "--quiet", *FAST)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)  # flat keys: B's numbers by their keys, A's own as A_<key>
    assert out["fid"] == 0.0 and (out["precision"], out["recall"]) == (1.0, 1.0)
    assert out["n_real"] == len(heldout) and out["features"] == "evaluator:digits"
    # the same set as both A and B: every pixel metric equals the reference's, ratio exactly 1
    for key in ("lone_pixels_per_image", "specks_per_image", "fragments_per_image"):
        assert out[key] == out[f"A_{key}"]
        low, high = out[f"{key}_ci95_low"], out[f"{key}_ci95_high"]
        assert low <= out[key] <= high and (out[f"A_{key}_ci95_low"], out[f"A_{key}_ci95_high"]) == (low, high)
        assert f"{key}_at_0.3" in out
    assert out["laplacian_var_ratio_to_A"] == 1.0

    result = run_cli("score", a, folder, "--dataset", "digits", "--quiet", *FAST)
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output)
    precision = next(row for row in rows if row[0] == "precision (share of samples)")
    assert "A: 180 reference images, B: 150 images judged." in result.output and precision[1] == "↑"
    # every image of B is one of A's: precision exactly 1, with its interval
    assert precision[2].startswith("1.0") and " [" in precision[2]
    # one table: quality, then bad pixels of both
    assert rows[0] == ["metric", "better", "B (judged against A)", "A (reference)"]
    assert [r[0] for r in rows[-3:]] == ["lone pixels per image", "specks per image", "fragments per image"]


@pytest.mark.parametrize("b_images, message", [
    (np.zeros((5, 28, 28), np.uint8), "A holds 1x8x8 (CxHxW) images but B holds 1x28x28"),
    (np.random.default_rng(0).random((5, 3, 8, 8), dtype=np.float32), "but B holds 3x8x8"),
    (np.full((5, 8, 8), -0.5, np.float32), "float images must lie in [0, 1]"),
    (np.full((5, 8, 8), "a"), "holds <U1 values; images must be numbers"),
    (np.zeros((127, 8, 8), np.uint8), "B holds 127 image(s), fewer than the 128 feature dimensions (FID's covariance "
                                      "would be rank-deficient); give at least 128 images per set"),
])
def test_score_rejects_mismatched_or_malformed_sets_in_one_line(tmp_path, heldout, b_images, message):
    torch.save(heldout, tmp_path / "a.pt")
    np.savez(tmp_path / "b.npz", b_images)
    result = run_cli("score", tmp_path / "a.pt", tmp_path / "b.npz", "--dataset", "digits")
    assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, result.output


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling with pickle.load would run `touch marker`
        return os.system, (f"touch {self.marker}",)


@pytest.mark.slow  # full scoring
def test_score_json_carries_kid_in_its_unit_and_an_interval_beside_each_headline_number(tmp_path, heldout):
    torch.save(heldout, tmp_path / "a.pt")
    torch.save((heldout + 0.2).clamp(0, 1), tmp_path / "b.pt")
    result = run_cli("score", tmp_path / "a.pt", tmp_path / "b.pt", "--dataset", "digits", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["kid_x1e3_ci95_low"] <= out["kid_x1e3"] <= out["kid_x1e3_ci95_high"]
            and out["bootstrap_resamples"] == 1000)
    assert out["features_source"] == "shipped" and len(out["weights_sha256"]) == 64
    assert out["bootstrap_resampled"] == "both sets"  # two sets a user drew: neither is pinned
    assert out["feature_sd"] == 1.2535148150181017  # the shipped digits evaluator's KID scale, stated
    for key in ("fid", "fid_inf", "precision", "recall", "density", "coverage"):
        assert f"{key}_ci95_low" in out and f"{key}_ci95_high" in out
    assert "classifier_score_ci95_low" not in out  # no bootstrap: no interval keys
    # --resamples: fewer resamples move the intervals and fid_inf (the value less the bootstrap's bias), never the
    # values
    fast = json.loads(run_cli("score", tmp_path / "a.pt", tmp_path / "b.pt", "--dataset", "digits", "--json",
                              "--quiet", *FAST).output)
    assert fast["bootstrap_resamples"] == 100 and fast["fid_ci95_low"] != out["fid_ci95_low"]
    assert fast["fid_inf"] != out["fid_inf"]
    assert all(fast[key] == out[key] for key in ("fid", "kid_x1e3", "precision", "recall", "density", "coverage"))
    assert "--resamples must be a whole number of at least 100, got 99" in one_line_error(
        run_cli("score", tmp_path / "a.pt", tmp_path / "b.pt", "--dataset", "digits", "--resamples", "99"))


@pytest.mark.parametrize("flags, message", [
    (["--eval-samples", "100"], "Error: --eval-samples 100 is below the 128 feature dimensions, where FID's covariance "
                                "is rank-deficient; give --eval-samples between 128 and 180"),
    (["--eval-samples", "200"],
     "Error: --eval-samples 200 is more than the 180 held-out images of the real-data floor"),
    (["--curve-samples", "150"], "Error: --curve-samples 150 differs from the 180 samples of the final evaluation"),
])
def test_run_refuses_an_n_that_cannot_be_compared_in_one_line_before_anything_is_written(tmp_path, flags, message):
    result = run_cli("run", "--dataset", "digits", "--budget", "2steps", "--out", tmp_path / "run", "--quiet", *flags)
    assert result.exit_code == 2 and result.output.startswith(message) and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "run").exists()


def test_evaluator_train_writes_a_new_file_and_prints_its_hash_and_accuracy(tmp_path, monkeypatch):
    from compare.metrics import evaluator

    monkeypatch.setattr(evaluator, "TRAIN_STEPS", 30)  # the command, not the recipe, is under test
    out = tmp_path / "digits.pt"
    result = run_cli("evaluator", "train", "digits", "--out", out)
    assert result.exit_code == 0, result.output
    saved = torch.load(out, weights_only=True)
    net = evaluator.DomainClassifier((1, 8, 8), 10)
    net.load_state_dict(saved["state"])
    sha = evaluator.weights_sha256(net)
    assert (f"weights sha256 {sha}" in result.output
            and f"held-out accuracy {saved['info']['heldout_accuracy']:.2%}" in result.output)
    assert ("SHIPPED_SHA256['digits']" in result.output
            and json.loads(out.with_suffix(".json").read_text())["weights_sha256"] == sha)
    before = out.read_bytes()
    result = run_cli("evaluator", "train", "digits", "--out", out)
    # never overwritten
    assert result.exit_code == 2 and "already exists" in result.output and out.read_bytes() == before


@pytest.mark.slow  # scores mnist5k twice, each time in an empty cache
def test_score_on_mnist5k_trains_nothing_and_gives_the_same_fid_whatever_the_thread_count(tmp_path, monkeypatch):
    data = load_dataset("mnist5k")
    torch.save(data.heldout, tmp_path / "a.pt")
    torch.save((data.train[:500] + 0.1).clamp(0, 1), tmp_path / "b.pt")
    fids = []
    for threads in (1, 2):
        cache = tmp_path / f"cache-{threads}"  # empty: a fresh install
        monkeypatch.setenv("COMPARE_CACHE_DIR", str(cache))
        torch.set_num_threads(threads)  # as OMP_NUM_THREADS sets it in a new process (conftest restores it)
        result = run_cli("score", tmp_path / "a.pt", tmp_path / "b.pt", "--json", *FAST)
        assert result.exit_code == 0 and "training" not in result.output, result.output
        out = json.loads(result.output[result.output.index("{"):])  # after the progress lines
        assert out["features_source"] == "shipped" and not (cache / "evaluators").exists()
        fids.append(out["fid"])
    # The features are bit-identical; the eigendecomposition's BLAS sums in another order with 2 threads
    # (~3e-9 relative).
    assert fids[0] > 0 and fids[0] == pytest.approx(fids[1], rel=1e-8)


@pytest.mark.parametrize("name, write, message", [
    ("code.pt", lambda path: torch.save({"images": _RunsCode(path.with_suffix(".ran"))}, path),
     "torch's safe loader refused it"),
    ("junk.pt", lambda path: path.write_bytes(b"junk"), "cannot read"),
    ("junk.npz", lambda path: path.write_bytes(b"junk"), "not a NumPy .npz file"),
    ("junk.npy", lambda path: path.write_bytes(b""), "not a NumPy .npy file"),
])
def test_score_says_in_one_line_that_a_file_cannot_be_read(tmp_path, heldout, name, write, message):
    torch.save(heldout, tmp_path / "a.pt")
    write(tmp_path / name)
    result = run_cli("score", tmp_path / "a.pt", tmp_path / name, "--dataset", "digits")
    assert result.exit_code == 2 and f"Error: cannot read {tmp_path / name}: " in result.output, result.output
    assert message in result.output and result.output.count("\n") == 1, result.output
    assert not (tmp_path / name).with_suffix(".ran").exists()  # nothing in the file was run


def test_score_with_missing_inception_stops_and_says_how_to_get_it(tmp_path, heldout):
    # 2,160 images: at least Inception's 2,048 feature dimensions
    torch.save(heldout.repeat(12, 1, 1, 1), tmp_path / "a.pt")
    result = run_cli("score", tmp_path / "a.pt", tmp_path / "a.pt", "--features", "inception")
    assert result.exit_code == 2 and "pip install torch-fidelity" in result.output and result.output.count("\n") == 1


def test_image_arrays_in_every_supported_layout_read_the_same():
    x = torch.rand(4, 1, 5, 6)
    u8 = (x * 255).round().to(torch.uint8)
    expected = u8.float() / 255
    for array in [u8, u8[:, 0], u8.permute(0, 2, 3, 1), u8.numpy(),
                  u8.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()]:
        assert torch.equal(to_images(array, "x"), expected)
    assert torch.equal(to_images(x, "x"), x)
    colour = torch.rand(2, 3, 4, 4)
    assert torch.equal(to_images(colour, "x"), colour)
    assert torch.equal(to_images(u8.numpy().astype(np.uint16), "x"), expected)  # any integer width holding 0..255
    for bad in [torch.rand(4, 2, 5, 5), torch.rand(5, 5), torch.full((2, 4, 4), 300),
                np.full((2, 4, 4), 70000, np.uint32), np.zeros((2, 4, 4), np.complex64),
                torch.zeros(2, 4, 4, dtype=torch.complex64), np.zeros((2, 4, 4), object)]:
        with pytest.raises(UserError):
            to_images(bad, "x")
    with pytest.raises(UserError, match="holds 2 NaN or infinite values"):
        to_images(torch.tensor([[[0.5, float("nan")], [float("inf"), 0.0]]]), "x")


def test_image_set_files_name_their_problem(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 4, 4)), b=np.zeros((2, 4, 4)))
    with pytest.raises(UserError, match="several arrays"):
        load_image_set(tmp_path / "two.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no image files .* under"):
        load_image_set(tmp_path / "empty")
    (tmp_path / "mixed" / "sub").mkdir(parents=True)  # read recursively, as folder: reads it
    Image.new("L", (4, 4)).save(tmp_path / "mixed" / "a.png")
    Image.new("L", (5, 4)).save(tmp_path / "mixed" / "sub" / "b.png")
    with pytest.raises(UserError, match="differ in size: a.png is 4x4, sub/b.png is 5x4"):
        load_image_set(tmp_path / "mixed")
    (tmp_path / "mixed" / "sub" / "b.png").write_bytes(b"junk")
    with pytest.raises(UserError, match=f"^cannot read {re.escape(str(tmp_path / 'mixed' / 'sub' / 'b.png'))}: "):
        load_image_set(tmp_path / "mixed")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(UserError, match="give a folder of images"):
        load_image_set(tmp_path / "x.txt")
