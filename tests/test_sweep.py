"""Capacity sweeps: trial grid, intervals, claim 2 through compare.claims.rules, resume, failure isolation, executors,
`run --seeds`.

Most tests stand a planted runner in for compare.experiments.pipeline.run: it returns a metrics entry with a
known FID per (family, width, seed), so every interval and verdict has a known answer, and no
test depends on how FID is computed. The last tests train for real on digits.
"""

import json
from pathlib import Path
import math
import re

import pytest
import torch

from compare.experiments import pipeline as runner
from compare.settings import Budget
from compare.errors import UserError
from compare.experiments.executors import ExecutorOptions, LocalExecutor, make_executor
from compare.models import parse_model_specs
from compare.experiments.seeds import summarize_seeds
from compare.claims.trial_row import TrialRow
from compare.experiments.sweep import SweepSettings, parse_widths, seed_table, summarize_sweep, sweep, trial_id
from helpers import FAST, one_line_error, run_cli, tiny_options, unrendered_figures

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)

T_975_DF1 = 12.706204736174694
NOISE = {0: -1.0, 1: +1.0, 2: 0.0}  # per-seed offset of the planted FID, times the spread


class PlantedRunner:
    """Stands in for runner.run: size 1000 * width * (2 for a VAE); FID from a table plus seed noise."""

    def __init__(self, fid: dict[tuple[str, float], float], spread: float = 0.1, fail: set = frozenset()):
        self.fid, self.spread, self.fail, self.calls = fid, spread, set(fail), []

    def __call__(self, settings, show_progress=True, resume=False, artifacts=True):
        spec, width, seed = settings.models[0], settings.width, settings.seed
        self.calls.append((spec.label, width, seed))
        settings.out.mkdir(parents=True)  # a run directory, as the real runner makes
        if (spec.label, width, seed) in self.fail:
            raise RuntimeError("planted failure")
        part = int(1000 * width * (2 if spec.family == "vae" else 1))
        numbers = {"quality": {"fid": self.fid[spec.family, width] + self.spread * NOISE[seed]},
                   "continuity": {"lone_pixels_per_image": 0.01 * width}}
        entry = {"parameters": {spec.entry.sampler_part: part, "critic": part, "total": 2 * part}, "steps": 30,
                 "views": {next(iter(spec.views())): numbers}}
        return PlantedResult({spec.label: entry})


class PlantedResult:
    def __init__(self, summary: dict):
        self._summary = summary

    def summary(self) -> dict:
        return self._summary


def settings_for(tmp_path, widths=(0.5, 1.0), seeds=(0, 1), **kw):
    return SweepSettings(models=tuple(parse_model_specs(["gan", "vae"])), widths=tuple(widths), seeds=tuple(seeds),
                         budget=Budget.parse("30steps"), dataset="digits", batch_size=32, out=tmp_path / "sweep", **kw)


def run_planted(monkeypatch, settings, planted):
    monkeypatch.setattr(runner, "run", planted)
    return sweep(settings, LocalExecutor(ExecutorOptions()), log=lambda message: None)


FIDS = {("gan", 0.5): 40.0, ("gan", 1.0): 20.0, ("vae", 0.5): 60.0, ("vae", 1.0): 50.0}


def test_tiny_sweep_runs_every_trial_once_and_gives_t_intervals(monkeypatch, tmp_path):
    planted = PlantedRunner(FIDS)
    result = run_planted(monkeypatch, settings_for(tmp_path), planted)
    assert sorted(planted.calls) == sorted((m, w, s) for m in ("gan", "vae") for w in (0.5, 1.0) for s in (0, 1))
    assert result["counts"] == {"trials": 8, "done": 8, "failed": 0, "pending": 0, "skipped_as_done": 0}
    gan_w1 = result["curves"]["gan"]["points"][1]
    assert gan_w1["width"] == 1.0 and gan_w1["size"] == 2000 and gan_w1["seeds"] == [0, 1]
    assert gan_w1["quality"]["values"] == pytest.approx([19.9, 20.1])  # seeds 0, 1 found by the bare name "fid"
    assert gan_w1["quality"]["ci95"] == pytest.approx([20 - 0.1 * T_975_DF1, 20 + 0.1 * T_975_DF1])
    assert gan_w1["continuity"]["mean"] == pytest.approx(0.01)
    on_disk = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert on_disk["curves"] == json.loads(json.dumps(result["curves"])) and len(on_disk["trials"]) == 8
    assert {t["id"] for t in on_disk["trials"]} >= {"gan-w0.5-s0", "vae-w1-s1"}
    assert on_disk["metrics"]["quality"] == {"key": "fid", "better": "lower"}
    for name in result["plots"]:
        assert (tmp_path / "sweep" / name).read_bytes().startswith(b"\x89PNG")
    assert result["plots"] == ["sweep_fid.png", "sweep_lone_pixels_per_image.png"]


def test_rerun_skips_every_done_trial_and_runs_only_new_widths(monkeypatch, tmp_path):
    run_planted(monkeypatch, settings_for(tmp_path), PlantedRunner(FIDS))
    again = PlantedRunner(FIDS)
    result = run_planted(monkeypatch, settings_for(tmp_path), again)
    assert again.calls == [] and result["counts"]["skipped_as_done"] == 8 and result["counts"]["done"] == 8
    wider = PlantedRunner({**FIDS, ("gan", 2.0): 10.0, ("vae", 2.0): 30.0})
    result = run_planted(monkeypatch, settings_for(tmp_path, widths=(0.5, 1.0, 2.0)), wider)
    assert sorted(wider.calls) == [("gan", 2.0, 0), ("gan", 2.0, 1), ("vae", 2.0, 0), ("vae", 2.0, 1)]
    assert result["counts"]["done"] == 12


def test_a_failed_trial_is_recorded_the_rest_complete_and_a_rerun_retries_it(monkeypatch, tmp_path):
    planted = PlantedRunner(FIDS, fail={("vae", 1.0, 1)})
    result = run_planted(monkeypatch, settings_for(tmp_path), planted)
    assert len(planted.calls) == 8 and result["counts"]["done"] == 7 and result["counts"]["failed"] == 1
    failed = [t for t in result["trials"] if t["status"] == "failed"]
    assert [t["id"] for t in failed] == ["vae-w1-s1"] and failed[0]["error"] == "RuntimeError: planted failure"
    record = json.loads((tmp_path / "sweep" / "trials" / "vae-w1-s1.json").read_text())
    assert record["status"] == "failed" and "planted failure" in record["traceback"]
    assert result["curves"]["vae"]["points"][1]["quality"]["n"] == 1  # the point keeps its one good seed
    retry = PlantedRunner(FIDS)
    result = run_planted(monkeypatch, settings_for(tmp_path), retry)
    assert retry.calls == [("vae", 1.0, 1)] and result["counts"]["failed"] == 0 and result["counts"]["done"] == 8
    assert (tmp_path / "sweep" / "trials" / "vae-w1-s1.failed-1").is_dir()  # the partial run is kept, not deleted


# Sizes (total parameters) at widths 0.5, 1, 2: the GAN 1,000, 2,000, 4,000; the VAE 2,000, 4,000, 8,000.
@pytest.mark.parametrize("fids, verdict, outcome", [
    # the GAN crosses every FID target between 1,000 and 2,000 parameters, the VAE between 4,000 and 8,000
    ({("gan", 0.5): 40, ("gan", 1.0): 15, ("gan", 2.0): 15, ("vae", 0.5): 60, ("vae", 1.0): 45, ("vae", 2.0): 20},
     "supported", "more"),
    # targets inside (20, 30): the VAE crosses 30 -> 15 between 2,000 and 4,000, sooner than the GAN's 45 -> 20
    ({("gan", 0.5): 60, ("gan", 1.0): 45, ("gan", 2.0): 20, ("vae", 0.5): 30, ("vae", 1.0): 15, ("vae", 2.0): 14},
     "not supported", "fewer"),
    # both have FID 20 at 2,000 and 10 at 4,000, with the same seed noise: the same size for every target
    ({("gan", 0.5): 40, ("gan", 1.0): 20, ("gan", 2.0): 10, ("vae", 0.5): 20, ("vae", 1.0): 10, ("vae", 2.0): 5},
     "not decided", "overlap"),
])
def test_claim_b_is_judged_by_the_claims_module(monkeypatch, tmp_path, fids, verdict, outcome):
    result = run_planted(monkeypatch, settings_for(tmp_path, widths=(0.5, 1.0, 2.0)), PlantedRunner(fids))
    claim = result["claim_b"]
    assert claim["verdict"] == verdict, claim["notes"]
    assert claim["claim"] == "a VAE needs a larger network than a GAN for the same sample quality" and claim["n"] == 2
    assert len(claim["targets"]) == 8 and {t["outcome"] for t in claim["targets"]} == {outcome}
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["claim_b"] == json.loads(json.dumps(claim))
    if verdict == "not decided":
        assert all(t["ratio_ci95"] == pytest.approx([1.0, 1.0]) for t in claim["targets"])  # exactly the same size


def test_claim_b_targets_and_sizes_come_from_the_planted_curves(monkeypatch, tmp_path):
    fids = {("gan", 0.5): 40, ("gan", 1.0): 15, ("gan", 2.0): 15, ("vae", 0.5): 60, ("vae", 1.0): 45, ("vae", 2.0): 20}
    claim = run_planted(monkeypatch, settings_for(tmp_path, widths=(0.5, 1.0, 2.0)), PlantedRunner(fids))["claim_b"]
    # log-spaced strictly inside (20.1, 39.9): the worst seed's best FID (the VAE's 20 + 0.1) to the best seed's FID
    # at the smallest width (the GAN's 40 - 0.1), so every seed of both families crosses every target
    assert [t["target_fid"] for t in claim["targets"]] == pytest.approx([20.1 * (39.9 / 20.1) ** (i / 9)
                                                                         for i in range(1, 9)])
    for t in claim["targets"]:
        assert 1000 < t["gan"]["params"] < 2000 and 4000 < t["vae"]["params"] < 8000
        assert t["ratio_ci95"][0] > 1
    one_seed = run_planted(monkeypatch, settings_for(tmp_path / "one", widths=(0.5, 1.0, 2.0), seeds=(0,)),
                           PlantedRunner(fids))
    assert one_seed["claim_b"]["verdict"] == "not decided" and "needs >= 2 seeds" in one_seed["claim_b"]["notes"][0]


def test_report_sweep_section_reads_the_stored_verdict(monkeypatch, tmp_path):
    from compare.report.sections.evidence import section_sweep
    from compare.report.runs import load_sweep

    fids = {("gan", 0.5): 40, ("gan", 1.0): 15, ("gan", 2.0): 15, ("vae", 0.5): 60, ("vae", 1.0): 45, ("vae", 2.0): 20}
    run_planted(monkeypatch, settings_for(tmp_path, widths=(0.5, 1.0, 2.0)), PlantedRunner(fids))
    blocks = section_sweep([load_sweep(tmp_path / "sweep")])
    assert blocks[1].text.startswith("sweep: claim 2, supported. ")  # the rule is in the verdict card, folded
    table = blocks[2]
    assert [row[-1] for row in table.rows] == ["more"] * 8 and table.rows[0][0] == "21.7"  # 20.1 * (39.9 / 20.1)^(1/9)
    # VAE / GAN as "1.9x", never a log
    assert all(re.fullmatch(r"[\d.]+x \[[\d.]+x, [\d.]+x\]", row[3]) for row in table.rows)


def test_size_by_generator_counts_only_the_sampling_network(monkeypatch, tmp_path):
    result = run_planted(monkeypatch, settings_for(tmp_path, size_by="generator"), PlantedRunner(FIDS))
    assert [p["size"] for p in result["curves"]["vae"]["points"]] == [1000, 2000]  # the decoder alone


def test_a_trial_row_reads_the_first_view_by_key_or_section():
    views = {"vae-mean": {"quality": {"fid": 3.0}, "continuity": {"specks_per_image": 0.5}},
             "vae-pixels": {"quality": {"fid": 9.0}, "continuity": {"specks_per_image": 4.0}}}
    row = TrialRow("vae-w1-s0", "vae", "vae", 1.0, 0, "adam", "done", "trials/vae-w1-s0", views=views)
    assert row.number("fid") == 3.0 and row.number("quality.fid") == 3.0 and row.number("fid", "vae-pixels") == 9.0
    assert row.number("specks_per_image") == 0.5 and row.number("continuity.specks_per_image") == 0.5
    assert (row.number("precision") is None and row.number("quality.nope") is None
            and row.number("continuity.fid") is None and row.number("fid", "vae-gmm") is None)


def test_sweep_json_rows_are_the_trial_records_rows_and_round_trip_exactly(monkeypatch, tmp_path):
    """Every row of sweep.json, done, failed and pending, reads back as the row its trial's record gives (as a resume
    rebuilds it) and writes out as the same JSON."""
    run_planted(monkeypatch, settings_for(tmp_path), PlantedRunner(FIDS, fail={("vae", 1.0, 1)}))
    settings = settings_for(tmp_path, widths=(0.5, 1.0, 2.0), size_by="generator")  # width 2: pending
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "sweep" / "trials").glob("*.json")}
    grid = [(spec, w, s) for spec in settings.models for w in settings.widths for s in settings.seeds]
    summary = summarize_sweep(settings, grid, records, "planted", 0)
    rows = [TrialRow.from_json(row) for row in json.loads(json.dumps(summary["trials"]))]
    assert {r.status for r in rows} == {"done", "failed", "pending"}
    assert rows == [TrialRow.from_record(trial_id(spec, w, s), spec, w, s, records.get(trial_id(spec, w, s)),
                                         "generator") for spec, w, s in grid]
    assert [r.to_json() for r in rows] == summary["trials"]
    gan = next(r for r in rows if r.id == "gan-w1-s1")
    assert (gan.size, gan.parameters["total"], gan.number("fid"), gan.steps) == (1000, 2000, 20.1, 30)
    failed = next(r for r in rows if r.status == "failed")
    assert (failed.id, failed.error, failed.user_error) == ("vae-w1-s1", "RuntimeError: planted failure", False)
    assert next(r for r in rows if r.id == "gan-w2-s0").to_json() == {
        "id": "gan-w2-s0", "model": "gan", "family": "gan", "width": 2.0, "seed": 0, "optimizer": "adam",
        "status": "pending", "run_dir": "trials/gan-w2-s0"}
    with pytest.raises(UserError, match="a trial row of another layout .*quality"):
        TrialRow.from_json({**summary["trials"][0], "quality": 40.0})  # a sweep.json written before TrialRow


def test_a_metric_absent_from_the_trials_is_reported_not_invented(monkeypatch, tmp_path):
    result = run_planted(monkeypatch, settings_for(tmp_path, continuity="specks_per_image"), PlantedRunner(FIDS))
    assert len(result["missing_metrics"]["specks_per_image"]) == 8  # a registered key the planted entries lack
    assert result["plots"] == ["sweep_fid.png"]


def test_resuming_with_another_budget_is_refused(monkeypatch, tmp_path):
    run_planted(monkeypatch, settings_for(tmp_path), PlantedRunner(FIDS))
    other = settings_for(tmp_path)
    other = SweepSettings(**{**other.__dict__, "budget": Budget.parse("60steps")})
    with pytest.raises(UserError, match="holds a sweep with budget '30steps', not '60steps'"):
        run_planted(monkeypatch, other, PlantedRunner(FIDS))
    # the trials' intervals and fid_inf would mix
    fewer = SweepSettings(**{**settings_for(tmp_path).__dict__, "resamples": 100})
    with pytest.raises(UserError, match="holds a sweep with resamples 1000, not 100"):
        run_planted(monkeypatch, fewer, PlantedRunner(FIDS))
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    # a sweep.json from before --resamples: refused, not guessed, and left as it was
    del saved["settings"]["resamples"], saved["content_sha256"]
    (tmp_path / "sweep" / "sweep.json").write_text(json.dumps(saved))
    before = (tmp_path / "sweep" / "sweep.json").read_bytes()
    again = PlantedRunner(FIDS)
    with pytest.raises(UserError, match="holds a sweep from an earlier version .*records no resamples.*another --out"):
        run_planted(monkeypatch, settings_for(tmp_path), again)
    assert again.calls == [] and (tmp_path / "sweep" / "sweep.json").read_bytes() == before


def test_a_non_sweep_directory_is_never_used(monkeypatch, tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists and is not empty"):
        run_planted(monkeypatch, settings_for(tmp_path), PlantedRunner(FIDS))


@pytest.mark.parametrize("text, widths", [("0.25,0.5,1,2,4", (0.25, 0.5, 1, 2, 4)), ("2 1,1", (1.0, 2.0))])
def test_parse_widths(text, widths):
    assert parse_widths(text) == widths


@pytest.mark.parametrize("text", ["", "a,b", "0,1", "-1", "inf", "0.25,,0.5", "0.25,", ",1"])
def test_bad_widths_are_a_user_error(text):
    with pytest.raises(UserError, match="malformed --widths"):
        parse_widths(text)


@pytest.mark.parametrize("args, message", [
    (["--quality", "nope"], ("unknown --quality 'nope'; choose one of: fid, fid_inf, kid_x1e3, precision, recall, "
                             "density, coverage, classifier_score, mean_confidence, modes_hit, class_kl, "
                             "lone_pixels_per_image, lone_ink_per_image, lone_holes_per_image, specks_per_image")),
    (["--continuity", "nope.x"], "unknown --continuity 'nope.x'; choose one of: fid, fid_inf, kid_x1e3"),
    (["--continuity", "tv_per_pixel"], "unknown --continuity 'tv_per_pixel'"),  # in the entry, but no better direction
    (["--batch-size", "0"], "--batch-size must be positive, got 0"),
    (["--device", "cuda"], "--device cuda was asked for but CUDA is not available here"),
    (["--widths", "0.25,,0.5"], "malformed --widths '0.25,,0.5'"),
    (["--seed", "-1"], "'--seed': -1 is not in the range 0<=x<=4294967295"),
])
def test_bad_sweep_flags_are_one_line_before_anything_is_trained_or_written(monkeypatch, tmp_path, args, message):
    planted = PlantedRunner(FIDS)
    monkeypatch.setattr(runner, "run", planted)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "s"
    result = run_cli("sweep", "--models", "gan", "vae", "--widths", "0.5,1", "--seeds", "1", "--dataset", "digits",
                                       "--budget", "30steps", "--out", str(out), *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert planted.calls == [] and not out.exists()


def test_executor_options_are_checked(monkeypatch):
    with pytest.raises(UserError, match="--jobs 999 is outside"):
        make_executor("local", ExecutorOptions(jobs=999))
    with pytest.raises(UserError, match="--address is for --executor ray"):
        make_executor("local", ExecutorOptions(address="ray://head:10001"))
    with pytest.raises(UserError, match="unknown executor 'dask'; choose one of: local, ray"):
        make_executor("dask")
    assert make_executor("local", ExecutorOptions(jobs=0)).jobs >= 1  # 0: one per core


@pytest.mark.slow  # starts a fork server and two workers
def test_pool_workers_see_the_launching_processs_environment_as_it_is_now(monkeypatch):
    """--jobs workers are forked from a fork server that imported torch once (on Linux); the server
    keeps the environment it started with, so each worker takes the launching process's current one."""
    import os
    import sys
    from concurrent.futures import ProcessPoolExecutor

    from compare.experiments import executors

    context = executors._pool_context()
    assert context.get_start_method() == ("forkserver" if sys.platform.startswith("linux") else "spawn")

    def pool():
        return ProcessPoolExecutor(1, mp_context=context, initializer=executors._worker_start,
                                   initargs=(os.getpid(), dict(os.environ), []))

    with pool() as first:  # the fork server runs from here on, with the environment of now
        assert first.submit(os.getpid).result() != os.getpid()
    monkeypatch.setenv("COMPARE_TEST_SET_LATER", "seen")
    with pool() as later:
        assert later.submit(os.getenv, "COMPARE_TEST_SET_LATER").result() == "seen"


def test_ray_executor_without_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(UserError, match=r"pip install 'gan-vae-compare\[ray\]'"):
        make_executor("ray")
    result = run_cli("sweep", "--executor", "ray", "--dataset", "digits")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_sweep_command_prints_the_verdict_and_fails_when_a_trial_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "run", PlantedRunner(FIDS, fail={("gan", 0.5, 0)}))
    args = ["sweep", "--models", "gan", "vae", "--widths", "0.5,1", "--seeds", "2", "--dataset", "digits",
            "--budget", "30steps", "--out", str(tmp_path / "s")]
    result = run_cli(*args)
    assert (result.exit_code == 1
            and result.output.strip().splitlines()[-1]
            == f"Error: 1 of 8 trials failed (gan-w0.5-s0: RuntimeError: planted failure; its record, with the "
               f"traceback: {tmp_path / 's' / 'trials' / 'gan-w0.5-s0.json'}); the others are done: retry with: "
               "the same command")
    monkeypatch.setattr(runner, "run", PlantedRunner(FIDS))
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert "8 trials: 8 done (7 from before), 0 failed" in result.output
    assert ("\nClaim 2 (a VAE needs a larger network): " in result.output
            and max(map(len, result.output.splitlines()[-4:])) <= 80)


def test_seed_summary_and_table_mark_differences_that_may_be_zero():
    runs = {s: {"gan": {"steps": 30, "final_losses": {"g": 1.0 * s},
                        "views": {"gan": {"quality": {"fid": 20 + NOISE[s], "kid": 1.0 + 0.01 * s}}}},
                "vae": {"steps": 30, "views": {"vae-mean": {"quality": {"fid": 40 + NOISE[s], "kid": 1.0 - 0.01 * s}}}}}
            for s in (0, 1, 2)}
    summary = summarize_seeds(runs)
    assert summary["models"]["gan"]["quality.fid"]["mean"] == pytest.approx(20)
    fid = summary["differences"]["vae - gan"]["quality.fid"]
    # +20 on every seed: a zero-width interval measured no spread, so it is not significant (issue 19)
    assert fid["mean"] == pytest.approx(20) and fid["ci95"] == pytest.approx([20, 20]) and fid["significant"] is False
    assert summary["differences"]["vae - gan"]["quality.kid"]["significant"] is False  # -0.02 * s: interval covers 0
    assert "final_losses.g" not in summary["differences"]["vae - gan"]  # only numbers both models have
    table = seed_table(summary)
    assert table.headers == ["metric", "gan", "vae", "vae - gan"]
    rows = {row[0]: row[1:] for row in table.rows}
    # the registered fid first, then what varies over seeds; steps does not vary: left out
    assert list(rows) == ["FID", "final g loss", "quality kid"]  # in words; the raw keys are the rows' tooltips
    assert table.tips == ["quality.fid", "final_losses.g", "quality.kid"]
    # t(0.975, 2) = 4.303, std 1; a zero-width interval sets no place: each number alone, 3 significant digits
    assert rows["FID"] == ["20.0 [17.5, 22.5]", "40.0 [37.5, 42.5]", "+20.0 [20.0, 20.0] n.s."]
    assert rows["quality kid"][2].endswith(" n.s.") and rows["final g loss"][1] == "n/a"  # the VAE reports no loss "g"


# ---- real training on digits -------------------------------------------------------------------------

TINY = tiny_options(30)
# --resamples 100 (helpers.FAST): the sweep reads each trial's values; its intervals are over seeds
REAL_SWEEP = ["sweep", "--models", "gan", "vae", "--widths", "0.5,1", "--seeds", "2", *TINY, "--quality", "quality.fid",
              *FAST]


# two trials at once, one per core: the parallel executors' check, against the same trials of the local sweep
TWO_TRIALS = [*REAL_SWEEP, "--widths", "0.5", "--seeds", "1"]  # the later flags win


def same_as_local(numbers: dict, local_sweep) -> bool:
    """Two trials, and their numbers are those of the same trials in the serial sweep."""
    local = trial_numbers(local_sweep)
    return len(numbers) == 2 and numbers == {tid: local[tid] for tid in numbers}


def trial_numbers(out):
    """Per trial, every number the runner recorded except timings (which differ run to run)."""
    numbers = {}
    for path in sorted((out / "trials").glob("*.json")):
        record = json.loads(path.read_text())
        for entry in record["summary"].values():
            numbers[record["id"]] = {"parameters": entry["parameters"], "final_losses": entry["final_losses"],
                                     "steps": entry["steps"]}
    return numbers


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """The real tiny sweep, here, one torch thread (as every Ray task and --jobs 2 process has on 2 cores)."""
    out = tmp_path_factory.mktemp("real") / "local"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with unrendered_figures():
            result = run_cli(*REAL_SWEEP, "--out", str(out))
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    return out


def test_real_sweep_trains_every_width_and_writes_runs(local_sweep):
    summary = json.loads((local_sweep / "sweep.json").read_text())
    assert summary["counts"]["done"] == 8
    sizes = {t["id"]: t["size"] for t in summary["trials"]}
    assert sizes["gan-w0.5-s0"] < sizes["gan-w1-s0"] == sizes["gan-w1-s1"]  # the runner applies the width
    config = json.loads((local_sweep / "trials" / "vae-w0.5-s1" / "config.json").read_text())
    assert config["models"]["vae"]["width"] == 0.5 and config["seed"] == 1 and config["budget"]["steps"] == {"vae": 30}
    assert (local_sweep / "trials" / "vae-w0.5-s1" / "vae" / "ckpt.pt").stat().st_size > 0
    trial = json.loads((local_sweep / "trials" / "vae-w0.5-s1"
                        / "metrics.json").read_text())["quality"]["views"]["vae-mean"]
    # --resamples reaches the trials
    assert trial["fid"]["intervals"]["fid"]["resamples"] == 100 == summary["settings"]["resamples"]
    fid = summary["curves"]["vae"]["points"][0]["quality"]
    assert fid["n"] == 2 and fid["ci95"][0] < fid["mean"] < fid["ci95"][1]
    assert summary["plots"] == ["sweep_quality_fid.png", "sweep_lone_pixels_per_image.png"]
    # One report for the whole sweep, with every trial in it; the trials themselves draw nothing.
    assert [p.relative_to(local_sweep) for p in local_sweep.rglob("report.html")] == [Path("report.html")]
    assert not list((local_sweep / "trials").rglob("*.png"))
    html = (local_sweep / "report.html").read_text()
    assert "<h2 id=\"capacity-sweep\">Capacity sweep</h2>" in html and html.count("<td>vae-w0.5-s1</td>") >= 1


@pytest.mark.slow
def test_parallel_processes_give_the_same_numbers(local_sweep, tmp_path):
    if LocalExecutor(ExecutorOptions(jobs=0)).jobs < 2:
        pytest.skip("needs 2 cores")
    result = run_cli(*TWO_TRIALS, "--jobs", "2", "--out", str(tmp_path / "par"))
    assert result.exit_code == 0, result.output
    assert same_as_local(trial_numbers(tmp_path / "par"), local_sweep)


@pytest.mark.slow
def test_ray_executor_gives_the_same_numbers_as_local(local_sweep, tmp_path):
    pytest.importorskip("ray")
    result = run_cli(*TWO_TRIALS, "--executor", "ray", "--out", str(tmp_path / "ray"))
    assert result.exit_code == 0, result.output
    assert same_as_local(trial_numbers(tmp_path / "ray"), local_sweep)
    records = [json.loads(p.read_text()) for p in (tmp_path / "ray" / "trials").glob("*.json")]
    assert all(r["threads"] == 1 for r in records)  # --cpus-per-trial 1: one torch thread per task


@pytest.mark.slow  # real training
def test_run_with_seeds_summarises_every_metric(tmp_path):
    out = tmp_path / "seeds"
    torch.set_num_threads(1)  # as each --jobs 2 process has on 2 cores, so the numbers compare (conftest restores it)
    result = run_cli("run", "--models", "gan", "vae", *TINY, *FAST, "--quiet", "--seeds", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["seeds"] == [0, 1]
    for seed in (0, 1):
        single = json.loads((out / f"seed-{seed}" / "metrics.json").read_text())["models"]
        assert summary["models"]["vae"]["final_losses.kl"]["values"][seed] == single["vae"]["final_losses"]["kl"]
    kl = summary["models"]["vae"]["final_losses.kl"]
    assert kl["n"] == 2 and math.isclose(kl["std"], abs(kl["values"][0] - kl["values"][1]) / math.sqrt(2))
    assert "train_seconds" in summary["differences"]["vae - gan"]
    lines = result.output.splitlines()
    # the report's path last, the rest in 80 columns
    assert lines[-1] == str(out / "report.html") and max(map(len, lines[:-1])) <= 80
    assert ("| lone pixels per image " in result.output
            and "Claim 1 (VAE samples show more bad pixels): " in result.output)
    # every view, not each model's first
    assert all(f"| {view} " in result.output for view in ("gan", "vae-mean", "vae-pixels"))

    # --jobs 2: both seeds at once in two processes, the same numbers
    if LocalExecutor(ExecutorOptions(jobs=0)).jobs < 2:
        return
    parallel = run_cli("run", "--models", "gan", "vae", *TINY, *FAST, "--quiet", "--seeds", "2", "--jobs", "2",
                       "--out", str(tmp_path / "par"))
    assert parallel.exit_code == 0, parallel.output
    records = [json.loads((tmp_path / "par" / f"seed-{s}.json").read_text()) for s in (0, 1)]
    assert [r["threads"] for r in records] == [1, 1] and records[0]["host"] == records[1]["host"]

    def numbers(folder):
        models = json.loads((folder / "seeds.json").read_text())["models"]
        return {label: {k: v["values"] for k, v in m.items() if "seconds" not in k} for label, m in models.items()}

    assert numbers(tmp_path / "par") == numbers(out)


def test_run_jobs_is_for_seeds_and_bounded_before_anything_is_written(tmp_path):
    for args, message in ((["--jobs", "2"], "--jobs 2 is for --seeds N"),
                          (["--seeds", "2", "--jobs", "999"], "--jobs 999 is outside")):
        result = run_cli("run", "--models", "gan", *TINY, *args, "--out", str(tmp_path / "never"))
        assert result.exit_code == 2 and message in one_line_error(result), result.output
        assert not (tmp_path / "never").exists()
