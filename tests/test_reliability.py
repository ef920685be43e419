"""Fault injection: kills, signals, NaNs, collapsed generators, tampered checkpoints, full disks, bad input.

Every interrupted run is resumed and compared with an uninterrupted one of the same seed: on the
CPU the weights, loss histories and sample grids must be bit-identical.
"""

import fcntl
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import compare.io
import compare.models as models_registry
import compare.pipeline as runner
import compare.train as train_stage
import compare.train.loop as train_loop
from compare.train.checkpoint import CHECKPOINT_FORMAT, COLLAPSE_TOLERANCE, load_checkpoint, save_checkpoint, unhealthy
from compare.cli import main
from compare.data import batches, load_dataset
from compare.errors import UserError
from compare.train.guard import EXIT_DIVERGED, LOCK_NAME
from compare.io import CONTENT_FIELD
from compare.models import ModelEntry, parse_model_specs
from gan import GAN, GANConfig

ROOT = Path(__file__).resolve().parents[1]
# 120 steps of 32 on 1,617 training digits: 50 steps an epoch, so a resume at step 20, 40 or 60
# lands mid-epoch and the run crosses two epoch boundaries after it.
SETTINGS = ["--dataset", "digits", "--budget", "120steps", "--batch-size", "32", "--width", "0.25",
            "--checkpoint-every", "20", "--quiet"]
PNGS = ["samples_gan.png", "samples_vae-mean.png", "samples_vae-pixels.png"]


def run_cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output, result.output
    return result.output


def same_state(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    return a == b


def assert_same_run(run: Path, reference: Path, gan_label: str = "gan") -> None:
    """Bit-identical weights, optimiser and RNG states, loss histories and sample grids."""
    for label, ref_label in [(gan_label, "gan"), ("vae", "vae")]:
        got, want = load_checkpoint(run / label / "ckpt.pt"), load_checkpoint(reference / ref_label / "ckpt.pt")
        assert got["status"] == want["status"] == "finished" and got["steps"] == want["steps"]
        assert same_state(got["state"], want["state"]), label
        assert got["history"] == want["history"], label
    for png in PNGS:
        assert (run / png.replace("gan", gan_label)).read_bytes() == (reference / png).read_bytes(), png


def snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: what every interrupted-then-resumed run must equal."""
    out = tmp_path_factory.mktemp("ref") / "run"
    result = run_cli("run", "--models", "gan", "vae", *SETTINGS, "--out", out)
    assert result.exit_code == 0, result.output
    return out


# -- test-only models: a GAN that meets a fault at a chosen step --------------------------------

class FaultyGAN(GAN):
    """The registry's GAN, plus one injected fault at step `at` (counted per instance)."""

    fault = "nan"
    at = 30

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.step = 0

    def train_step(self, batch):
        self.step += 1
        if self.step == self.at and self.fault == "nan":
            batch = torch.full_like(batch, float("nan"))  # poisons the losses, then the weights
        if self.step == self.at and self.fault == "sigint" and not FaultyGAN.fired:
            FaultyGAN.fired = True
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered mid-step
        losses = super().train_step(batch)
        if self.step == self.at and self.fault == "weights":  # after the losses: they stay finite
            with torch.no_grad():
                next(self.generator.parameters()).view(-1)[0] = float("inf")
        return losses

    def sample(self, n, generator=None):
        if self.fault == "collapse":  # every noise vector gives the first one's image
            return super().sample(1, generator).expand(n, -1, -1, -1)
        return super().sample(n, generator)


@pytest.fixture
def faulty(monkeypatch):
    """Registers `faulty` (FaultyGAN) and returns a setter for its fault."""
    monkeypatch.setitem(models_registry.MODELS, "faulty", ModelEntry("test-only GAN with an injected fault", GANConfig, FaultyGAN, "generator"))
    monkeypatch.setattr(FaultyGAN, "fired", False, raising=False)

    def set_fault(kind: str, at: int = 30) -> None:
        monkeypatch.setattr(FaultyGAN, "fault", kind)
        monkeypatch.setattr(FaultyGAN, "at", at)

    return set_fault


# -- divergence ---------------------------------------------------------------------------------

def test_nan_loss_stops_that_model_keeps_its_last_good_checkpoint_and_others_finish(faulty, reference, tmp_path):
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
    assert (out / "samples_vae-mean.png").read_bytes() == (reference / "samples_vae-mean.png").read_bytes()

    # a resume leaves the diverged model as it is and still reports the failure
    before = (out / "faulty" / "ckpt.pt").read_bytes()
    again = run_cli("run", "--resume", out, "--quiet")
    assert again.exit_code == EXIT_DIVERGED, again.output
    assert (out / "faulty" / "ckpt.pt").read_bytes() == before


@pytest.mark.parametrize("fault, at, reason", [("collapse", 1, "collapsed generator: 16 samples from different noise are identical"),
                                               ("weights", 20, "non-finite weights in the generator")])
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

def test_finished_models_are_not_retrained(reference, tmp_path, monkeypatch):
    import shutil

    out = tmp_path / "run"  # the same name: metrics.json records it
    shutil.copytree(reference, out)
    before = snapshot(out)
    monkeypatch.setattr(train_stage, "train", lambda *a, **k: pytest.fail("a finished model was retrained"))
    result = run_cli("run", "--resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    after = snapshot(out)
    assert after.pop("config.json") != before.pop("config.json")  # records the resume
    assert after == before  # checkpoints, grids and metrics.json byte for byte


def test_sigint_saves_a_resumable_checkpoint_and_partial_metrics(faulty, reference, tmp_path):
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
    assert_same_run(out, reference, gan_label="faulty")  # FaultyGAN without its fault is the GAN


def test_a_signal_during_evaluation_stops_at_once_and_the_resume_evaluates(reference, tmp_path, monkeypatch):
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
    assert_same_run(out, reference)
    assert json.loads((out / "metrics.json").read_text())["quality"] == json.loads((reference / "metrics.json").read_text())["quality"]


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
    args = [sys.executable, "-m", "compare", "run", "--models", "gan", "vae", *SETTINGS, "--checkpoint-every", "10", "--out", str(out)]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_9_mid_training_then_resume_equals_an_uninterrupted_run(reference, tmp_path):
    out = tmp_path / "run"
    proc = start_run(out)
    wait_for_checkpoint(out, proc)
    proc.kill()  # SIGKILL: no handler runs, nothing is flushed
    assert proc.wait() == -signal.SIGKILL
    ckpt = load_checkpoint(out / "gan" / "ckpt.pt")
    assert ckpt["status"] == "training" and 0 < ckpt["steps"] < 120, ckpt["steps"]
    resumed = run_cli("run", "--resume", out, "--quiet")  # takes over the dead process's lock file
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(out, reference)


@pytest.mark.slow
def test_sigterm_exits_143_with_a_resumable_run(reference, tmp_path):
    out = tmp_path / "run"
    proc = start_run(out)
    wait_for_checkpoint(out, proc)
    proc.terminate()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert f"continue with: compare run --resume {out}" in stderr and "Traceback" not in stderr
    assert json.loads((out / "metrics.json").read_text())["interrupted"]["signal"] == signal.SIGTERM
    assert run_cli("run", "--resume", out, "--quiet").exit_code == 0
    assert_same_run(out, reference)


# -- tampered and foreign checkpoints -----------------------------------------------------------

class CodePayload:
    """Unpickling this calls os.makedirs: what a tampered checkpoint could do with any callable."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


@pytest.fixture
def interrupted_run(faulty, tmp_path):
    faulty("sigint", at=5)
    out = tmp_path / "run"
    assert run_cli("run", "--models", "faulty", *SETTINGS, "--out", out).exit_code == 128 + signal.SIGINT
    return out


@pytest.mark.parametrize("how", ["torch.save", "pickle.dump"])
def test_checkpoint_carrying_code_is_refused_not_run(interrupted_run, tmp_path, how):
    marker = tmp_path / "pwned"
    payload = {"format": 1, "state": CodePayload(marker)}
    with open(interrupted_run / "faulty" / "ckpt.pt", "wb") as f:
        torch.save(payload, f) if how == "torch.save" else pickle.dump(payload, f)
    error = one_line_error(run_cli("run", "--resume", interrupted_run, "--quiet"))
    assert "refusing to load" in error and "nothing in it was run" in error
    if how == "torch.save":
        assert "it would call os.makedirs, which could run code" in error
    assert not marker.exists()


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(b"not a checkpoint"), "it is not plain data (damaged"),
    (lambda p: p.write_bytes(p.read_bytes()[:1000]), "is not a readable checkpoint"),
    (lambda p: torch.save({**torch.load(p, weights_only=True), "format": 99}, p), f"format 99, expected {CHECKPOINT_FORMAT}"),
    (lambda p: save_checkpoint(p, {**load_checkpoint(p), "run": {"seed": 5}}), "incompatible config (run."),
    (lambda p: save_checkpoint(p, {**load_checkpoint(p), "state": {"generator": {}}}), "does not fit this model (RuntimeError: Error(s) in loading state_dict for Generator: Missing key"),
])
def test_damaged_or_foreign_checkpoint_is_one_line(interrupted_run, damage, message):
    damage(interrupted_run / "faulty" / "ckpt.pt")
    assert message in one_line_error(run_cli("run", "--resume", interrupted_run, "--quiet"))


def test_checkpoint_of_another_config_is_refused(faulty, interrupted_run, tmp_path):
    other = tmp_path / "other"
    FaultyGAN.fired = False
    run_cli("run", "--models", "faulty", *SETTINGS, "--width", "0.5", "--out", other)
    (interrupted_run / "faulty" / "ckpt.pt").write_bytes((other / "faulty" / "ckpt.pt").read_bytes())
    error = one_line_error(run_cli("run", "--resume", interrupted_run, "--quiet"))
    assert "incompatible config (config.width is 0.5, this run has 0.25)" in error


def test_config_changed_since_the_run_is_refused(interrupted_run):
    path = interrupted_run / "config.json"
    config = json.loads(path.read_text())
    del config[CONTENT_FIELD]  # an edit on purpose (the hash would refuse any other)
    config["models"]["faulty"]["lr"] = 0.1  # as if the code's defaults changed
    path.write_text(json.dumps(config))
    assert "incompatible config (models.faulty.lr is 0.1" in one_line_error(run_cli("run", "--resume", interrupted_run, "--quiet"))


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried to allocate 262144000000 bytes"),
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 244.14 GiB"),
    MemoryError(),
])
def test_running_out_of_memory_is_one_line(error, monkeypatch, tmp_path):
    # Faked where a too-wide model first allocates (really allocating 262 GB could take a CI machine down).
    monkeypatch.setattr(runner, "plan", lambda *a: (_ for _ in ()).throw(error))
    message = one_line_error(run_cli("run", *SETTINGS, "--width", "1000", "--out", tmp_path / "r"))
    assert "out of memory for these networks and batches; lower --width" in message and not (tmp_path / "r").exists()


def test_other_runtime_errors_still_surface(monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "plan", lambda *a: (_ for _ in ()).throw(RuntimeError("a bug")))
    result = run_cli("run", *SETTINGS, "--out", tmp_path / "r")
    assert isinstance(result.exception, RuntimeError) and str(result.exception) == "a bug"  # not dressed up as memory


@pytest.mark.parametrize("field, value, message", [
    ("width", "abc", "width is 'abc'"),
    ("budget", {"amount": 5, "unit": "parsecs"}, "malformed budget '5.0parsecs'"),
])
def test_hand_edited_settings_are_refused_on_resume(interrupted_run, field, value, message):
    path = interrupted_run / "config.json"
    config = json.loads(path.read_text())
    del config[CONTENT_FIELD]  # an edit on purpose (the hash would refuse any other)
    config["settings"][field] = value
    path.write_text(json.dumps(config))
    error = one_line_error(run_cli("run", "--resume", interrupted_run, "--quiet"))
    assert "the settings in its config.json are damaged" in error and message in error


def test_report_on_what_is_not_a_run_or_to_an_unwritable_place_is_one_line(reference, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "afile is not a run directory" in one_line_error(run_cli("report", afile))
    damaged = tmp_path / "damaged"
    shutil.copytree(reference, damaged)
    (damaged / "metrics.json").write_text('{"models": 5}')  # valid JSON, not the layout a run writes
    assert "metrics.json does not have the layout the toolkit writes (field models is 5" in one_line_error(run_cli("report", damaged))
    assert "metrics.json does not have the layout" in one_line_error(run_cli("evaluate", damaged, "--quiet"))
    (tmp_path / "taken.html").mkdir()
    assert f"Is a directory: {tmp_path / 'taken.html'}" in one_line_error(run_cli("report", reference, "--out", tmp_path / "taken.html"))
    assert "No such file or directory: /proc/no/report.html" in one_line_error(run_cli("report", reference, "--out", "/proc/no/report.html"))


# -- output safety ------------------------------------------------------------------------------

def test_resume_flags_must_agree_with_the_run(interrupted_run):
    for flag, value, shown in [("--budget", "200steps", "200steps"), ("--seed", "3", "3"), ("--models", "vae", "vae"),
                               ("--width", "2", "2.0"), ("--out", "/elsewhere", "/elsewhere")]:
        assert f"--{flag.lstrip('-')} {shown} conflicts" in one_line_error(
            run_cli("run", "--resume", interrupted_run, flag, value, "--quiet")), flag
    # flags equal to the run's, and --checkpoint-every (which changes no result), are fine
    FaultyGAN.fired = True
    ok = run_cli("run", "--resume", interrupted_run, "--seed", "0", "--dataset", "digits", "--checkpoint-every", "7", "--quiet")
    assert ok.exit_code == 0, ok.output


def test_a_second_writer_is_locked_out_and_a_stale_lock_is_taken_over(interrupted_run):
    # Another process's lock, as RunLock takes it (within one process a nested RunLock is a no-op)
    fd = os.open(interrupted_run / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242\n")
        error = one_line_error(run_cli("run", "--resume", interrupted_run, "--quiet"))
        assert "is in use by process 4242" in error
    finally:
        os.close(fd)
    (interrupted_run / LOCK_NAME).write_text("999999999\n")  # left by a process that died
    FaultyGAN.fired = True
    assert run_cli("run", "--resume", interrupted_run, "--quiet").exit_code == 0
    assert not (interrupted_run / LOCK_NAME).exists()


def test_overwrite_replaces_a_run_but_never_another_directory(reference, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    (run / "samples_old.png").write_text("from the old run")  # a name the toolkit writes: replaced with the run
    assert "already exists" in one_line_error(run_cli("run", "--models", "gan", *SETTINGS, "--out", run))
    assert (run / "samples_old.png").exists()
    result = run_cli("run", "--models", "gan", *SETTINGS, "--budget", "20steps", "--out", run, "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (run / "samples_old.png").exists() and not (run / "vae").exists()
    assert json.loads((run / "metrics.json").read_text())["models"]["gan"]["steps"] == 20

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("precious")
    assert "not a run directory" in one_line_error(run_cli("run", *SETTINGS, "--out", notes, "--overwrite"))
    assert (notes / "thesis.tex").read_text() == "precious"


def test_full_disk_is_one_line_keeps_earlier_files_and_the_run_resumes(reference, tmp_path, monkeypatch):
    real_fsync, calls = os.fsync, []

    def fsync(fd):  # the 5th file write finds the disk full: the run's marker, config.json, ckpt at step 0 and 20 went through
        calls.append(fd)
        if len(calls) >= 5:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    out = tmp_path / "run"
    monkeypatch.setattr(compare.io.os, "fsync", fsync)
    error = one_line_error(run_cli("run", "--models", "gan", "vae", *SETTINGS, "--out", out))
    assert "No space left on device" in error and f"compare run --resume {out}" in error
    monkeypatch.setattr(compare.io.os, "fsync", real_fsync)
    assert load_checkpoint(out / "gan" / "ckpt.pt")["steps"] == 20
    assert json.loads((out / "config.json").read_text())["seed"] == 0
    assert not list(out.rglob("*.tmp")) and not (out / LOCK_NAME).exists()
    assert run_cli("run", "--resume", out, "--quiet").exit_code == 0
    assert_same_run(out, reference)


# -- bad input ----------------------------------------------------------------------------------

# Unknown model and dataset names, malformed budgets and batch sizes are in test_cli.py; these are
# the flags this module adds or that only the CLI path can get wrong.
@pytest.mark.parametrize("args, message", [
    (["--budget", "-5steps"], "malformed budget '-5steps'"),
    (["--budget", "0epochs"], "budget must be positive"),
    (["--width", "0"], "--width must be a positive number, got 0.0"),
    (["--width", "-1"], "--width must be a positive number"),
    (["--width", "nan"], "--width must be a positive number"),
    (["--width", "wide"], "'wide' is not a valid float"),
    (["--batch-size", "-3"], "--batch-size must be positive"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be a positive number of steps"),
    (["--resume", "/no/such/run"], "no such run directory"),
    (["--seed", "99999999999999999999"], "is not in the range 0<=x<=4294967295"),
    (["--eval-samples", "100000"], "--eval-samples 100000 is more than the 180 held-out images of the real-data floor"),  # digits: 180 held out
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    out = tmp_path / "r"
    error = one_line_error(run_cli("run", *SETTINGS, *args, "--out", out) if "--resume" not in args
                           else run_cli("run", *args))
    assert message in error
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_one_line(tmp_path):
    assert "CUDA is not available" in one_line_error(run_cli("run", *SETTINGS, "--device", "cuda", "--out", tmp_path / "r"))


def test_run_dir_that_is_not_a_run_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "not a run directory (no config.json)" in one_line_error(run_cli("run", "--resume", empty))
    (empty / "config.json").write_text("{not json")
    assert "cannot read" in one_line_error(run_cli("run", "--resume", empty))
    (empty / "config.json").write_text('{"seed": 0}')
    assert "does not have the layout the toolkit writes (field models is missing)" in one_line_error(run_cli("run", "--resume", empty))
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "not a directory" in one_line_error(run_cli("run", *SETTINGS, "--out", afile))
    assert "contradict" in one_line_error(run_cli("run", "--resume", empty, "--overwrite"))


def test_user_error_class_is_what_the_cli_reports():
    with pytest.raises(UserError):
        load_checkpoint(Path("/no/such/ckpt.pt"))


@pytest.mark.parametrize("skip", [0, 1, 3, 4, 7, 12])
def test_batches_resumed_at_any_step_continue_the_same_order(skip):
    """What makes a mid-epoch resume exact: skipping k batches gives batch k of an unbroken stream."""
    images = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1)  # 3 batches of 3 an epoch
    unbroken = [b.flatten().tolist() for _, b in zip(range(15), batches(images, 3, torch.Generator().manual_seed(4)))]
    resumed = [b.flatten().tolist() for _, b in zip(range(15 - skip), batches(images, 3, torch.Generator().manual_seed(4), skip=skip))]
    assert resumed == unbroken[skip:]
