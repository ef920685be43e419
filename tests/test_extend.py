"""Continuing a run: a finished run extended to a larger budget ends as a run straight to it, a finished run
resumed without one is left alone, a smaller budget is refused, and a resume says what it resumes."""

import json
import shutil

import pytest

import compare.experiments.pipeline as runner
import compare.train as train_stage
from compare.io import write_json
from compare.experiments.pipeline import finished_run
from compare.train import budget_extended
from compare.errors import UserError
from helpers import SETTINGS, assert_same_run, one_line_error, run_cli, snapshot

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)

# what a rerun measures anew (size: throughputs)
TIMINGS = {"s", "train_seconds", "steps_per_second", "size", "content_sha256", "run"}


def without(obj, keys):
    if isinstance(obj, dict):
        return {k: without(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [without(v, keys) for v in obj]
    return obj


def budget(steps: str) -> list[str]:
    at = SETTINGS.index("--budget")
    return [*SETTINGS[:at + 1], steps, *SETTINGS[at + 2:]]


@pytest.mark.slow
def test_a_run_extended_to_a_larger_budget_ends_as_a_run_straight_to_it(tiny_run, tmp_path):
    """50 steps, then --budget 120steps: the same weights, optimiser and RNG states, loss histories, grids and every
    number of metrics.json but timings as tiny_run (120 steps in one go, same seed): the data order is replayed from
    the seed and the step, every RNG stream is in the checkpoint, and evaluations draw from streams of their own."""
    out = tmp_path / tiny_run.name
    assert run_cli("run", "--models", "gan", "vae", *budget("50steps"), "--out", out).exit_code == 0
    short = json.loads((out / "metrics.json").read_text())
    result = run_cli("run", "--resume", out, "--budget", "120steps", "--quiet")
    assert result.exit_code == 0, result.output
    assert_same_run(out, tiny_run)
    got, want = (json.loads((d / "metrics.json").read_text()) for d in (out, tiny_run))
    assert without(got, TIMINGS | {"curve"}) == without(want, TIMINGS | {"curve"})
    for label in ("gan", "vae"):
        curve, straight = got["models"][label]["curve"], {p["steps"]: p for p in want["models"][label]["curve"]}
        # the 50-step run's points, its final evaluation as a point, then the 120-step schedule's points past 50
        assert [p["steps"] for p in curve] == [6, 12, 19, 25, 31, 38, 44, 50, 60, 75, 90, 105, 120]
        assert without(curve[:7], TIMINGS) == without(short["models"][label]["curve"][:7], TIMINGS)
        assert all(without(p, TIMINGS) == without(straight[p["steps"]], TIMINGS) for p in curve[8:])
        # the 50-step final evaluation scored again by the curve's evaluator: the same numbers up to summation order
        for view, numbers in short["models"][label]["curve"][-1]["views"].items():
            assert curve[7]["views"][view] == pytest.approx(numbers, rel=1e-9)
    config = json.loads((out / "config.json").read_text())
    assert config["budget"]["spec"] == "120steps" and [e["from"]["spec"] for e in config["extended"]] == ["50steps"]
    lines = [json.loads(line) for line in (out / "progress" / "curve.jsonl").read_text().splitlines()]
    assert sorted((e["model"], e["steps"]) for e in lines) == sorted((m, p["steps"]) for m in ("gan", "vae")
                                                                     for p in got["models"][m]["curve"])


def test_resuming_a_finished_run_says_where_its_report_is_and_redoes_nothing(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, out)
    before = snapshot(out)
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: pytest.fail("a finished run was evaluated again"))
    monkeypatch.setattr(train_stage, "train", lambda *a, **k: pytest.fail("a finished model was retrained"))
    for same in ([], ["--budget", "120steps"]):
        result = run_cli("run", "--resume", out, *same)
        assert result.exit_code == 0, result.output
        assert result.output == (f"{out} is finished (120steps each); its report: {out / 'report.html'}. To train on, "
                                 f"give a larger budget: compare run --resume {out} --budget <more than 120steps>\n")
    assert snapshot(out) == before  # config.json included: nothing was rewritten


@pytest.mark.parametrize("smaller, why",
                         [("60steps", "--budget 60steps is smaller than this run's 120steps (gan: 60 steps < 120)"),
                          ("5s", "cannot change the budget of a run from 120steps to 5s")])
def test_a_smaller_or_seconds_budget_is_refused_in_one_line_with_nothing_changed(tiny_run, tmp_path, smaller, why):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    before = snapshot(out)
    assert why in one_line_error(run_cli("run", "--resume", out, "--budget", smaller))
    assert snapshot(out) == before


def test_a_run_killed_while_its_extension_trained_is_not_finished(tiny_run, tmp_path):
    """metrics.json is still the smaller budget's until the extension's evaluation rewrites it: config.json's larger
    budget says there is training left."""
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    assert finished_run(out) == (out / "report.html", [])
    config = json.loads((out / "config.json").read_text())
    write_json(out / "config.json", {**config, "budget": {**config["budget"], "steps": {"gan": 240, "vae": 240}}})
    assert finished_run(out) is None
    (out / "metrics.json").unlink()
    assert finished_run(out) is None


def test_budget_extended_compares_every_models_planned_steps():
    old = {"budget": {"spec": "100steps", "steps": {"gan": 100, "vae": 100}}}
    assert budget_extended(old, {"budget": {"spec": "200steps", "steps": {"gan": 200, "vae": 200}}})
    assert not budget_extended(old, {"budget": {"spec": "3200images", "steps": {"gan": 100, "vae": 100}}})
    # a flops budget can buy one model fewer steps
    with pytest.raises(UserError, match="smaller than this run's 100steps"):
        budget_extended(old, {"budget": {"spec": "1e12flops", "steps": {"gan": 300, "vae": 90}}})


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_a_resume_says_what_it_resumes(faulty, tmp_path):
    faulty("sigint", at=37)
    out = tmp_path / "run"
    assert run_cli("run", "--models", "faulty", "vae", *SETTINGS, "--out", out).exit_code == 130
    faulty("none")
    result = run_cli("run", "--resume", out, "--checkpoint-every", "20")  # not --quiet: the display is on
    assert result.exit_code == 0, result.output
    assert "resuming faulty from step 37 of 120\n" in result.stderr
    lines = [json.loads(line) for line in (out / "progress" / "curve.jsonl").read_text().splitlines()]
    assert [e["steps"] for e in lines if e["model"] == "faulty"] == [15, 30, 45, 60, 75, 90, 105, 120]
