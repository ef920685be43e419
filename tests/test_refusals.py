"""Files and input that must be refused in one line: tampered or foreign checkpoints, a second writer,
a directory that is not a run, a full disk, out of memory, every malformed flag."""

import fcntl
import json
import os
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import compare.io
import compare.experiments.pipeline as runner
from compare.train.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from compare.errors import UserError
from compare.rundir import LOCK_NAME
from compare.io import CONTENT_FIELD
from helpers import ONE_PIXEL_PNG, SETTINGS, FaultyGAN, assert_same_run, one_line_error, run_cli

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)


# -- tampered and foreign checkpoints -----------------------------------------------------------

class CodePayload:
    """Unpickling this calls os.makedirs: what a tampered checkpoint could do with any callable."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


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
    (lambda p: torch.save({**torch.load(p, weights_only=True), "format": 99}, p),
     f"format 99, expected {CHECKPOINT_FORMAT}"),
    (lambda p: save_checkpoint(p, {**load_checkpoint(p), "run": {"seed": 5}}), "incompatible config (run."),
    (lambda p: save_checkpoint(p, {**load_checkpoint(p), "state": {"generator": {}}}),
     "does not fit this model (RuntimeError: Error(s) in loading state_dict for Generator: Missing key"),
    # a GAN checkpoint from before the lazy R1 penalty counted D's steps: refused, never resumed with a guessed count
    (lambda p: save_checkpoint(p, {**(c := load_checkpoint(p)),
                                   "state": {k: v for k, v in c["state"].items() if k != "d_steps"}}),
     "does not fit this model (KeyError: 'd_steps'); delete it to retrain that model"),
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
    assert ("incompatible config (models.faulty.lr is 0.1"
            in one_line_error(run_cli("run", "--resume", interrupted_run, "--quiet")))


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried to "
                 "allocate 262144000000 bytes"),
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


def test_report_on_what_is_not_a_run_or_to_an_unwritable_place_is_one_line(tiny_run, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "afile is not a run directory" in one_line_error(run_cli("report", afile))
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_run, damaged)
    (damaged / "metrics.json").write_text('{"models": 5}')  # valid JSON, not the layout a run writes
    assert ("metrics.json does not have the layout the toolkit writes (field models is 5"
            in one_line_error(run_cli("report", damaged)))
    assert "metrics.json does not have the layout" in one_line_error(run_cli("evaluate", damaged, "--quiet"))
    (tmp_path / "taken.html").mkdir()
    assert (f"Is a directory: {tmp_path / 'taken.html'}"
            in one_line_error(run_cli("report", tiny_run, "--out", tmp_path / "taken.html")))
    assert ("No such file or directory: /proc/no/report.html"
            in one_line_error(run_cli("report", tiny_run, "--out", "/proc/no/report.html")))


# -- output safety ------------------------------------------------------------------------------

def test_resume_flags_must_agree_with_the_run(interrupted_run):
    # a larger budget extends the run (tests/test_extend.py); a smaller one is refused
    assert ("--budget 10steps is smaller than this run's 120steps"
            in one_line_error(run_cli("run", "--resume", interrupted_run, "--budget", "10steps", "--quiet")))
    for flag, value, shown in [("--seed", "3", "3"), ("--models", "vae", "vae"),
                               ("--width", "2", "2.0"), ("--out", "/elsewhere", "/elsewhere")]:
        assert f"--{flag.lstrip('-')} {shown} conflicts" in one_line_error(
            run_cli("run", "--resume", interrupted_run, flag, value, "--quiet")), flag
    # flags equal to the run's, and --checkpoint-every (which changes no result), are fine
    FaultyGAN.fired = True
    ok = run_cli("run", "--resume", interrupted_run, "--seed", "0", "--dataset", "digits", "--checkpoint-every", "7",
                 "--quiet")
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


def test_overwrite_replaces_a_run_but_never_another_directory(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
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


def test_full_disk_is_one_line_keeps_earlier_files_and_the_run_resumes(tiny_run, tmp_path, monkeypatch):
    real_fsync, checkpoints = os.fsync, []

    # the first write after the checkpoint at step 20 finds the disk full (checkpoints at step 0 and 20 went through)
    def fsync(fd):
        if len(checkpoints) >= 2:
            raise OSError(28, "No space left on device")
        if "ckpt" in os.readlink(f"/proc/self/fd/{fd}"):
            checkpoints.append(fd)
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
    assert_same_run(out, tiny_run)


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
    (["--resamples", "99"], "--resamples must be a whole number of at least 100, got 99"),
    (["--resume", "/no/such/run"], "no such run directory"),
    (["--seed", "99999999999999999999"], "is not in the range 0<=x<=4294967295"),
    # digits: 180 held out
    (["--eval-samples", "100000"], "--eval-samples 100000 is more than the 180 held-out images of the real-data floor"),
])
def test_bad_run_flags_are_one_line_and_exit_2(args, message, tmp_path):
    out = tmp_path / "r"
    error = one_line_error(run_cli("run", *SETTINGS, *args, "--out", out) if "--resume" not in args
                           else run_cli("run", *args))
    assert message in error
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_one_line(tmp_path):
    assert "CUDA is not available" in one_line_error(run_cli("run", *SETTINGS, "--device", "cuda", "--out",
                                                             tmp_path / "r"))


def test_run_dir_that_is_not_a_run_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "not a run directory (no config.json)" in one_line_error(run_cli("run", "--resume", empty))
    (empty / "config.json").write_text("{not json")
    assert "cannot read" in one_line_error(run_cli("run", "--resume", empty))
    (empty / "config.json").write_text('{"seed": 0}')
    assert ("does not have the layout the toolkit writes (field models is missing)"
            in one_line_error(run_cli("run", "--resume", empty)))
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "not a directory" in one_line_error(run_cli("run", *SETTINGS, "--out", afile))
    assert "contradict" in one_line_error(run_cli("run", "--resume", empty, "--overwrite"))


def test_user_error_class_is_what_the_cli_reports():
    with pytest.raises(UserError):
        load_checkpoint(Path("/no/such/ckpt.pt"))




# -- the environment: a closed stdout, a deleted working directory ------------------------------

def _compare(*args: str, cwd=None, before: str = "") -> subprocess.CompletedProcess:
    """`compare ARGS` in a fresh interpreter (after running `before` there), stdout and stderr captured."""
    import sys

    code = (f"{before}import runpy, sys; sys.argv = ['compare', *{list(args)!r}]; runpy.run_module('compare', "
            "run_name='__main__')")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # a subprocess
def test_a_reader_that_closes_the_pipe_ends_the_command_quietly():
    # stdout is a pipe whose reader is gone before the first line: what `compare datasets | head -c 5` meets
    result = _compare("datasets", before="import os; r, w = os.pipe(); os.dup2(w, 1); os.close(r); ")
    assert result.returncode == 141 and result.stderr == "", result.stderr


def test_a_deleted_working_directory_is_one_line(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    result = _compare("run", "--dataset", "digits", "--budget", "2steps", "--out", str(tmp_path / "run"), cwd=gone,
                      before=f"import os; os.rmdir({str(gone)!r}); ")
    assert result.returncode == 2, result.stderr
    assert result.stderr == "Error: the current directory no longer exists; cd to an existing directory and run again\n"
    assert not (tmp_path / "run").exists()


# -- compare evaluator train --out ---------------------------------------------------------------

@pytest.fixture
def quick_evaluator(monkeypatch):
    from compare.metrics import evaluator

    monkeypatch.setattr(evaluator, "TRAIN_STEPS", 5)  # the files written, not the recipe, are under test
    return evaluator


def test_evaluator_train_out_json_writes_two_distinct_files(quick_evaluator, tmp_path):
    out = tmp_path / "e.json"
    result = run_cli("evaluator", "train", "digits", "--out", out)
    assert result.exit_code == 0, result.output
    info = tmp_path / "e.info.json"
    assert f"wrote {out} and {info}" in result.output
    assert (torch.load(out, weights_only=True)["info"]["weights_sha256"]
            == json.loads(info.read_text())["weights_sha256"])


def test_evaluator_train_refuses_an_existing_file_unless_overwrite(quick_evaluator, tmp_path):
    out = tmp_path / "e.pt"
    out.write_text("mine")
    assert "already exists" in one_line_error(run_cli("evaluator", "train", "digits", "--out", out))
    assert out.read_text() == "mine" and not out.with_suffix(".json").exists()
    assert run_cli("evaluator", "train", "digits", "--out", out, "--overwrite").exit_code == 0
    assert "state" in torch.load(out, weights_only=True)


def test_evaluator_train_keeps_a_file_created_at_out_during_training(quick_evaluator, tmp_path, monkeypatch):
    out = tmp_path / "e.pt"
    train = quick_evaluator.train_evaluator

    def train_while_someone_writes(data, *args):
        out.write_text("written meanwhile")
        return train(data, *args)

    monkeypatch.setattr(quick_evaluator, "train_evaluator", train_while_someone_writes)
    message = one_line_error(run_cli("evaluator", "train", "digits", "--out", out))
    assert f"{out} appeared while the command ran and was left as it is" in message
    # no temp file left
    assert out.read_text() == "written meanwhile" and [p.name for p in tmp_path.iterdir()] == ["e.pt"]


# -- damaged or foreign input that used to end in a traceback -------------------------------------

def test_evaluate_refuses_another_models_checkpoint_in_one_line(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    shutil.copy(run / "vae" / "ckpt.pt", run / "gan" / "ckpt.pt")
    message = one_line_error(run_cli("evaluate", run, "--quiet"))
    assert f"{run / 'gan' / 'ckpt.pt'} comes from an incompatible config (label is 'vae'" in message


def test_report_on_a_run_stopped_in_training_says_so_and_reports_what_is_finished(tmp_path, monkeypatch):
    import signal

    from compare.models import MODELS

    vae_cls, steps = MODELS["vae"].model_cls, []
    train_step = vae_cls.train_step

    def stopped_at_step_5(self, batch):  # a Ctrl-C while the second model trains: the first is finished
        steps.append(1)
        if len(steps) == 5:
            os.kill(os.getpid(), signal.SIGINT)
        return train_step(self, batch)

    monkeypatch.setattr(vae_cls, "train_step", stopped_at_step_5)
    run = tmp_path / "run"
    assert run_cli("run", "--models", "gan", "vae", *SETTINGS, "--out", run, "--quiet").exit_code == 128 + signal.SIGINT
    result = run_cli("report", run)
    assert result.exit_code == 0, result.output
    assert re.search(rf"Warning: {re.escape(str(run))} is an unfinished run \(stopped at step \d of vae\)",
                     result.output)
    assert f"continue it with: compare run --resume {run}" in result.output
    assert "gan" in (run / "report.md").read_text()


# -- compare score: only plain tensors, only regular files ----------------------------------------

@pytest.fixture
def reference_set(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (130, 8, 8), dtype=np.uint8))
    return path


@pytest.mark.parametrize("kind, make", [
    ("sparse_coo", lambda t: t.to_sparse()),
    ("meta", lambda t: t.to("meta")),
    ("quantized", lambda t: torch.quantize_per_tensor(t, 1 / 255, 0, torch.quint8)),
])
def test_score_refuses_a_tensor_that_is_not_plain_values_in_one_line(reference_set, tmp_path, kind, make):
    b = tmp_path / "b.pt"
    torch.save(make(torch.rand(130, 1, 8, 8)), b)
    assert f"{b} holds a {kind} tensor, not plain image values" in one_line_error(run_cli("score", reference_set, b))


@pytest.mark.slow  # subprocesses
def test_score_and_folder_never_open_a_fifo(reference_set, tmp_path):
    import sys
    import textwrap

    folder = tmp_path / "b"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.png", "c.png"):
        (folder / name).write_bytes(ONE_PIXEL_PNG)
    os.mkfifo(folder / "sub" / "x.png")  # nobody ever writes to it: opening it would wait forever
    os.mkfifo(tmp_path / "fifo.npy")
    code = textwrap.dedent("""
        import sys
        from compare.data import load_dataset
        from compare.errors import UserError
        from helpers import one_line_error, run_cli
        reference, folder, fifo = sys.argv[1:]
        for b in (folder, fifo):
            print(one_line_error(run_cli("score", reference, b)))
        try:
            load_dataset(f"folder:{folder}")
        except UserError as e:
            print(e)
    """)
    messages = (f"{folder / 'sub' / 'x.png'} is not a regular file", "is neither a folder nor a regular file",
                f"{folder / 'sub' / 'x.png'} is not a regular file")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (Path(__file__).parents[1], Path(__file__).parent)))}
    # in a subprocess, so a hang fails instead of blocking
    result = subprocess.run([sys.executable, "-c", code, str(reference_set), str(folder), str(tmp_path / "fifo.npy")],
                            env=env, capture_output=True, text=True, timeout=60)
    lines = result.stdout.splitlines()  # one interpreter for every case: its start-up (torch) was most of the time
    assert result.returncode == 0 and len(lines) == len(messages), result.stdout + result.stderr
    for line, message in zip(lines, messages):
        assert message in line, result.stdout


def test_an_edited_info_of_a_shipped_evaluator_is_refused(tmp_path, monkeypatch):
    from compare.data import load_dataset
    from compare.metrics import evaluator

    saved = torch.load(evaluator.SHIPPED_DIR / "digits.pt", weights_only=True)
    # the weights untouched
    saved["info"] = {**saved["info"], "name": "evaluator:<b>forged</b>", "heldout_accuracy": 0.123}
    torch.save(saved, tmp_path / "digits.pt")
    monkeypatch.setattr(evaluator, "SHIPPED_DIR", tmp_path)  # a copy of the package with that one file edited
    with pytest.raises(UserError, match="has an edited info"):
        evaluator.load_extractor("evaluator", load_dataset("digits"))
