"""What a person sees in the terminal: `compare run` ends with a short summary in words that fits 80 columns and the
report's path as its last line (the tables with --verbose); `compare score` prints one number, one table or
flat keys."""

import json
import math
import re

import pytest
import torch

from compare.data import load_dataset
from compare.metrics.numbers import fmt
from compare.report.summary import WIDTH, run_summary
from helpers import FAST, SETTINGS, run_cli

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)


@pytest.fixture(scope="module")
def run(tiny_run, tiny_run_output):
    """The session's shared run (conftest.tiny_run: `compare run --models gan vae` with helpers.SETTINGS) and what
    it printed."""
    return tiny_run, tiny_run_output


def test_run_ends_with_the_answer_and_the_report_path(run):
    out, output = run
    lines = output.rstrip("\n").splitlines()
    assert lines[-1] == str(out / "report.html") and (out / "report.html").is_file()
    assert max(len(line) for line in lines[:-1]) <= WIDTH  # the path is the user's; every other line fits 80 columns
    metrics = json.loads((out / "metrics.json").read_text())
    for label in ("gan", "vae"):  # parameters per model, with thousands separators
        assert (f"{label}: 120 steps in " in output
                and f"{fmt(metrics['models'][label]['parameters']['total'])} parameters" in output)
    fid = metrics["quality"]["views"]["vae-pixels"]["fid"]
    # numbers right-aligned
    row = rf"\| vae-pixels \| +{re.escape(fmt(fid['values']['fid'], fid['intervals']['fid']['ci95']))} \|"
    # headline numbers beside real
    assert re.search(row, output) and "| real " in output and "lone pixels per image" in output
    claims = [line for line in lines if line.startswith("Claim ")]
    assert [c.partition(" (")[0] for c in claims] == ["Claim 1", "Claim 2", "Claim 3"]
    # claim 1's deciding number in words: the VAE means against the GAN, with its interval, and why it decides nothing
    lone = metrics["continuity"]["views"]
    d = lone["vae-mean"]["lone_pixels_per_image"] - lone["gan"]["lone_pixels_per_image"]
    unwrapped = output.replace("\n    ", " ")  # a long line continues, indented, on the next
    assert re.search(r"VAE means: [\d.]+ (more|fewer) lone pixels per image than the GAN \[[\d.]+, [\d.]+\]; one seed",
                     unwrapped)
    assert ("more" if d > 0 else "fewer") + " lone pixels" in unwrapped
    assert "Claim 2 (a VAE needs a larger network): not measured: no capacity sweep" in output
    assert "KID" not in output and "|---" in output  # the full tables are in metrics.md, not on screen


def test_the_summary_is_what_run_summary_makes_of_the_files(run):
    out, output = run
    metrics, config = (json.loads((out / name).read_text()) for name in ("metrics.json", "config.json"))
    assert run_summary(metrics, config) in output


def test_metrics_md_of_a_tiny_run_has_no_e_notation_and_no_raw_keys(run):
    out, _ = run
    md = (out / "metrics.md").read_text()
    assert "e+" not in md and "e-0" not in md
    for key in ("lone_pixels_per_image", "kid_x1e3", "nn_train_fake", "tv_per_pixel", "modes_total", "nn_train_real"):
        assert key not in md
    assert "| KID × 1,000 " in md and "| lone pixels " in md


@pytest.mark.slow  # a real run (training, evaluation, pictures)
def test_verbose_prints_the_tables_before_the_summary(tmp_path):
    out = tmp_path / "v"
    result = run_cli("run", "--models", "gan", "vae", *SETTINGS, "--budget", "4steps", "--curve-points", "1", "--out",
                     out, "--verbose")
    assert result.exit_code == 0, result.output
    lines = result.output.rstrip("\n").splitlines()
    assert "| KID × 1,000 " in result.output and "| -ELBO (nats/image, ↓) " in result.output
    assert result.output.index("KID") < result.output.index("Claim 1") and lines[-1] == str(out / "report.html")


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    heldout = load_dataset("digits").heldout
    torch.save(heldout, folder / "a.pt")
    torch.save((heldout + 0.2).clamp(0, 1), folder / "b.pt")
    result = run_cli("score", folder / "a.pt", folder / "b.pt", "--dataset", "digits", "--json", "--quiet",
                     *FAST)
    assert result.exit_code == 0, result.output
    return folder, json.loads(result.output)


def test_score_json_is_flat(sets):
    folder, out = sets
    assert out["A"] == str(folder / "a.pt") and all(not isinstance(v, (dict, list)) for v in out.values())
    assert out["fid_ci95_low"] <= out["fid"] <= out["fid_ci95_high"] and out["n_real"] == out["n_fake"] == 180
    assert {"kid_x1e3", "precision_ci95_high", "lone_pixels_per_image", "A_lone_pixels_per_image",
            "lone_pixels_per_image_ratio_to_A", "lone_pixels_per_image_at_0.3", "features", "weights_sha256",
            "bootstrap_resampled"} <= set(out)
    assert out["bootstrap_resampled"] == "both sets" and out["features"] == "evaluator:digits"


@pytest.mark.slow  # full scoring
def test_score_metric_prints_one_number(sets):
    folder, out = sets
    result = run_cli("score", folder / "a.pt", folder / "b.pt", "--dataset", "digits", "--metric", "fid", "--quiet",
                     *FAST)
    assert result.exit_code == 0 and result.output == f"{out['fid']}\n"  # unrounded, as the JSON holds it
    result = run_cli("score", folder / "a.pt", folder / "b.pt", "--dataset", "digits", "--metric",
                     "lone_pixels_per_image", "--quiet", *FAST)
    assert float(result.output) == out["lone_pixels_per_image"]
    result = run_cli("score", folder / "a.pt", folder / "b.pt", "--metric", "fdi")
    assert result.exit_code == 2 and "unknown metric 'fdi' (did you mean 'fid'?)" in result.output


@pytest.mark.slow  # full scoring
def test_score_default_is_one_short_table(sets):
    folder, out = sets
    result = run_cli("score", folder / "a.pt", folder / "b.pt", "--dataset", "digits", "--quiet", *FAST)
    assert result.exit_code == 0, result.output
    tables = [line for line in result.output.splitlines() if line.startswith("|---")]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in result.output.splitlines() if line.startswith("| ")}
    assert len(tables) == 1 and len(rows) <= 20
    assert rows["FID at N = 180"] == ["↓", fmt(out["fid"], (out["fid_ci95_low"], out["fid_ci95_high"])), "–"]
    assert rows["lone pixels per image"][2] == fmt(out["A_lone_pixels_per_image"],
                                                   (out["A_lone_pixels_per_image_ci95_low"],
                                                    out["A_lone_pixels_per_image_ci95_high"]))


def test_each_verdict_line_carries_its_deciding_number_in_words():
    from compare.claims.rules import CLAIM_1, CLAIM_2, CLAIM_3, FID, LONE_PIXELS
    from compare.report.summary import verdict_line

    def number(key, subject, mean, ci, n):
        return {"key": key, "subject": subject, "mean": mean, "ci95": ci, "n": n}

    one = {"claim": CLAIM_1, "verdict": "not decided", "n": 1, "notes": [], "targets": [],
           "numbers": [number(LONE_PIXELS, "vae-pixels", -2.0, [-2.2, -1.8], 1),
                       number(LONE_PIXELS, "vae-mean", -5.366, [-5.642, -5.085], 1)]}
    assert verdict_line("Claim 1", one).replace("\n    ", " ") == (
        "Claim 1 (VAE samples show more bad pixels): not decided. VAE means: 5.37 fewer lone pixels per image than the "
        "GAN [5.08, 5.64]; one seed")  # the means decide, not the pixel draws; the interval turned with the words
    two = {"claim": CLAIM_2, "verdict": "supported", "n": 5, "notes": [], "numbers": [],
           "targets": [{"target_fid": fid, "log_ratio": {"mean": math.log(ratio)},
                        "ratio_ci95": [ratio - 0.4, ratio + 0.5]}
                       for fid, ratio in ((40.0, 1.5), (30.0, 1.9), (20.0, 2.5))]}
    assert ("the VAE needs 1.90 [1.50, 2.40] times the GAN's parameters at FID 30.0 (the middle of 3 targets); 5 seeds"
            in verdict_line("Claim 2", two).replace("\n    ", " "))
    three = {"claim": CLAIM_3, "verdict": "supported", "n": 5, "notes": [], "targets": [],
             "numbers": [number(FID, "", math.log(1.10), [math.log(1.05), math.log(1.15)], 5)]}
    assert verdict_line("Claim 3 (Adam)", three).replace("\n    ", " ") == (
        "Claim 3 (Adam) (the flipped-label loss learns faster): supported. 10.0% higher early FID with log(1 - "
        "D(G(z))) than with the flipped label [5.0%, 15.0%]; 5 seeds")
    from compare.claims.pixel_mechanism import MECHANISM_1
    reason = {"claim": MECHANISM_1, "verdict": "supported", "n": 5, "notes": [], "targets": [],
              "numbers": [number(LONE_PIXELS, "vae:autoregressive-pixels", 2.606, [2.459, 2.754], 5)]}
    assert verdict_line("Claim 1's reason", reason).replace("\n    ", " ") == (
        "Claim 1's reason (drawing pixels separately makes the bad pixels): supported. VAE pixel draws: 2.61 more lone "
        "pixels per image than joint draws [2.46, 2.75]; 5 seeds")
    from compare.report.summary import prior_line
    gap = {"verdict": "the prior closes the gap", "notes": [],
           "numbers": [number(FID, "mean over 3 widths", 0.5, [0.4, 0.6], 5),
                       number(FID, "mean over 3 widths", -0.1, [-0.2, 0.0], 5),
                       number(FID, "width 1", 0.45, [0.3, 0.6], 5)]}
    assert prior_line(gap).replace("\n    ", " ") == (
        "Claim 2's candidate reason, the prior: the prior closes the gap. log FID VAE minus GAN at equal size, mean "
        "over 3 widths: +0.50 [0.40, 0.60] from N(0, I), -0.10 [-0.20, 0.00] from the fitted prior; 5 seeds")
    assert prior_line({"verdict": "not measured", "notes": ["no VAE"], "numbers": []}) == (
        "Claim 2's candidate reason, the prior: not measured; no VAE.")
    for verdict in (one, two, three, reason):
        assert max(len(line) for line in verdict_line("Claim 3 (Adam)", verdict).splitlines()) <= WIDTH
