"""`compare` end to end on the tiny digits set, through click's CliRunner."""

import json

import pytest
import torch

from helpers import FAST, SETTINGS, run_cli, tiny_options

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)

TINY = tiny_options(30, "--quiet")


def test_run_writes_every_output(tiny_run):  # the session's shared run: helpers.SETTINGS
    for name in ["config.json", "metrics.json", "side_by_side.png", "samples_gan.png",
                 "samples_vae-mean.png", "samples_vae-pixels.png", "gan/ckpt.pt", "vae/ckpt.pt"]:
        assert (tiny_run / name).stat().st_size > 0, name
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["budget"]["spec"] == "120steps" and config["budget"]["steps"] == {"gan": 120, "vae": 120}
    assert config["device"]["type"] == "cpu" and config["versions"]["torch"] == torch.__version__
    metrics = json.loads((tiny_run / "metrics.json").read_text())["models"]
    assert set(metrics) == {"gan", "vae"}
    for label, m in metrics.items():
        assert m["steps"] == 120 and m["images_seen"] == 120 * 32 and m["train_seconds"] > 0
        assert m["parameters"]["total"] == sum(v for k, v in m["parameters"].items() if k != "total")
    assert set(metrics["gan"]["parameters"]) == {"generator", "discriminator", "total"}
    assert set(metrics["vae"]["final_losses"]) == {"loss", "recon", "kl"}
    assert metrics["vae"]["views"] == ["vae-mean", "vae-pixels", "vae-gmm"]


def test_checkpoint_loads_with_weights_only(tiny_run):
    ckpt = torch.load(tiny_run / "gan" / "ckpt.pt", weights_only=True)
    assert ckpt["steps"] == 120 and "generator" in ckpt["state"]


@pytest.mark.slow  # a real run (training, evaluation, pictures)
@pytest.mark.parametrize("spelling", [["gan", "vae"], ["gan,vae"], ["vae"], ["gan", "gan:minimax"]])
def test_models_spellings(spelling, tmp_path):
    result = run_cli("run", "--models", *spelling, *TINY, *FAST, "--curve-points", "1", "--budget", "2steps", "--out",
                     str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    labels = [w for s in spelling for w in s.split(",")]
    assert list(json.loads((tmp_path / "r" / "metrics.json").read_text())["models"]) == labels


@pytest.mark.parametrize("args, message", [
    (["--models", "gan", "diffusion"], "unknown model 'diffusion'; choose from: gan, vae"),
    (["--models", "gan:hinged"], "unknown variant 'gan:hinged'"),
    (["--models", "gan", "gan"], "listed twice"),
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'; choose one of: mnist5k, digits"),
    (["--budget", "3000"], "budget '3000' has no unit: did you mean 3000steps?"),
    (["--budget", "fast"], "malformed budget 'fast'"),
    (["--budget", "0steps"], "budget must be positive"),
    (["--batch-size", "0"], "--batch-size must be positive"),
    (["--batch-size", "5000"], "larger than the training split"),
    (["--seed", "abc"], "'abc' is not a valid integer"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    out = tmp_path / "r"
    result = run_cli("run", *TINY, *args, "--out", str(out))
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_existing_run_directory_is_never_overwritten(tiny_run):
    before = (tiny_run / "metrics.json").read_bytes()
    result = run_cli("run", *TINY, "--out", str(tiny_run))
    assert result.exit_code == 2 and "already exists" in result.output
    assert (tiny_run / "metrics.json").read_bytes() == before


def test_same_seed_gives_bit_identical_samples_and_another_seed_does_not(tiny_run, tmp_path):
    again = tmp_path / "again"
    assert run_cli("run", "--models", "gan", "vae", *SETTINGS, "--out", str(again)).exit_code == 0
    for png in ["samples_gan.png", "samples_vae-mean.png", "samples_vae-pixels.png"]:
        assert (again / png).read_bytes() == (tiny_run / png).read_bytes(), png
    other = tmp_path / "other"
    assert run_cli("run", "--models", "gan", *SETTINGS, "--seed", "1", "--out", str(other)).exit_code == 0
    assert (other / "samples_gan.png").read_bytes() != (tiny_run / "samples_gan.png").read_bytes()


def test_listings_name_every_registered_thing():
    models = run_cli("models")
    assert models.exit_code == 0 and models.output.startswith("gan") and "\nvae" in models.output
    assert "gan:minimax" in models.output
    datasets = run_cli("datasets")
    assert datasets.exit_code == 0 and {line.split()[0] for line in datasets.output.splitlines()} == {
        "mnist5k", "digits", "mnist", "fashion-mnist", "cifar10", "celeba", "folder:PATH"}


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_run_with_sgd_records_the_optimizer_and_its_rate_in_config_and_report(tmp_path):
    result = run_cli("run", "--models", "gan", "vae", *TINY, *FAST, "--curve-points", "1", "--budget", "2steps",
                     "--optimizer", "sgd", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    models = json.loads((tmp_path / "r" / "config.json").read_text())["models"]
    assert ({label: (m["optimizer"], m["lr"]) for label, m in models.items()}
            == {"gan": ("sgd", 0.05), "vae": ("sgd", 0.01)})
    assert "gan: sgd lr 0.05; vae: sgd lr 0.01" in (tmp_path / "r" / "report.md").read_text()


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_sweep_with_sgd_trains_every_trial_with_it_and_names_it_in_the_trial_ids(tmp_path):
    out = tmp_path / "s"
    result = run_cli("sweep", "--models", "gan", "--widths", "1", "--seeds", "1", *TINY[:-1], "--budget", "2steps",
                     "--optimizer", "sgd", *FAST, "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["settings"]["optimizer"] == "sgd" and [r["id"] for r in summary["trials"]] == ["gan-sgd-w1-s0"]
    assert (json.loads((out / "trials" / "gan-sgd-w1-s0" / "config.json").read_text())["models"]["gan"]["optimizer"]
            == "sgd")


@pytest.mark.parametrize("command", [["run"], ["sweep"], ["study"]])
def test_an_unknown_optimizer_is_one_line_naming_the_valid_ones(command, tmp_path):
    result = run_cli(*command, "--optimizer", "rmsprop", "--dataset", "digits", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert "'rmsprop' is not one of 'adam', 'sgd'" in result.output and not (tmp_path / "x").exists()


def test_a_bad_claim3_optimizer_list_is_one_line(tmp_path):
    result = run_cli("study", "--claim3-optimizers", "adam,rmsprop", "--dataset", "digits", "--out",
                     str(tmp_path / "x"))
    assert result.exit_code == 2 and result.output.strip() == (
        "Error: malformed --claim3-optimizers 'adam,rmsprop': give one or more of adam, sgd, separated by commas")
    assert not (tmp_path / "x").exists()
