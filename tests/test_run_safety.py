"""Reliability, round two (issue 15): nothing a user owns is deleted, damaged files are refused, every
stop of a multi-trial command is resumable, and every writer of a run directory takes its lock."""

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import compare.io
import compare.models as models_registry
from compare.data import load_dataset
from compare.errors import UserError
from compare.metrics.scoring import eval_sample_count
from compare.metrics.evaluator import content_key, evaluator_path
from compare.experiments.executors import ExecutorOptions, make_executor
from compare.rundir import LOCK_NAME
from compare.io import CONTENT_FIELD
from compare.models import ModelEntry
from gan import GAN, GANConfig
from helpers import FAST, ROOT, one_line_error, run_cli, tiny_options, unrendered_figures

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)

TINY = tiny_options(20, "--width", "0.25", "--checkpoint-every", "5", "--curve-points", "1", "--quiet", *FAST)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    with unrendered_figures():
        result = run_cli("run", "--models", "gan", *TINY, "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run_copy(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


class SignalGAN(GAN):
    """The GAN, sending its own process `signum` once, mid-step, at step `at`."""

    signum, at, fired = signal.SIGINT, 3, False

    def train_step(self, batch):
        self.step = getattr(self, "step", 0) + 1
        if self.step == self.at and not SignalGAN.fired:
            SignalGAN.fired = True
            os.kill(os.getpid(), self.signum)
        return super().train_step(batch)


@pytest.fixture
def signalling(monkeypatch):
    monkeypatch.setitem(models_registry.MODELS, "sig",
                        ModelEntry("test-only GAN that signals itself", GANConfig, SignalGAN, "generator"))

    def arm(signum=signal.SIGINT, at=3):
        monkeypatch.setattr(SignalGAN, "signum", signum)
        monkeypatch.setattr(SignalGAN, "at", at)
        monkeypatch.setattr(SignalGAN, "fired", False)

    return arm


# -- 1. --overwrite deletes only what the toolkit wrote ---------------------------------------------

def test_overwrite_never_deletes_a_users_files(run_copy, tmp_path):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "config.json").write_text('{"lr": 0.1}')  # a config.json of the user's, not a run's
    (project / "thesis.tex").write_text("precious")
    (project / "data" / "results.csv").write_text("1,2")
    before = snapshot(project)
    assert "not a run directory" in one_line_error(run_cli("run", "--models", "gan", *TINY, "--out", project,
                                                           "--overwrite"))
    assert snapshot(project) == before

    (run_copy / "gan" / "notes.txt").write_text("mine")  # a run, with a file of the user's in it
    before = snapshot(run_copy)
    error = one_line_error(run_cli("run", "--models", "gan", *TINY, "--out", run_copy, "--overwrite"))
    assert "gan/notes.txt was not written by compare" in error and "nothing was deleted" in error
    assert snapshot(run_copy) == before

    (run_copy / "gan" / "notes.txt").unlink()
    assert run_cli("run", "--models", "gan", *TINY, "--out", run_copy, "--overwrite").exit_code == 0


# -- 2. content hashes on checkpoints and JSON ------------------------------------------------------

def flip_a_weight_byte(path: Path) -> None:
    """Flip one byte in the middle of the largest tensor's data, inside the zip, CRC left as it was."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    raw[info.header_offset + 30 + name_len + extra_len + info.file_size // 2] ^= 0x40
    path.write_bytes(bytes(raw))


def test_a_flipped_byte_in_a_checkpoint_is_refused_by_resume_and_evaluate(run_copy):
    flip_a_weight_byte(run_copy / "gan" / "ckpt.pt")
    # a finished run resumed to a larger budget loads its checkpoints (resumed as it is, it only says where its
    # report is)
    for args in (["run", "--resume", run_copy, "--budget", "30steps", "--quiet"], ["evaluate", run_copy, "--quiet"]):
        error = one_line_error(run_cli(*args))
        assert f"{run_copy / 'gan' / 'ckpt.pt'} is damaged" in error and "delete it to retrain that model" in error


def test_a_changed_number_in_a_runs_json_is_refused(run_copy):
    path = run_copy / "metrics.json"
    path.write_text(path.read_text().replace('"steps": 20', '"steps": 21', 1))
    error = one_line_error(run_cli("report", run_copy))
    assert "metrics.json does not match the sha256 recorded in it" in error
    metrics = json.loads(path.read_text())
    del metrics[CONTENT_FIELD]  # an edit on purpose: the field deleted, the file is read as it is
    path.write_text(json.dumps(metrics))
    assert run_cli("report", run_copy).exit_code == 0


# -- 3. the report embeds only PNGs inside its directories, and escapes names -----------------------

def test_report_embeds_only_pngs_inside_the_sweep_and_escapes_names(finished, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / "notes.png").write_text("not an image")
    claim = {"claim": "s", "verdict": "not decided", "rule": "x", "notes": [], "targets": []}
    (sweep_dir / "sweep.json").write_text(json.dumps({"settings": {}, "claim_b": claim,
                                                      "plots": ["../secret.txt", "notes.png", str(secret)]}))
    run = tmp_path / "<img src=x onerror=alert(1)>"
    shutil.copytree(finished, run)
    result = run_cli("report", run, sweep_dir, "--out", tmp_path / "out" / "report.html")
    assert result.exit_code == 0, result.output
    assert result.output.count("Warning: report: skipped") == 3
    html_text = (tmp_path / "out" / "report.html").read_text()
    import base64

    assert base64.b64encode(b"TOP-SECRET-CONTENT").decode()[:16] not in html_text and "TOP-SECRET" not in html_text
    md = (tmp_path / "out" / "report.md").read_text()
    assert "<img" not in md and "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E/side_by_side.png" in md


# -- 4. every writer of a run directory takes its lock ----------------------------------------------

def test_evaluate_and_report_wait_for_the_runs_lock(run_copy):
    before = snapshot(run_copy)
    # held as `compare run --resume` in another process holds it
    fd = os.open(run_copy / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242\n")
        for args in (["evaluate", run_copy, "--quiet"], ["report", run_copy]):
            assert "is in use by process 4242" in one_line_error(run_cli(*args))
    finally:
        os.close(fd)
    assert snapshot(run_copy) == {**before, LOCK_NAME: b"4242\n"}


# -- 5. stops of multi-trial commands ---------------------------------------------------------------

def test_a_stop_during_run_seeds_stops_all_and_the_same_command_continues(signalling, tmp_path):
    signalling(signal.SIGINT, at=3)
    out = tmp_path / "seeds"
    args = ["run", "--models", "sig", *TINY, "--seeds", "2", "--out", out]
    error = one_line_error(run_cli(*args), code=130)
    assert "SIGINT during the seed runs, in seed-0" in error and f"continue with: compare run --resume {out}" in error
    assert (not (out / "seed-1").exists() and not (out / "seed-0.json").exists()  # stopped, not recorded as failed
            and json.loads((out / "seed-0" / "metrics.json").read_text())["interrupted"]["step"] == 3)
    result = run_cli(*args)  # the same command again: continues, does not refuse "not empty"
    assert result.exit_code == 0, result.output
    assert json.loads((out / "seeds.json").read_text())["seeds"] == [0, 1]
    assert json.loads((out / "seed-0" / "metrics.json").read_text())["models"]["sig"]["steps"] == 20
    assert not list(out.glob("*.failed-*"))  # resumed from its checkpoint, not set aside


def test_resume_of_a_seeds_directory(signalling, tmp_path):
    signalling(signal.SIGTERM, at=3)
    out = tmp_path / "seeds"
    assert run_cli("run", "--models", "sig", *TINY, "--seeds", "2", "--out", out).exit_code == 143
    result = run_cli("run", "--resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "seeds.json").read_text())["seeds"] == [0, 1]


class FailingGAN(GAN):
    """The GAN, failing once (as a bug of a model's would) at its third step."""

    failed = False

    def train_step(self, batch):
        self.step = getattr(self, "step", 0) + 1
        if self.step == 3 and not FailingGAN.failed:
            FailingGAN.failed = True
            raise RuntimeError("boom")
        return super().train_step(batch)


@pytest.fixture
def failing_once(monkeypatch):
    monkeypatch.setitem(models_registry.MODELS, "fail",
                        ModelEntry("test-only GAN that fails once", GANConfig, FailingGAN, "generator"))
    monkeypatch.setattr(FailingGAN, "failed", False)


def seeds_numbers(out: Path) -> dict:
    """seeds.json's numbers, timings aside."""
    summary = json.loads((out / "seeds.json").read_text())
    return {"seeds": summary["seeds"], "views": summary["views"],
            "models": {label: {k: v for k, v in m.items() if "seconds" not in k}
                       for label, m in summary["models"].items()}}


@pytest.mark.slow  # real runs
def test_a_failed_seed_is_one_line_after_the_other_seeds_and_the_resume_retries_only_it(failing_once, tmp_path):
    out = tmp_path / "seeds"
    args = ["run", "--models", "fail", *[a for a in TINY if a != "--quiet"], "--seeds", "2"]
    failed = run_cli(*args, "--out", out)
    assert failed.exit_code == 1 and "Traceback" not in failed.output, failed.output
    # each seed's run and its line as it ends: seed 0's failure, then seed 1 trained to the end
    assert "[1/2] seed-0 FAILED: RuntimeError: boom" in failed.output and "[2/2] seed-1 done" in failed.output
    assert "fail: 20/20 steps" in failed.output
    assert failed.output.strip().splitlines()[-1] == (
        f"Error: 1 of 2 trials failed (seed-0: RuntimeError: boom; its record, with the traceback: "
        f"{out / 'seed-0.json'}); the others are done: retry with: compare run --resume {out}")
    assert json.loads((out / "seed-0.json").read_text())["status"] == "failed" and not (out / "seeds.json").exists()
    done = snapshot(out / "seed-1")

    result = run_cli("run", "--resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert snapshot(out / "seed-1") == done  # kept as it was, not run again
    assert (out / "seed-0.failed-1" / "config.json").is_file()  # the failed run set aside, not deleted
    reference = tmp_path / "reference"  # the same seeds, none failing
    assert run_cli(*args, "--out", reference, "--quiet").exit_code == 0
    assert seeds_numbers(out) == seeds_numbers(reference)


@pytest.mark.slow  # real runs
def test_a_seeds_directory_without_records_resumes_to_the_same_numbers(tmp_path):
    """The previous `run --seeds` wrote no record per seed: its finished seeds are resumed, not trained again."""
    out = tmp_path / "seeds"
    assert run_cli("run", "--models", "gan", *TINY, "--seeds", "2", "--out", out).exit_code == 0
    before = json.loads((out / "seeds.json").read_text())
    weights = snapshot(out / "seed-1" / "gan")
    for written in (out / "seeds.json", out / "seed-0.json", out / "seed-1.json"):
        written.unlink()
    result = run_cli("run", "--resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "seeds.json").read_text()) == before
    assert snapshot(out / "seed-1" / "gan") == weights and not list(out.glob("*.failed-*"))


def test_a_stop_during_a_sweep_stops_every_trial_and_a_rerun_resumes_it(signalling, tmp_path):
    signalling(signal.SIGINT, at=3)
    out = tmp_path / "sweep"
    args = ["sweep", "--models", "sig", "--widths", "0.25,0.5", "--seeds", "1", "--dataset", "digits", "--budget",
            "20steps", "--batch-size", "32", *FAST, "--out", out]
    stopped = run_cli(*args)
    assert stopped.exit_code == 130 and "Traceback" not in stopped.output, stopped.output
    error = stopped.output.strip().splitlines()[-1]  # after the sweep's progress line
    assert "SIGINT during the sweep" in error and "continue with: compare sweep --models sig --widths 0.25,0.5" in error
    assert not (out / "trials" / "sig-w0.5-s0").exists()  # the second trial never started
    assert not (out / "trials" / "sig-w0.25-s0.json").exists()  # not recorded as failed
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert not list((out / "trials").glob("*.failed-*"))  # resumed from its checkpoint, not set aside
    record = json.loads((out / "trials" / "sig-w0.25-s0.json").read_text())
    assert record["status"] == "done" and record["summary"]["sig"]["steps"] == 20


def test_sighup_stops_a_run_like_sigterm(signalling, tmp_path):
    signalling(signal.SIGHUP, at=3)
    out = tmp_path / "run"
    error = one_line_error(run_cli("run", "--models", "sig", *TINY, "--out", out), code=129)
    assert "SIGHUP at step 3" in error
    assert run_cli("run", "--resume", out, "--quiet").exit_code == 0


def test_ctrl_c_during_start_up_is_one_line_and_exit_130():
    program = ("import sys\n"
               "class Stop:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'compare.settings': raise KeyboardInterrupt\n"
               "sys.meta_path.insert(0, Stop())\n"
               "from compare.cli import main\n"
               "main()\n")
    done = subprocess.run([sys.executable, "-c", program, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode == 130
            and done.stderr.strip() == "Interrupted during start-up; nothing was done"), done.stderr


# -- 6. a full disk under torch's zip writer --------------------------------------------------------

def test_disk_full_inside_torch_save_is_one_line(tmp_path, monkeypatch):
    real_save, calls = torch.save, []

    def save(obj, f):
        calls.append(f)
        if len(calls) > 1:  # the step-0 checkpoint went through; the disk is full from then on
            raise RuntimeError("[enforce fail at inline_container.cc:783] . PytorchStreamWriter failed writing file "
                               "data/3: file write failed")
        real_save(obj, f)

    monkeypatch.setattr(compare.io.torch, "save", save)
    out = tmp_path / "run"
    error = one_line_error(run_cli("run", "--models", "gan", *TINY, "--out", out))
    assert (f"cannot write {out / 'gan' / 'ckpt.pt'}" in error and "is the disk full?" in error
            and "compare run --resume" in error)
    monkeypatch.setattr(compare.io.torch, "save", real_save)
    assert json.loads((out / "config.json").read_text())["seed"] == 0 and not list(out.rglob("*.tmp"))
    assert run_cli("run", "--resume", out, "--quiet").exit_code == 0


# -- 7. a damaged dataset cache is rebuilt ----------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_dataset_cache_is_rebuilt_with_a_warning(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path))
    good = load_dataset("digits")
    path = tmp_path / "digits-v1.npz"
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[:len(raw) // 2]
    else:
        raw[len(raw) // 2] ^= 0x01  # inside the images array
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="digits-v1.npz was damaged; rebuilding it"):
        again = load_dataset("digits")
    assert torch.equal(again.train, good.train) and torch.equal(again.heldout_labels, good.heldout_labels)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset("digits")  # rebuilt: whole again


# -- 8. a Ray address where nothing listens ---------------------------------------------------------

def test_ray_address_with_nothing_listening_is_one_line(tmp_path):
    with socket.socket() as s:  # a local port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        make_executor("ray", ExecutorOptions(address=f"127.0.0.1:{port}"))


# -- 9. the evaluator of folder:X is keyed by the folder's content ----------------------------------

def write_pngs(folder: Path, n: int, seed: int) -> None:
    from torchvision.utils import save_image

    folder.mkdir(exist_ok=True)
    images = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    for i, image in enumerate(images):
        save_image(image, folder / f"{i:03d}.png")
        os.utime(folder / f"{i:03d}.png", ns=(10**18 + seed, 10**18 + seed))


def test_replacing_a_folders_images_changes_its_evaluator_key(tmp_path):
    from compare.data import DataOptions

    folder = tmp_path / "faces"
    write_pngs(folder, 20, seed=0)
    options = DataOptions(image_size=8, channels=1)
    before = load_dataset(f"folder:{folder}", options=options)
    key = content_key(before)
    write_pngs(folder, 20, seed=1)  # every image replaced, same names
    after = load_dataset(f"folder:{folder}", options=options)
    assert content_key(after) != key
    assert evaluator_path(after.name, content_key(after)) != evaluator_path(before.name, key)


# -- 10. valid JSON of the wrong layout -------------------------------------------------------------

def edit(path: Path, change) -> None:
    obj = json.loads(path.read_text())
    obj.pop(CONTENT_FIELD, None)
    change(obj)
    path.write_text(json.dumps(obj))


@pytest.mark.parametrize("name, change, field", [
    ("metrics.json", lambda m: m["quality"]["extractor"].update(weights_sha256=12345),
     "field quality.extractor.weights_sha256 is 12345, expected a string"),
    ("metrics.json", lambda m: m["models"]["gan"].update(size=5),
     "field models.gan.size is 5, expected null or an object"),
    ("config.json", lambda c: c.update(dataset="mnist5k"), "field dataset is 'mnist5k', expected an object"),
    ("config.json", lambda c: c.pop("dataset"), "field dataset is missing"),
])
def test_json_of_the_wrong_layout_is_one_line_in_report_and_evaluate(run_copy, name, change, field):
    edit(run_copy / name, change)
    for args in (["report", run_copy], ["evaluate", run_copy, "--quiet"]):
        error = one_line_error(run_cli(*args))
        assert f"{run_copy / name} does not have the layout the toolkit writes ({field})" in error


def test_a_bare_sweep_json_is_one_line(finished, tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text("{}")
    error = one_line_error(run_cli("report", finished, tmp_path / "sweep", "--out", tmp_path / "r.html"))
    assert "sweep.json does not have the layout the toolkit writes (field settings is missing)" in error


# -- 11. too few held-out images ---------------------------------------------------------------------

def test_a_folder_with_one_heldout_image_is_refused_with_or_without_eval_samples(tmp_path):
    from compare.data import DataOptions

    write_pngs(tmp_path / "eight", 8, seed=0)
    data = load_dataset(f"folder:{tmp_path / 'eight'}", options=DataOptions(image_size=8, channels=1))
    messages = set()
    for asked in (None, 1, 2):
        with pytest.raises(UserError) as e:
            eval_sample_count(asked, data, 128)
        messages.add(str(e.value))
    assert len(messages) == 1 and "has 1 held-out image(s)" in messages.pop().replace(str(tmp_path), "")


def test_the_images_needed_are_stated_exactly(tmp_path):
    from compare.data import DataOptions

    write_pngs(tmp_path / "f", 15, seed=0)  # 15 images: round(1.5) = 2 held out, the fewest that work
    data = load_dataset(f"folder:{tmp_path / 'f'}", options=DataOptions(image_size=8, channels=1))
    assert eval_sample_count(None, data, 128) == 2
    (tmp_path / "f" / "014.png").unlink()
    with pytest.raises(UserError, match="give a dataset of at least 15 images"):
        eval_sample_count(None, load_dataset(f"folder:{tmp_path / 'f'}", options=DataOptions(image_size=8, channels=1)),
                          128)


# -- 12. stale temp files of a killed write ----------------------------------------------------------

def test_a_resumed_run_removes_its_stale_temp_files_only(run_copy):
    planted = [run_copy / ".metrics.json.k2j4_x9a.tmp", run_copy / "gan" / ".ckpt.pt.abcd1234.tmp"]
    for p in planted:
        p.write_bytes(b"half a file")
    (run_copy / ".notes.tmp").write_text("the user's")
    # trains on: takes the run
    assert run_cli("run", "--resume", run_copy, "--budget", "30steps", "--quiet").exit_code == 0
    assert not any(p.exists() for p in planted) and (run_copy / ".notes.tmp").exists()
