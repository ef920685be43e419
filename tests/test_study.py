"""`compare study`: a tiny study end to end on digits, resume, stop, serial vs --jobs 2, bad flags, tuning, the
features cache."""

import html
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
import torch

import gan.model
from compare.experiments import pipeline
from helpers import run_cli, tiny_options, unrendered_figures
from compare.metrics.evaluator import Extractor
from compare.claims.trial_row import TrialRow
from compare.claims.rules import CLAIM_1, CLAIM_2, CLAIM_3, MIN_EARLY_POINTS, VERDICTS
from compare.experiments.executors import ExecutorOptions, LocalExecutor
from compare.experiments.study import CURVE_POINTS, TRIAL_RESAMPLES, StudySettings, study
from compare.train import early_window, eval_steps
from compare.settings import Budget
from compare.rundir import Interrupted

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)

TINY = ["study", *tiny_options(60, "--seeds", "2", "--widths", "0.5,1")]
CURVE_KEYS = {"fid", "kid_x1e3", "mean_confidence", "lone_pixels_per_image", "specks_per_image"}


def one_thread(fn):
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as every --jobs 2 process has on 2 cores, so the numbers can be compared
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "serial"
    with unrendered_figures():
        result = one_thread(lambda: run_cli(*TINY, "--out", str(out)))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_early_curve_points_fill_the_first_1000_steps_whatever_the_budget():
    # 8 early points in (0, min(1000, budget)], merged with the 7 even ones; the budget's end is the final evaluation.
    assert eval_steps(4000, 8, 8) == [125, 250, 375, 500, 625, 750, 875, 1000, 1500, 2000, 2500, 3000, 3500]
    assert eval_steps(100_000, 8, 8)[:9] == [125, 250, 375, 500, 625, 750, 875, 1000, 12500]
    assert eval_steps(1500, 8, 8)[:5] == [125, 188, 250, 375, 500]
    assert eval_steps(800, 8, 8) == [100, 200, 300, 400, 500, 600, 700]  # + 800: the window is the whole budget
    assert eval_steps(60, 8, 8) == [8, 15, 22, 30, 38, 45, 52] and early_window(60) == 60 and early_window(5000) == 1000
    for budget in (8, 60, 999, 1000, 1001, 4000, 10**6):
        points = [*eval_steps(budget, 8, 8), budget]
        assert sum(0 < s <= early_window(budget) for s in points) >= 8, budget
    assert eval_steps(40, 4) == eval_steps(40, 4, 0) == [10, 20, 30]  # `compare run`'s schedule is unchanged


def test_tiny_study_writes_three_verdicts_and_one_report(tiny):
    out, output = tiny
    summary = json.loads((out / "study.json").read_text())
    assert summary["counts"] == {"trials": 14, "done": 14, "failed": 0, "run_now": 14}
    assert sorted(r["id"] for r in summary["trials"]) == sorted(  # Adam's width-1 gan serves claims 1, 2 and 3 (Adam)
        [f"{m}-w{w}-s{s}" for m in ("gan", "vae") for w in ("0.5", "1") for s in (0, 1)]
        + [f"{m}-w1-s{s}" for m in ("gan-minimax", "gan-sgd", "gan-minimax-sgd") for s in (0, 1)])
    assert {r["id"]: r["optimizer"] for r in summary["trials"]}["gan-minimax-sgd-w1-s1"] == "sgd"
    sgd = json.loads((out / "trials" / "gan-minimax-sgd-w1-s1" / "config.json").read_text())["models"]["gan:minimax"]
    assert (sgd["optimizer"], sgd["lr"], sgd["generator_loss"]) == ("sgd", 0.05, "minimax")
    trial = json.loads((out / "trials" / "gan-w1-s0" / "metrics.json").read_text())["quality"]["views"]["gan"]
    # the study reads values, its intervals are over seeds
    assert trial["fid"]["intervals"]["fid"]["resamples"] == TRIAL_RESAMPLES == 100
    claims = summary["claims"]
    assert [(c["claim"], c.get("optimizer")) for c in claims] == [(CLAIM_1, None), (CLAIM_2, None), (CLAIM_3, "adam"),
                                                                  (CLAIM_3, "sgd")]
    for c in claims:
        assert c["verdict"] in VERDICTS and c["rule"].endswith(".")
        assert all("ci95" in n and n["n"] == 2 for n in c["numbers"])
    # claim 3 has its 8 early points at 60 steps
    assert claims[0]["numbers"] and claims[2]["numbers"] and claims[3]["numbers"]
    # Claim 2 at this size: the GAN at width 0.5 already beats every FID the VAE reaches, so no target is shared; it
    # says so
    assert claims[1]["numbers"] or (claims[1]["verdict"] == "not decided" and "no FID" in " ".join(claims[1]["notes"]))
    assert {n["subject"] for n in claims[0]["numbers"]} == {"vae-mean", "vae-pixels"}
    assert list(summary["along_budget"]) == ["claim 1", "claim 3 (Adam)", "claim 3 (SGD)"]
    for points in summary["along_budget"].values():
        assert [p["steps"] for p in points] == [*eval_steps(60, CURVE_POINTS, MIN_EARLY_POINTS), 60]
    for trial, label in (("gan-minimax-w1-s1", "gan:minimax"), ("gan-sgd-w1-s0", "gan")):
        curve = json.loads((out / "trials" / trial / "metrics.json").read_text())["models"][label]["curve"]
        assert sum(0 < p["steps"] <= early_window(60) for p in curve) >= MIN_EARLY_POINTS
        assert all(set(p["views"][label]) == CURVE_KEYS for p in curve)
    assert summary["evaluator"]["weights_sha256"] and summary["versions"]["torch"] and summary["wall_seconds"] > 0
    assert [p.name for p in out.rglob("report.html")] == ["report.html"]
    page = (out / "report.html").read_text()
    # claims 1, 2 (+ its prior), 3 twice, strip, 2 grids
    assert page.count("data:image/png;base64,") == len(summary["figures"]) == 8
    # the mechanisms: the GAN trials' saturation means, the VAE trials' vae-gmm FID, the prior's reading, one sentence
    # per optimizer
    rows = {r["id"]: TrialRow.from_json(r) for r in summary["trials"]}
    assert 0 < rows["gan-minimax-sgd-w1-s1"].early["d_fake"] < 1 and rows["vae-w1-s0"].number("fid", "vae-gmm") > 0
    assert summary["mechanisms"]["prior_gap"]["verdict"] and summary["mechanisms"]["prior_gap"]["rule"].endswith(".")
    assert (html.unescape(page).count("Claim 3's reason under ") == 2
            and "candidate reason, the prior (vae-gmm against vae-mean" in page)
    assert (page.index(">Verdicts</h2>") < page.index("Claim 3 (Adam)</strong>") < page.index("Claim 3 (SGD)</strong>")
            < page.index("<nav"))
    assert (page.index("<nav") < page.index("claim 3 (Adam): ") < page.index("claim 3 (SGD): ")
            < page.index(">Setup</h2>"))
    assert (page.index(">Setup</h2>") < page.index("claim 3 under adam, sgd") < page.index("default recipes")
            < page.index(">Samples</h2>"))
    lines = output.strip().splitlines()
    assert lines[-1] == str(out / "report.html")  # the report's path last
    claim_lines = [line for line in lines if line.startswith("Claim ") and not line.startswith("Claim 2's")]
    verdicts = [line.partition("): ")[2] for line in claim_lines]  # one line each, wrapped to 80 columns
    assert [line.partition(" (")[0] for line in claim_lines] == ["Claim 1", "Claim 2", "Claim 3", "Claim 3"]
    prior = summary["mechanisms"]["prior_gap"]  # claim 2's candidate reason after the claims, when it was read
    assert ((f"Claim 2's candidate reason, the prior: {prior['verdict']}" in output)
            == (prior["verdict"] != "not measured"))
    assert all(v.startswith(c["verdict"]) for v, c in zip(verdicts, claims)) and "Claim 3 (SGD) (" in output
    assert max(map(len, lines[-12:-1])) <= 80
    if claims[0]["verdict"] != "not measured":  # claim 1's deciding number in words, over the 2 seeds
        assert "lone pixels per image than the GAN [" in output and "; 2 seeds" in output


def test_a_finished_study_resumes_without_training(tiny, monkeypatch):
    out, _ = tiny
    before = json.loads((out / "study.json").read_text())

    def no_training(*args, **kwargs):
        raise AssertionError("a finished trial was trained again")

    monkeypatch.setattr(pipeline, "train_all", no_training)
    result = run_cli("study", "--resume", str(out))
    assert result.exit_code == 0, result.output
    after = json.loads((out / "study.json").read_text())
    assert after["counts"] == {"trials": 14, "done": 14, "failed": 0, "run_now": 0}
    assert after["claims"] == before["claims"] and len(after["sessions"]) == len(before["sessions"]) + 1


def test_a_study_json_missing_a_setting_is_refused_in_one_line(tiny, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(tiny[0], old)
    summary = json.loads((old / "study.json").read_text())
    del summary["settings"]["claim3_optimizers"]  # e.g. written by a pre-release version
    del summary["content_sha256"]  # edited on purpose (compare.io)
    (old / "study.json").write_text(json.dumps(summary))
    result = run_cli("study", "--resume", str(old))
    assert (result.exit_code == 2 and result.output.count("\n") == 1
            and "claim3_optimizers" in result.output), result.output


def numbers(out: Path) -> dict:
    """Every trial's recorded numbers except timings (which differ run to run)."""
    found = {}
    for path in sorted((out / "trials").glob("*.json")):
        record = json.loads(path.read_text())
        for entry in record["summary"].values():
            found[record["id"]] = {k: entry[k] for k in ("parameters", "final_losses", "steps", "views")}
    return found


def small(tmp_path, **kw) -> StudySettings:
    return StudySettings(budget=Budget.parse("60steps"), dataset="digits", seeds=(0,), widths=(1.0,), batch_size=32,
                         out=tmp_path / "small", claim3_optimizers=("adam",), **kw)


@pytest.mark.slow  # real training
def test_a_stopped_study_resumes_the_stopped_trial_from_its_checkpoint(tmp_path, monkeypatch):
    step = {"n": 0}
    original = gan.model.GAN.train_step

    def ctrl_c_at_step_20(self, batch):
        step["n"] += 1
        if step["n"] == 20:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, mid-trial
        return original(self, batch)

    monkeypatch.setattr(gan.model.GAN, "train_step", ctrl_c_at_step_20)
    with pytest.raises(Interrupted, match="compare study --resume"):
        study(small(tmp_path), LocalExecutor(ExecutorOptions()), log=lambda m: None)
    trials = tmp_path / "small" / "trials"
    assert not (trials / "gan-w1-s0.json").exists() and (trials / "gan-w1-s0" / "gan" / "ckpt.pt").is_file()
    # the stopped session's time is kept
    (stopped,) = json.loads((tmp_path / "small" / "study.json").read_text())["sessions"]
    assert stopped["stopped"] and stopped["trials_run"] == 0 and stopped["seconds"] > 0
    monkeypatch.setattr(gan.model.GAN, "train_step", original)
    resumed = []
    monkeypatch.setattr(pipeline, "run",
                        lambda settings, *a, resume=False, **k: resumed.append((settings.out.name, resume))
                        or run_pipeline(settings, *a, resume=resume, **k))
    result = study(small(tmp_path), LocalExecutor(ExecutorOptions()), log=lambda m: None)
    assert resumed == [("gan-w1-s0", True), ("vae-w1-s0", False), ("gan-minimax-w1-s0", False)]
    assert result["counts"]["done"] == 3 and {r["steps"] for r in result["trials"]} == {60}
    assert [s.get("stopped", False) for s in result["sessions"]] == [True, False]
    assert result["wall_seconds"] == round(sum(s["seconds"] for s in result["sessions"]), 3)


run_pipeline = pipeline.run


@pytest.mark.parametrize("args, message", [
    (["--widths", "0.5,2"], "--widths must include 1"),
    (["--budget", "5s"], "a study needs a budget of steps, images, epochs or flops, not 5s"),
    (["--widths", "a"], "malformed --widths 'a'"),
    (["--dataset", "nope"], "unknown dataset 'nope'"),
    (["--batch-size", "0"], "--batch-size must be positive"),
    (["--jobs", "99"], "--jobs 99 is outside"),
    (["--tune", "2", "--optimizer", "sgd"],
     "--tune searches Adam's learning rates and betas; use it with --optimizer adam"),
])
def test_bad_flags_are_one_line_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "bad"
    result = run_cli("study", "--dataset", "digits", *args, "--out", str(out))
    assert result.exit_code == 2 and result.output.startswith(f"Error: {message}") and result.output.count("\n") == 1
    assert not out.exists()


def test_failed_trials_end_the_study_in_one_line_naming_the_first_and_its_record(tmp_path, monkeypatch):
    def fails(settings, *args, **kwargs):
        raise RuntimeError(f"planted in {settings.out.name}")

    monkeypatch.setattr(pipeline, "run", fails)
    out = tmp_path / "failing"
    result = run_cli("study", *tiny_options(60, "--seeds", "1", "--widths", "1"), "--claim3-optimizers", "adam",
                     "--out", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: 3 of 3 trials failed (first: gan-w1-s0: RuntimeError: planted in gan-w1-s0; its record, with the "
        f"traceback: {out / 'trials' / 'gan-w1-s0.json'}); the others are done: retry with: compare study --resume "
        f"{out}")
    assert "Traceback" in json.loads((out / "trials" / "gan-w1-s0.json").read_text())["traceback"]


def test_resume_of_what_is_not_a_study_and_study_flags_with_resume_are_refused(tmp_path):
    result = run_cli("study", "--resume", str(tmp_path))
    assert result.exit_code == 2 and "is not a study directory" in result.output
    result = run_cli("study", "--resume", str(tmp_path), "--seeds", "2", "--claim3-optimizers", "sgd")
    assert result.exit_code == 2 and "--seeds, --claim3-optimizers cannot be given with --resume" in result.output
    result = run_cli("study", "--resume", str(tmp_path), "--models", "gan", "vae")
    assert result.exit_code == 2 and "Error: --models cannot be given with --resume" in result.output


def test_the_study_takes_its_models_as_words_or_a_comma_list_like_run(monkeypatch, tmp_path):
    import compare.experiments.study as study_module
    from compare.errors import UserError

    seen = []

    def stop_at_the_settings(settings, executor, *args, **kwargs):
        seen.append(settings.models)
        raise UserError("stopped before training")

    monkeypatch.setattr(study_module, "study", stop_at_the_settings)
    for words in (["gan", "vae"], ["gan,vae"], ["vae", "gan"], ["vae", "--models", "gan"]):
        result = run_cli("study", "--dataset", "digits", "--models", *words, "--out", str(tmp_path / "s"))
        assert result.output == "Error: stopped before training\n", (words, result.output)
    assert seen == [("gan", "vae")] * 4
    result = run_cli("study", "--models", "gan", "gan:minimax", "--out", str(tmp_path / "s"))
    assert result.exit_code == 2 and "one GAN and one VAE" in result.output and "got gan (gan), gan:minimax (gan)" in (
        result.output)


@pytest.mark.slow  # real training
def test_tuning_runs_equal_searches_and_the_study_uses_the_best(tmp_path):
    result = study(small(tmp_path, tune=2), LocalExecutor(ExecutorOptions()), log=lambda m: None)
    tuning = result["tuning"]
    assert tuning["budget"] == "15steps" and [len(t["trials"]) for t in tuning["families"].values()] == [2, 2]
    for family, t in tuning["families"].items():
        best = min(t["trials"], key=lambda r: r["heldout_kid_x1e3"])
        assert t["chosen"] == best["params"] == result["recipes"][family]
        config = json.loads((tmp_path / "small" / "trials" / f"{family}-w1-s0"
                             / "config.json").read_text())["models"][family]
        assert {k: config[k] for k in best["params"]} == best["params"]  # the study trained on the chosen recipe
    assert "d_width" in tuning["families"]["gan"]["chosen"] and "d_width" not in tuning["families"]["vae"]["chosen"]
    assert "Recipes: tuning" in (tmp_path / "small" / "report.html").read_text()


@pytest.mark.slow  # real training
def test_real_features_are_extracted_once_across_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    extract = Extractor.extract
    monkeypatch.setattr(Extractor, "extract",
                        lambda self, images, what="images": calls.append(what) or extract(self, images, what))
    from compare.models import parse_model_specs
    from compare.settings import RunSettings

    def trial(name):
        calls.clear()
        settings = RunSettings(models=tuple(parse_model_specs(["gan"])), budget=Budget.parse("4steps"),
                               dataset="digits", batch_size=32, out=tmp_path / name, curve_points=2)
        return pipeline.run(settings, show_progress=False, artifacts=False).scores.quality, list(calls)

    first, first_calls = trial("a")
    second, second_calls = trial("b")
    real = {"held-out images", "train images", "train reference"}
    assert real <= set(first_calls) and not real & set(second_calls)
    assert second_calls == ["samples of gan", "samples of gan"]  # the curve point's and the final evaluation's samples
    assert json.dumps(second["floor"]) == json.dumps(first["floor"])  # the cached features give the same numbers


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc): its children, theirs (a fork server's workers), and so on."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    found, below = [], {pid}
    while below:
        below = {child for child, parent in parents.items() if parent in below}
        found += sorted(below)
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child nobody reaped holds nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_kill_9_of_a_jobs_2_study_leaves_no_worker_and_two_processes_resume_it_to_the_serial_numbers(tiny, tmp_path):
    """Also the test that --jobs 2 gives the serial numbers: the killed study (one seed, width 1: five trials) stopped
    at its first checkpoint, so the resume's two worker processes train (nearly) every trial again, and each trial's
    numbers must equal those of the trial of the same name in the serial `tiny` study (a trial's numbers depend on its
    own settings only, not on the other trials of its study)."""
    if not Path("/proc/self/stat").exists() or LocalExecutor(ExecutorOptions(jobs=0)).jobs < 2:
        pytest.skip("needs Linux's /proc and 2 cores")
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    study_args = ["study", *tiny_options(60, "--seeds", "1", "--widths", "1"), "--jobs", "2", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "compare", *study_args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not list(out.glob("trials/*/*/ckpt.pt")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = _descendants(proc.pid)  # the fork server, the resource tracker, the workers
    proc.kill()  # SIGKILL: the parent cannot tell its workers anything
    assert proc.wait() == -signal.SIGKILL and workers
    stopped_by = time.monotonic() + 10
    while any(map(_running, workers)) and time.monotonic() < stopped_by:
        time.sleep(0.1)
    assert not [pid for pid in workers if _running(pid)], "a worker of the killed study still runs after 10 s"
    assert len(list((out / "trials").glob("*.json"))) < 5  # killed mid-study: the resume has trials to run
    result = run_cli("study", "--resume", str(out), "--jobs", "2")
    assert result.exit_code == 0, result.output
    to_run = int(re.search(r"(\d+) to run \(local, 2 at a time", result.output).group(1))
    assert to_run >= 4, result.output  # the workers, not the killed command, trained nearly every trial
    resumed, serial = numbers(out), numbers(tiny[0])
    assert sorted(resumed) == sorted(f"{m}-w1-s0" for m in ("gan", "vae", "gan-minimax", "gan-sgd", "gan-minimax-sgd"))
    assert resumed == {trial: serial[trial] for trial in resumed}


def test_a_lock_naming_a_live_worker_of_a_dead_owner_is_not_taken_over(tmp_path):
    """A killed study's workers may still be stopping: a resume must not train beside them."""
    import subprocess
    import sys

    from compare.errors import UserError
    from compare.rundir import RunLock

    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".lock").write_text(f"999999999\n{worker.pid}\n")  # the owner is gone, its worker is not
        with pytest.raises(UserError,
                           match=f"still in use by process {worker.pid}, a worker of the stopped process 999999999"):
            RunLock(tmp_path).__enter__()
    finally:
        worker.kill()
        worker.wait()
    with RunLock(tmp_path):  # once the worker has stopped, the lock is taken over
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"


@pytest.mark.parametrize("args, message", [
    (["--tune", "100000000000000000000"],
     "Invalid value for '--tune': 100000000000000000000 is not in the range 0<=x<=1000"),
    (["--seeds", "100000000000000000000"],
     "Invalid value for '--seeds': 100000000000000000000 is not in the range 1<=x<=1000"),
    (["--widths", ",".join(str(k + 1) for k in range(65))], "--widths lists 65 widths, more than 64"),
    (["--seed", "4294967295", "--seeds", "2"], "seed 4294967296 is outside 0..4294967295"),
])
def test_count_flags_and_seeds_are_bounded_before_anything_is_written(tmp_path, args, message):
    out = tmp_path / "bounded"
    result = run_cli("study", "--dataset", "digits", *args, "--out", str(out))
    assert (result.exit_code == 2 and result.output.startswith(f"Error: {message}")
            and result.output.count("\n") == 1), result.output
    assert not out.exists()


@pytest.mark.parametrize("field, value, message",
                         [("seeds", [0, 4294967296], "seed 4294967296 is outside 0..4294967295"),
                          ("tune", 10**20, "--tune must be 0 to 1000 trials per family")])
def test_an_edited_study_json_out_of_bounds_is_refused(tmp_path, field, value, message):
    from compare.io import write_json
    from compare.rundir import write_marker

    out = tmp_path / "edited"
    out.mkdir()
    write_marker(out, "study")
    settings = {**small(tmp_path).describe(), field: value}
    write_json(out / "study.json", {"settings": settings, "trials": []})
    result = run_cli("study", "--resume", str(out))
    assert result.exit_code == 2 and result.output.startswith(f"Error: {message}"), result.output
    assert sorted(p.name for p in out.iterdir()) == [".compare-run", "study.json"]


def test_sweep_and_run_seeds_refuse_a_seed_past_the_last(tmp_path):
    for command in (["sweep", "--models", "gan", "--widths", "1"], ["run", "--models", "gan"]):
        out = tmp_path / command[0]
        result = run_cli(*command, "--dataset", "digits", "--seed", "4294967295", "--seeds", "2", "--out", str(out))
        assert result.exit_code == 2 and result.output.startswith("Error: seed 4294967296 is outside"), result.output
        assert not out.exists()


@pytest.mark.slow  # real training
def test_a_full_disk_stops_the_study_in_one_line_and_it_resumes(tmp_path, monkeypatch):
    import compare.io

    real_fsync, failed = os.fsync, []

    def fsync(fd):  # the disk fills up once the first trial has written its step-0 checkpoint
        if ("/trials/" in os.readlink(f"/proc/self/fd/{fd}")
            and list((tmp_path / "full" / "trials").glob("*/*/ckpt.pt"))):
            failed.append(fd)
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    if not Path("/proc/self/fd").exists():
        pytest.skip("needs Linux's /proc")
    monkeypatch.setattr(compare.io.os, "fsync", fsync)
    out = tmp_path / "full"
    args = ["study", "--dataset", "digits", "--budget", "60steps", "--seeds", "1", "--widths", "1", "--batch-size",
            "32", "--claim3-optimizers", "adam", "--out", str(out)]
    result = one_thread(lambda: run_cli(*args))
    error = result.output.splitlines()[-1]  # after the study's progress lines: one error line, no traceback
    assert (result.exit_code == 2 and result.output.count("Error") == 1
            and "Traceback" not in result.output), result.output
    assert (error.startswith("Error: cannot write") and "No space left on device" in error
            and error.endswith(f"continue with: compare study --resume {out}"))
    assert not list((out / "trials").glob("*.json"))  # no trial recorded as failed: the study stopped at the first
    monkeypatch.setattr(compare.io.os, "fsync", real_fsync)
    resumed = one_thread(lambda: run_cli("study", "--resume", str(out)))
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "study.json").read_text())["counts"]["done"] == 3  # gan, vae, gan:minimax


# real training: two tiny studies (one seed each: the side-by-side report, not the verdicts, is under test)
@pytest.mark.slow
def test_a_study_over_two_architectures_runs_one_study_each_and_reports_them_side_by_side(tmp_path):
    out = tmp_path / "both"
    args = ["study", *tiny_options(60, "--seeds", "1", "--widths", "1", "--claim3-optimizers", "adam", "--arch",
                                   "mlp,conv")]
    result = one_thread(lambda: run_cli(*args, "--out", str(out)))
    assert result.exit_code == 0, result.output
    studies = {arch: json.loads((out / arch / "study.json").read_text()) for arch in ("mlp", "conv")}
    assert {arch: s["settings"]["arch"] for arch, s in studies.items()} == {"mlp": "mlp", "conv": "conv"}
    conv_config = json.loads((out / "conv" / "trials" / "gan-w1-s0" / "config.json").read_text())
    assert conv_config["models"]["gan"]["arch"] == "conv"
    report = (out / "report.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| claim"))
    assert header.replace(" ", "") == "|claim|mlp|conv|"
    for arch, s in studies.items():  # each column holds that study's verdicts, claim by claim
        column = 2 if arch == "mlp" else 3
        rows = [line.split("|") for line in report.splitlines() if line.startswith("| Claim")]
        assert [r[column].strip() for r in rows] == [c["verdict"] for c in s["claims"]]
        assert f"Claim 1, {arch}" in result.output
    assert (out / "report.html").is_file() and (out / "mlp" / "report.html").is_file()
    again = run_cli("study", "--resume", str(out))
    assert again.exit_code == 0 and again.output.count("0 already done") == 0 and "0 to run" in again.output
    refused = run_cli(*args[:-1], "mlp", "--out", str(out))
    assert refused.exit_code == 2 and "already exists and is not empty (nor a study directory" in refused.output


def test_an_unknown_architecture_in_the_list_is_one_line_and_writes_nothing(tmp_path):
    result = run_cli("study", "--dataset", "digits", "--arch", "mlp,resnet", "--out", str(tmp_path / "x"))
    assert (result.exit_code == 2 and result.output
            == "Error: malformed --arch 'mlp,resnet': give one or more of mlp, conv, separated by commas\n")
    assert not (tmp_path / "x").exists()
