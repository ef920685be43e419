"""The public Python API (compare.api), `compare sample` and `compare export`: typed results read from the run's
files, exact round trips (a run's draw, sample -> score, export -> fresh model), one-line refusals that
change nothing."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import compare
from compare.data.imagesets import load_image_set
from compare.io import CONTENT_FIELD
from compare.sample import sample_views
from compare.sample.files import to_uint8
from compare.models import parse_model_specs
from helpers import FAST, FAST_FIELDS, ROOT, SETTINGS, SETTINGS_FIELDS, one_line_error, run_cli, snapshot

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)

PUBLIC = ["Budget", "DATASETS", "DataOptions", "GenerativeModel", "ImageDataset", "MODELS", "ModelResult", "ModelSpec",
          "Numbers", "RunResult", "RunSettings", "Scores", "StudyResult", "StudySettings", "SweepResult",
          "SweepSettings", "UserError", "Value", "ViewResult", "draw_samples", "export", "judge_claims", "load_dataset",
          "load_model", "parse_model_specs", "register_dataset", "register_model", "run", "score", "study", "sweep"]
# helpers.SETTINGS as compare.run's keywords
@pytest.mark.slow  # fresh interpreters
def test_public_names_are_pinned_and_load_lazily():
    assert compare.__all__ == PUBLIC
    assert set(PUBLIC) <= set(dir(compare))
    code = ("import sys, compare; assert 'torch' not in sys.modules; assert callable(compare.sweep); assert 'torch' in "
            "sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ)
    from compare.cli.artifacts import FORMATS
    from compare.train.export import FORMATS as EXPORTED

    assert FORMATS == EXPORTED


@pytest.mark.slow  # a second training run
def test_run_is_the_command_and_equals_its_directory_read_back(tiny_run, tmp_path):
    result = compare.run(models=["gan", "vae"], seed=0, out=tmp_path / "run", **SETTINGS_FIELDS)
    assert result == compare.RunResult.load(tmp_path / "run")
    cli = compare.RunResult.load(tiny_run)  # `compare run` with the same settings
    assert result.config["settings"] == cli.config["settings"]
    assert result.metrics["quality"] == cli.metrics["quality"] and result.models == cli.models
    for view in ("gan", "vae-mean", "vae-pixels"):  # byte for byte: the kept samples carry no time stamp
        assert ((tmp_path / "run" / f"samples_{view}.npz").read_bytes()
                == (tiny_run / f"samples_{view}.npz").read_bytes())

    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    fid = saved["quality"]["views"]["gan"]["fid"]
    assert result.models["gan"].quality.fid == fid["values"]["fid"]
    assert result.models["gan"].quality.fid.ci95 == tuple(fid["intervals"]["fid"]["ci95"])
    pixels = saved["continuity"]["views"]["vae-pixels"]
    assert (result.models["vae"].views["vae-pixels"].continuity.specks_per_image.ci95
            == tuple(pixels["specks_per_image_ci95"]))
    # the first view is the judged one
    assert result.models["vae"].quality == result.models["vae"].views["vae-mean"].quality
    assert result.models["gan"].quality.classifier_score.ci95 is None
    assert result.floor.quality.fid == saved["quality"]["floor"]["fid"]["values"]["fid"]
    assert result.models["vae"].likelihood.iwae_nll_nats == saved["likelihood"]["vae"]["iwae_nll_nats"]
    with pytest.raises(AttributeError, match="did you mean 'fid'"):
        result.models["gan"].quality.fdi


def test_values_are_floats_that_compare_with_their_interval():
    a, b = compare.Value(1.5, (1.0, 2.0)), compare.Value(1.5, (1.0, 3.0))
    assert a == 1.5 and a != b and a + 1 == 2.5 and f"{a:.1f}" == "1.5"
    # printed as the tables show it, every digit in repr
    fid = compare.Value(81.792309605468, (80.2611, 83.3012))
    assert str(fid) == f"{fid}" == "81.8 [80.3, 83.3]" and repr(fid) == "81.792309605468 [80.2611, 83.3012]"
    assert str(compare.Value(12345.0)) == "12,345"


@pytest.mark.parametrize("call, message", [
    (lambda: compare.run(models=["gan"], batchsize=32), "no option 'batchsize' (did you mean 'batch_size'?)"),
    (lambda: compare.run(models=["gna"]), "unknown model 'gna' (did you mean 'gan'?)"),
    (lambda: compare.sweep(models=["gan"], qualty="fid"), "did you mean 'quality'?"),
])
def test_bad_api_arguments_raise_one_line_before_any_work(tmp_path, monkeypatch, call, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(compare.UserError, match=re.escape(message)):
        call()
    assert not list(tmp_path.iterdir())


def test_the_run_keeps_its_evaluation_draw_and_sample_reproduces_it(tiny_run, tmp_path):
    for view in ("gan", "vae-mean", "vae-pixels"):
        with np.load(tiny_run / f"samples_{view}.npz") as f:
            kept = f["images"]
        assert kept.dtype == np.uint8 and kept.shape == (180, 8, 8, 1)  # one per held-out digit, NHWC
        model = compare.load_model(tiny_run, "vae" if view.startswith("vae") else "gan")
        spec = parse_model_specs(["vae" if view.startswith("vae") else "gan"])[0]
        assert np.array_equal(to_uint8(sample_views(spec, model, 180, seed=0)[view]), kept)
        result = run_cli("sample", tiny_run, "--model", view, "-n", 180, "--out", tmp_path / f"{view}.npz")
        assert result.exit_code == 0, result.output
        with np.load(tmp_path / f"{view}.npz") as f:
            assert np.array_equal(f["images"], kept)


def test_sample_to_score_round_trip(tiny_run, tmp_path):
    for out in (tmp_path / "s.npz", tmp_path / "pngs"):
        assert run_cli("sample", tiny_run, "--model", "vae-pixels", "-n", 150, "--seed", 7, "--out", out).exit_code == 0
    from_npz, from_pngs = load_image_set(tmp_path / "s.npz"), load_image_set(tmp_path / "pngs")
    drawn = compare.draw_samples(tiny_run, "vae-pixels", 150, seed=7)
    assert torch.equal(from_npz, from_pngs) and torch.equal(from_npz, drawn)  # 0/1 pixels: 8 bits hold them exactly
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir())[:2] == ["000000.png", "000001.png"]
    result = run_cli("score", tmp_path / "s.npz", tmp_path / "pngs", "--dataset", "digits", "--json", "--quiet", *FAST)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["fid"] == pytest.approx(0, abs=1e-6)  # the same images, read two ways
    assert (report["precision"], report["recall"]) == (1.0, 1.0)
    scores = compare.score(tmp_path / "s.npz", tmp_path / "pngs", dataset="digits", **FAST_FIELDS)
    assert scores.quality.fid == report["fid"] and scores.quality.fid.ci95 == (report["fid_ci95_low"],
                                                                              report["fid_ci95_high"])


def test_sampled_files_read_back_exactly_through_score_and_folder(tiny_run, tmp_path):
    """Every 8-bit value `compare sample` writes is what `compare score` and `--dataset folder:` read back (vae-mean's
    grey levels: the 0/1 pixels of vae-pixels would hide a rounding slip)."""
    from compare.data import DataOptions, load_dataset

    npz, pngs = tmp_path / "s.npz", tmp_path / "pngs"
    for out in (npz, pngs):
        assert run_cli("sample", tiny_run, "--model", "vae-mean", "-n", 40, "--out", out).exit_code == 0
    with np.load(npz) as f:
        written = torch.from_numpy(f["images"]).permute(0, 3, 1, 2)  # (40, 1, 8, 8) uint8
    assert len(written.unique()) > 100
    expected = written.float() / 255
    assert torch.equal(load_image_set(npz), expected) and torch.equal(load_image_set(pngs), expected)
    data = load_dataset(f"folder:{pngs}", options=DataOptions(image_size=8, channels=1))  # 8: the run's size
    read = torch.cat([data.train, data.heldout])  # in split order, not file order: compared as sorted images
    assert sorted(x.numpy().tobytes() for x in read) == sorted(x.numpy().tobytes() for x in expected)


def test_sample_overwrite_replaces_only_its_own_earlier_output(tiny_run, tmp_path):
    out = tmp_path / "pngs"
    assert run_cli("sample", tiny_run, "--model", "gan", "-n", 5, "--out", out).exit_code == 0
    assert run_cli("sample", tiny_run, "--model", "gan", "-n", 3, "--out", out, "--overwrite").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "000001.png", "000002.png"]  # no stale images left
    (out / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    assert "notes.txt, which this command does not write" in one_line_error(
        run_cli("sample", tiny_run, "--model", "gan", "-n", 3, "--out", out, "--overwrite"))
    assert snapshot(tmp_path) == before


def test_export_safetensors_round_trip_gives_the_same_samples(tiny_run, tmp_path):
    from safetensors.torch import load_file

    from compare.train.export import model_from_export

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    result = run_cli("export", run, "--format", "safetensors")
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    for label in ("gan", "vae"):
        card = json.loads((run / "export-safetensors" / f"{label}.json").read_text())
        weights = run / "export-safetensors" / card["files"]["weights"]
        fresh = model_from_export(card, load_file(weights))
        trained = compare.load_model(run, label)
        for mode in ({"mode": "pixels"} if label == "vae" else {}, {}):
            same = [m.sample(64, generator=torch.Generator().manual_seed(3), **mode) for m in (fresh, trained)]
            assert torch.equal(*same)
        view = metrics["models"][label]["views"][0]
        fid = metrics["quality"]["views"][view]["fid"]
        assert card["metrics"][view]["quality"]["fid"] == {"value": fid["values"]["fid"],
                                                           "ci95": fid["intervals"]["fid"]["ci95"]}
        assert card["evaluator"]["weights_sha256"] == metrics["quality"]["extractor"]["weights_sha256"]
        assert card["budget"]["spec"] == "120steps" and card["config"]["width"] == 0.25
        assert set(load_file(weights)) == {f"{part}.{k}" for part, net in trained.parts().items()
                                           for k in net.state_dict()}
    # the export lives in the run: `compare run --overwrite` replaces both, as it replaces the run's other outputs
    result = run_cli("run", "--models", "gan", *SETTINGS, "--budget", "20steps", "--out", run, "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (run / "export-safetensors").exists()


def test_export_torchscript_runs_generate_without_the_package(tiny_run, tmp_path):
    out = tmp_path / "ts"
    assert run_cli("export", tiny_run, "--format", "torchscript", "--out", out).exit_code == 0
    for label in ("gan", "vae"):
        model = compare.load_model(tiny_run, label)
        # another batch size than traced
        z = torch.randn(7, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
        assert torch.equal(torch.jit.load(str(out / f"{label}.torchscript.pt"))(z), model.generate(z))


@pytest.mark.parametrize("args, message", [
    (["sample", "{tmp}/nowhere", "--model", "gan", "-n", "4", "--out", "{tmp}/s.npz"], "no such run directory"),
    (["sample", "{run}", "--model", "vea", "-n", "4", "--out", "{tmp}/s.npz"],
     "no model or view 'vea' (did you mean 'vae'?)"),
    (["sample", "{run}", "--model", "gan", "-n", "4", "--out", "{tmp}/taken.npz"], "taken.npz already exists"),
    (["export", "{tmp}/nowhere"], "no such run directory"),
    (["export", "{run}", "--out", "{tmp}/taken"], "taken already exists"),
    (["export", "{run}", "--out", "{tmp}/taken", "--overwrite"], "keep.txt, which this command does not write"),
])
def test_bad_inputs_are_one_line_and_change_nothing(tiny_run, tmp_path, args, message):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (tmp_path / "taken.npz").write_bytes(b"someone's file")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("someone's file")
    before = snapshot(tmp_path)
    error = one_line_error(run_cli(*[a.format(tmp=tmp_path, run=run) for a in args]))
    assert message in error
    assert snapshot(tmp_path) == before


def test_an_unfinished_run_is_refused(interrupted_run):
    before = snapshot(interrupted_run)
    for args in (["sample", interrupted_run, "--model", "faulty", "-n", "4", "--out", interrupted_run / "s.npz"],
                 ["export", interrupted_run]):
        assert "is unfinished" in one_line_error(run_cli(*args))
    with pytest.raises(compare.UserError, match="faulty in .* is unfinished"):
        compare.load_model(interrupted_run, "faulty")
    assert snapshot(interrupted_run) == before


def test_a_run_extended_but_not_yet_trained_to_its_new_budget_is_refused(tiny_run, tmp_path):
    """What the pipeline calls unfinished, the API does too: a run whose config asks for more steps than its
    metrics.json reached (an extension killed while training) is not read as if done."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    del config[CONTENT_FIELD]  # an edit on purpose (the hash would refuse any other)
    config["budget"]["steps"]["gan"] *= 2
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(compare.UserError, match=r"is unfinished .*compare run --resume"):
        compare.RunResult.load(run)


def test_judge_claims_pairs_runs_by_seed(tiny_run):
    verdicts = compare.judge_claims([tiny_run])
    assert verdicts["claim 1"].verdict == "not decided" and verdicts["claim 3"].verdict == "not measured"
    with pytest.raises(compare.UserError, match="two runs share seed 0"):
        compare.judge_claims([tiny_run, tiny_run])


@pytest.mark.slow  # trains and scores
@pytest.mark.parametrize("page, section, printed", [("docs/reference.md", "## Python API", ("GAN FID", "not decided")),
                                                     ("README.md", "## Your own model",
                                                      (r"\nGAN FID \d+\.?\d* \[\d+\.?\d*, \d+\.?\d*\]\n",))])
def test_python_api_examples_run_as_written(tmp_path, monkeypatch, capsys, page, section, printed):
    """Run in this interpreter (a fresh one would add seconds of imports), in an empty folder, with its own globals;
    only its figures are unrendered (quick_figures), which it never reads."""
    text = (ROOT / page).read_text()
    code = re.search(r"```python\n(.*?)```", text[text.index(section):], re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page} {section}", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert all(re.search(pattern, "\n" + out) for pattern in printed), out


@pytest.mark.slow  # one trial and the sweep's plots
def test_sweep_is_the_command_and_returns_its_sweep_json(tmp_path):
    result = compare.sweep(models=["gan"], widths=[0.25], seeds=1, dataset="digits", budget="20steps", batch_size=32,
                           out=tmp_path / "sweep", **FAST_FIELDS)
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert result.out.resolve() == (tmp_path / "sweep").resolve()
    assert result.claim2 == saved["claim_b"] and result.summary["counts"]["done"] == 1
    assert (tmp_path / "sweep" / "trials" / result.summary["trials"][0]["id"] / "metrics.json").is_file()
