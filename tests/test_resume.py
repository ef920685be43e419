"""Runs that stop and continue: divergence kept to its last good checkpoint, signals, kill -9 and resume.

Every interrupted run is resumed and compared with the shared uninterrupted one (conftest.tiny_run):
on the CPU the weights, loss histories and sample grids must be bit-identical.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import compare.experiments.pipeline as runner
import compare.train as train_stage
import compare.train.loop as train_loop
from compare.train.checkpoint import COLLAPSE_TOLERANCE, load_checkpoint, unhealthy
from compare.data import batches, load_dataset
from compare.rundir import EXIT_DIVERGED, LOCK_NAME
from compare.models import parse_model_specs
from helpers import ROOT, SETTINGS, assert_same_run, run_cli, same_state, snapshot

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)


# -- divergence ---------------------------------------------------------------------------------

def test_nan_loss_stops_that_model_keeps_its_last_good_checkpoint_and_others_finish(faulty, tiny_run, tmp_path):
    faulty("nan", at=30)
    out = tmp_path / "run"
    result = run_cli("run", "--models", "faulty", "vae", *SETTINGS, "--out", out)
    assert result.exit_code == EXIT_DIVERGED, result.output
    assert "faulty diverged" in result.output
    metrics = json.loads((out / "metrics.json").read_text())["models"]
    # NaN enters at step 30; losses are read at checkpoints (every 20), every LOG_EVERY steps and at
    # the quality-curve points (every 15 of 120 steps), so the reading at step 30 sees it
    assert metrics["faulty"]["status"] == "diverged" and metrics["faulty"]["diverged_at_step"] == 30
    assert "diverged at step 30" in metrics["faulty"]["failure"] and "is nan" in metrics["faulty"]["failure"]
    assert metrics["faulty"]["steps"] == 20  # the kept checkpoint
    assert metrics["vae"]["status"] == "finished" and metrics["vae"]["steps"] == 120
    ckpt = load_checkpoint(out / "faulty" / "ckpt.pt")
    assert ckpt["status"] == "diverged" and ckpt["steps"] == 20 and ckpt["diverged"]["step"] == 30
    assert all(torch.isfinite(t).all() for t in ckpt["state"]["generator"].values())
    # the kept weights are the healthy run's at step 20: train a plain GAN 20 steps to compare
    gan = parse_model_specs(["gan"])[0].build((1, 8, 8), "cpu", 0, width=0.25)
    train_loop.train(gan, load_dataset("digits").train, 20, 32, 0)
    assert same_state(ckpt["state"]["generator"], gan.generator.state_dict())
    assert (out / "samples_faulty.png").exists()
    assert (out / "samples_vae-mean.png").read_bytes() == (tiny_run / "samples_vae-mean.png").read_bytes()

    # a resume leaves the diverged model as it is and still reports the failure
    before = (out / "faulty" / "ckpt.pt").read_bytes()
    again = run_cli("run", "--resume", out, "--quiet")
    assert again.exit_code == EXIT_DIVERGED, again.output
    assert (out / "faulty" / "ckpt.pt").read_bytes() == before


@pytest.mark.parametrize("fault, at, reason",
                         [("collapse", 1, "collapsed generator: 16 samples from different noise are identical"),
                          ("weights", 20, "non-finite weights in the generator")])
@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_unhealthy_model_with_finite_losses_is_caught_at_a_checkpoint(faulty, tmp_path, fault, at, reason):
    faulty(fault, at)
    out = tmp_path / "run"
    result = run_cli("run", "--models", "faulty", *SETTINGS, "--out", out)
    assert result.exit_code == EXIT_DIVERGED, result.output
    m = json.loads((out / "metrics.json").read_text())["models"]["faulty"]
    assert m["diverged_at_step"] == 20 and reason in m["failure"] and m["steps"] == 0
    assert load_checkpoint(out / "faulty" / "ckpt.pt")["steps"] == 0


def test_collapse_check_tolerates_healthy_models():
    gan = parse_model_specs(["gan"])[0].build((1, 8, 8), "cpu", 0)
    assert unhealthy(gan) is None
    images = gan.sample(16, torch.Generator().manual_seed(0))
    assert float((images.amax(0) - images.amin(0)).max()) > 20 * COLLAPSE_TOLERANCE


# -- interrupts and resume ----------------------------------------------------------------------

def test_finished_models_are_not_retrained(tiny_run, tmp_path, monkeypatch):

    out = tmp_path / tiny_run.name  # the same name: metrics.json records it
    shutil.copytree(tiny_run, out)
    before = snapshot(out)
    monkeypatch.setattr(train_stage, "train", lambda *a, **k: pytest.fail("a finished model was retrained"))
    result = run_cli("run", "--resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "is finished" in result.output  # and nothing to do: tests/test_extend.py
    assert snapshot(out) == before  # checkpoints, grids, metrics.json and config.json byte for byte


def test_sigint_saves_a_resumable_checkpoint_and_partial_metrics(faulty, tiny_run, tmp_path):
    faulty("sigint", at=37)
    out = tmp_path / "run"
    handler = signal.getsignal(signal.SIGINT)
    result = run_cli("run", "--models", "faulty", "vae", *SETTINGS, "--out", out)
    assert result.exit_code == 128 + signal.SIGINT, result.output
    assert "SIGINT at step 37 of 'faulty'" in result.output and f"compare run --resume {out}" in result.output
    ckpt = load_checkpoint(out / "faulty" / "ckpt.pt")
    assert ckpt["status"] == "training" and ckpt["steps"] == 37
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] == {"signal": signal.SIGINT, "model": "faulty", "step": 37}
    assert metrics["models"]["faulty"]["status"] == "interrupted" and metrics["models"]["vae"] == {"status": "pending"}
    assert not (out / LOCK_NAME).exists() and signal.getsignal(signal.SIGINT) is handler

    resumed = run_cli("run", "--resume", out, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(out, tiny_run, gan_label="faulty")  # FaultyGAN without its fault is the GAN


def test_a_signal_during_evaluation_stops_at_once_and_the_resume_evaluates(tiny_run, tmp_path, monkeypatch):
    evaluate = runner.evaluate

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # training is over: nothing should wait for the slow evaluation
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate", interrupted)
    out = tmp_path / "run"
    result = run_cli("run", "--models", "gan", "vae", *SETTINGS, "--out", out)
    assert result.exit_code == 128 + signal.SIGINT, result.output
    assert "SIGINT during evaluation" in result.output and f"compare run --resume {out}" in result.output
    assert not (out / "metrics.json").exists() and not (out / LOCK_NAME).exists()
    monkeypatch.setattr(runner, "evaluate", evaluate)
    monkeypatch.setattr(train_stage, "train", lambda *a, **k: pytest.fail("a finished model was retrained"))
    assert run_cli("run", "--resume", out, "--quiet").exit_code == 0
    assert_same_run(out, tiny_run)
    assert (json.loads((out / "metrics.json").read_text())["quality"]
            == json.loads((tiny_run / "metrics.json").read_text())["quality"])


def wait_for_checkpoint(out: Path, proc: subprocess.Popen, label: str = "gan") -> None:
    """Wait until `label` has a checkpoint past step 0 (the file is replaced: its inode changes)."""
    path, first = out / label / "ckpt.pt", None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            inode = path.stat().st_ino
        except FileNotFoundError:
            inode = None
        if first is None:
            first = inode
        elif inode != first:
            return
        time.sleep(0.01)
    pytest.fail(f"no checkpoint past step 0 appeared (exit code {proc.poll()})")


def start_run(out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "compare", "run", "--models", "gan", "vae", *SETTINGS, "--checkpoint-every", "10",
            "--out", str(out)]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_9_mid_training_then_resume_equals_an_uninterrupted_run(tiny_run, tmp_path):
    out = tmp_path / "run"
    proc = start_run(out)
    wait_for_checkpoint(out, proc)
    proc.kill()  # SIGKILL: no handler runs, nothing is flushed
    assert proc.wait() == -signal.SIGKILL
    ckpt = load_checkpoint(out / "gan" / "ckpt.pt")
    assert ckpt["status"] == "training" and 0 < ckpt["steps"] < 120, ckpt["steps"]
    resumed = run_cli("run", "--resume", out, "--quiet")  # takes over the dead process's lock file
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(out, tiny_run)


@pytest.mark.slow
def test_sigterm_exits_143_with_a_resumable_run(tiny_run, tmp_path):
    out = tmp_path / "run"
    proc = start_run(out)
    wait_for_checkpoint(out, proc)
    proc.terminate()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert f"continue with: compare run --resume {out}" in stderr and "Traceback" not in stderr
    assert json.loads((out / "metrics.json").read_text())["interrupted"]["signal"] == signal.SIGTERM
    assert run_cli("run", "--resume", out, "--quiet").exit_code == 0
    assert_same_run(out, tiny_run)


@pytest.mark.parametrize("skip", [0, 1, 3, 4, 7, 12])
def test_batches_resumed_at_any_step_continue_the_same_order(skip):
    """What makes a mid-epoch resume exact: skipping k batches gives batch k of an unbroken stream."""
    images = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1)  # 3 batches of 3 an epoch
    unbroken = [b.flatten().tolist() for _, b in zip(range(15), batches(images, 3, torch.Generator().manual_seed(4)))]
    resumed = [b.flatten().tolist()
               for _, b in zip(range(15 - skip), batches(images, 3, torch.Generator().manual_seed(4), skip=skip))]
    assert resumed == unbroken[skip:]
