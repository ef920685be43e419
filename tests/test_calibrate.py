"""`compare calibrate`: the known-answer controls run end to end, their table, calibration.json, the exit code,
and the planted salt of claim 1's positive control counted back exactly."""

import json
import shutil
import signal

import pytest
import torch

import compare.calibrate.controls as controls
import compare.calibrate.run as calibration
from compare.calibrate import ControlResult
from compare.metrics.continuity import bad_pixel_counts
from compare.claims.rules import NOT_SUPPORTED, SUPPORTED, Verdict
from compare.rundir import Interrupted
from helpers import one_line_error, run_cli

COLUMNS = ["control", "expected", "got", "counts", "result"]
CONTROL_FIELDS = {"control", "expected", "got", "counts", "passed", "details"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory, quick_coverage):
    """One `compare calibrate --quick` (digits, tiny budgets), shared by the tests that read it: its directory, the
    command's result, and what its simulated and coverage controls returned (for cached_controls). Its coverage
    controls are the session's interval_coverage(quick=True) (conftest.quick_coverage, the same call's results)."""
    out = tmp_path_factory.mktemp("calibration") / "quick"

    def coverage(quick, seed, jobs):
        assert (quick, seed, jobs) == (True, 0, 1)  # the call quick_coverage made
        return quick_coverage

    made = {}
    with pytest.MonkeyPatch.context() as mp:
        for name, real in (("rule_controls", calibration.rule_controls), ("interval_coverage", coverage)):
            mp.setattr(calibration, name,
                       lambda *a, _real=real, _name=name, **k: made.setdefault(_name, _real(*a, **k)))
        result = run_cli("calibrate", "--quick", "--quiet", "--out", out)
    return out, result, made


def test_plant_salt_adds_exactly_the_planted_lone_pixels():
    images = torch.zeros(3, 1, 8, 8)
    images[0, 0, 2:6, 3] = 1.0  # a clean vertical stroke: no lone pixel, no speck
    images[2] = 1.0  # all ink: no background pixel whose neighbours are background, so no room
    before = bad_pixel_counts(images)
    salted, planted = controls.plant_salt(images, 4, torch.Generator().manual_seed(0))
    after = bad_pixel_counts(salted)
    assert planted.tolist() == [4, 4, 0]
    for key in ("lone_pixels_per_image", "lone_ink_per_image", "specks_per_image"):
        assert (after[key] - before[key]).tolist() == [4, 4, 0], key
    for key in ("lone_holes_per_image", "fragments_per_image"):
        assert torch.equal(after[key], before[key]), key
    assert torch.equal(images[2], salted[2]) and torch.equal(images[0, 0, 2:6, 3], salted[0, 0, 2:6, 3])


@pytest.mark.slow
def test_quick_calibration_writes_its_table_json_and_report(quick):
    out, result, _ = quick
    summary = json.loads((out / "calibration.json").read_text())
    assert result.exit_code == (0 if summary["passed"] else 1), result.output
    lines = result.stdout.strip().splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == COLUMNS
    assert lines[-1] == str(out / "calibration.html")  # the report's path last, the verdict two lines above it
    assert lines[-3].startswith(summary["summary"] + " (") and lines[-3].endswith(" s)")
    assert ("FAILED" in lines[-3]) == (not summary["passed"]) and ("passed" in lines[-3]) == summary["passed"]
    assert (summary["kind"] == "calibration" and summary["settings"]["quick"]
            and summary["settings"]["dataset"] == "digits")
    assert summary["wall_seconds"] > 0 and set(summary["seconds"]) == {"trained", "simulated", "coverage"}
    assert "torch" in summary["versions"]
    assert summary["passed"] == all(c["passed"] for c in summary["controls"])
    assert all(set(c) == CONTROL_FIELDS for c in summary["controls"])
    # the rest: simulated and coverage
    trained = {"claim 3 +", "claim 3 -", "claim 1 -", "claim 1, one seed", "claim 1 +"}
    assert {c["control"].split(":")[0] for c in summary["controls"]} >= trained
    assert (any(c["control"].startswith("claim 2") for c in summary["controls"])
            and any("interval" in c["control"] for c in summary["controls"]))
    for c in summary["controls"]:  # one table row per control, in order, with its pass/FAIL
        row = next(line for line in lines if line.startswith(f"| {c['control']}"))
        assert row.rstrip(" |").endswith("pass" if c["passed"] else "FAIL"), row
    html = (out / "calibration.html").read_text()
    assert "<table>" in html and "http" not in html.replace("http-equiv", "")  # self-contained
    assert "| control | expected | got | counts | result |" in (out / "calibration.md").read_text()


@pytest.mark.slow
def test_quick_controls_plant_what_they_say(quick):
    out, _, _ = quick
    found = {c["control"].split(":")[0]: c for c in json.loads((out / "calibration.json").read_text())["controls"]}
    salt = found["claim 1 +"]["details"]
    assert salt["counted_back_exactly"] and salt["planted_per_image"] == [2.0, 2.0, 2.0]
    negative = found["claim 1 -"]["details"]
    assert negative["pairs"] == [[0, 3], [1, 4], [2, 5]]  # other seeds, so the null is not trivially exact
    for seed, n in negative["lone_pixels_recount"].items():  # the samples judged are the runs' own draws
        assert n["recounted"] == n["metrics.json"], seed
    assert found["claim 3 -"]["details"]["pairs"] == [[0, 3], [1, 4], [2, 5]]
    positive = found["claim 3 +"]["details"]["final_fid"]  # the tenfold slower copy is behind on every seed
    assert all(positive["minimax role"][s] > positive["flipped-label role"][s] for s in positive["minimax role"])


@pytest.mark.slow
def test_quick_calibration_passes_every_control(quick):
    """The verdict rules and intervals give every known answer (issue 19): the toolkit's acceptance test."""
    out, result, _ = quick
    assert result.exit_code == 0, result.stdout


@pytest.fixture
def cached_controls(quick, monkeypatch, tmp_path):
    """The trained controls read from the quick run's finished trials (the trial loop keeps done trials), so a
    second calibration only judges; the rules' and intervals' controls as the quick run made them."""
    trials = tmp_path / "trials"
    shutil.copytree(quick[0] / "trials", trials)
    real = controls.trained_controls
    monkeypatch.setattr(calibration, "trained_controls",
                        lambda plan, data, seed, out, log, jobs=1: real(plan, data, seed, trials, log, jobs))
    made = quick[2]
    # the simulations are seeded: the quick run's results, not a second run
    for name in ("rule_controls", "interval_coverage"):
        monkeypatch.setattr(calibration, name, lambda *a, _name=name, **k: made[_name])
    return trials


@pytest.mark.slow
def test_a_control_that_fails_makes_the_command_exit_1(cached_controls, monkeypatch, tmp_path):
    def wrong(data, steps=None):  # a claim-1 rule that always finds the claim false
        return Verdict("claim 1", NOT_SUPPORTED, "test rule")

    monkeypatch.setattr(controls, "judge_claim1", wrong)
    result = run_cli("calibrate", "--quick", "--quiet", "--out", tmp_path / "cal")
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().splitlines()
    assert ("FAILED" in lines[-3] and "claim 1 +" in lines[-3]
            and lines[-1] == str(tmp_path / "cal" / "calibration.html"))
    summary = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert not summary["passed"]
    salt = next(c for c in summary["controls"] if c["control"].startswith("claim 1 +"))
    assert (salt["got"], salt["expected"], salt["passed"]) == (NOT_SUPPORTED, SUPPORTED, False)


@pytest.mark.slow
def test_overwrite_replaces_only_a_calibration(cached_controls, tmp_path):
    out = tmp_path / "cal"
    assert run_cli("calibrate", "--quick", "--quiet", "--out", out).exit_code in (0, 1)
    assert "--overwrite" in one_line_error(run_cli("calibrate", "--quick", "--quiet", "--out", out))
    (out / "notes.txt").write_text("mine")
    assert "notes.txt" in one_line_error(run_cli("calibrate", "--quick", "--quiet", "--out", out, "--overwrite"))
    assert (out / "notes.txt").read_text() == "mine" and (out / "calibration.json").is_file()
    (out / "notes.txt").unlink()
    assert run_cli("calibrate", "--quick", "--quiet", "--out", out, "--overwrite").exit_code in (0, 1)
    assert (out / "calibration.json").is_file()


def test_bad_input_is_one_line_and_touches_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(calibration, "trained_controls", lambda *a: pytest.fail("ran controls on bad input"))
    assert "nope" in one_line_error(run_cli("calibrate", "--quick", "--dataset", "nope", "--out", tmp_path / "a"))
    assert not (tmp_path / "a").exists()
    other = tmp_path / "run"
    other.mkdir()
    (other / "keep.txt").write_text("keep")
    one_line_error(run_cli("calibrate", "--quick", "--out", other, "--overwrite"))
    assert [p.name for p in other.iterdir()] == ["keep.txt"] and (other / "keep.txt").read_text() == "keep"
    one_line_error(run_cli("calibrate", "--seed", "-1"))


def test_a_stop_says_how_to_run_it_again(tmp_path, monkeypatch):
    def stopped(*args):
        raise Interrupted(signal.SIGINT, tmp_path / "cal" / "trials" / "gan-lr0.001-seed0", "at step 5 of 'gan'")

    monkeypatch.setattr(calibration, "trained_controls", stopped)
    message = one_line_error(run_cli("calibrate", "--quick", "--quiet", "--out", tmp_path / "cal"), code=130)
    assert (f"compare calibrate --quick --seed 0 --out {tmp_path / 'cal'} --overwrite" in message
            and "compare run" not in message)


def test_table_and_last_line_say_which_control_failed():
    results = [ControlResult("a", "supported", "supported", "3 seeds", True),
               ControlResult("b", "not decided", "mixed", "3 seeds", False)]
    assert calibration.table(results).rows[1][-1] == "FAIL" and calibration.table(results).headers == COLUMNS
    assert calibration.last_line(results) == "1 of 2 controls FAILED: b"
    assert calibration.last_line(results[:1]) == "all 1 controls passed" and calibration.passed(results[:1])
    assert not calibration.passed([])  # no control ran: nothing was shown to pass
