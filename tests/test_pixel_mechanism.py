"""Claim 1's reason ("drawing pixels independently causes the bad pixels"): the rule on planted draws, and
`compare study --mechanisms` end to end."""

import json

import pytest
import torch

from helpers import run_cli
from compare.metrics.continuity import bad_pixel_counts
from compare.claims.rules import (ARTIFACT_KEYS, NO_PRACTICAL_DIFFERENCE, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED, Point,
                                  Series)
from compare.claims.pixel_mechanism import INDEPENDENT, JOINT, judge_pixel_mechanism
from compare.experiments.study import StudySettings
from compare.settings import Budget
from tests.test_autoregressive import blob_model

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)

SEEDS = (0, 1, 2)


def draws_series(label: str, decoder: str, seeds=SEEDS, offset: int = 0) -> Series:
    """Each 'seed' is another draw of 200 images from the planted blob model (tests.test_autoregressive.blob_model)."""
    model = blob_model(decoder)
    by_seed = {}
    for seed in seeds:
        counts = bad_pixel_counts(model.sample(200, torch.Generator().manual_seed(seed + offset), mode="pixels"))
        by_seed[seed] = [Point(100, {k: float(counts[k].double().mean()) for k in ARTIFACT_KEYS})]
    return Series(label, by_seed, kind="pixels")


def test_planted_independent_draws_against_dependent_ones_support_the_mechanism():
    # Independent coins in the blob make ~1 lone pixel and ~1.5 specks per image, the draws that copy their left
    # neighbour none: independent minus joint is positive, above the half-a-pixel margin on every seed.
    verdict = judge_pixel_mechanism(draws_series(INDEPENDENT, "independent"), draws_series(JOINT, "autoregressive"))
    assert verdict.verdict == SUPPORTED and verdict.n == 3
    assert all(x.mean > 0.5 and x.ci95[0] > 0.5 for x in verdict.numbers)
    assert [x.key for x in verdict.numbers] == list(ARTIFACT_KEYS)


def test_the_same_draws_either_way_are_no_practical_difference_and_swapped_draws_are_not_supported():
    same = judge_pixel_mechanism(draws_series(INDEPENDENT, "independent"),
                                 draws_series(JOINT, "independent", offset=100))
    assert same.verdict == NO_PRACTICAL_DIFFERENCE  # another draw of the same model: |difference| << 0.5 per image
    swapped = judge_pixel_mechanism(draws_series(INDEPENDENT, "autoregressive"), draws_series(JOINT, "independent"))
    assert swapped.verdict == NOT_SUPPORTED and all(x.mean < 0 for x in swapped.numbers)


def test_no_common_seed_is_not_measured_and_names_the_command():
    verdict = judge_pixel_mechanism(draws_series(INDEPENDENT, "independent", seeds=(0,)),
                                    draws_series(JOINT, "autoregressive", seeds=(1,)))
    assert verdict.verdict == NOT_MEASURED and verdict.how == "compare study --mechanisms"


def test_likelihoods_are_context_never_deciding():
    nll = {"vae": {0: 100.0, 1: 101.0, 2: 99.0}, "vae:autoregressive": {0: 95.0, 1: 97.0, 2: 94.0}}
    verdict = judge_pixel_mechanism(draws_series(INDEPENDENT, "independent"), draws_series(JOINT, "autoregressive"),
                                    nll)
    assert verdict.verdict == SUPPORTED
    (context,) = verdict.context
    assert context.mean == pytest.approx(-14 / 3) and context.key == "iwae_nll_nats"


@pytest.mark.slow  # trains a study
def test_a_study_with_mechanisms_trains_the_joint_vae_judges_it_and_shows_both_draws(tmp_path):
    out = tmp_path / "study"
    args = ["study", "--dataset", "digits", "--budget", "40steps", "--seeds", "2", "--widths", "1", "--batch-size",
            "32", "--claim3-optimizers", "adam", "--mechanisms", "--out", str(out)]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "study.json").read_text())
    assert summary["settings"]["mechanisms"] is True
    joint = [r for r in summary["trials"] if r["model"] == "vae:autoregressive"]
    assert [(r["seed"], r["width"], r["status"]) for r in joint] == [(0, 1.0, "done"), (1, 1.0, "done")]
    metrics = json.loads((out / joint[0]["run_dir"] / "metrics.json").read_text())
    vae_run = next(r["run_dir"] for r in summary["trials"] if r["model"] == "vae" and r["seed"] == 0)
    assert len(json.loads((out / vae_run / "metrics.json").read_text())["models"]["vae"]["curve"]) > 1
    assert len(metrics["models"]["vae:autoregressive"]["curve"]) == 1  # final evaluation only: no curve of joint draws
    assert metrics["likelihood"]["vae:autoregressive"]["iwae_nll_nats"] > 0  # the likelihood goes through the head
    (mechanism,) = [c for c in summary["claims"] if c["claim"].startswith("drawing each pixel separately")]
    assert mechanism["n"] == 2 and mechanism["verdict"] in {"supported", "not supported", "mixed",
                                                            "no practical difference", "not decided"}
    assert "figures/mechanism1.png" in summary["figures"] and (out / "figures" / "mechanism1.png").is_file()
    # in the verdict card
    assert "**Claim 1's reason**: drawing pixels separately makes the bad pixels" in (out / "report.md").read_text()
    # its terminal line
    assert "Claim 1's reason (drawing pixels separately makes the bad pixels): " in " ".join(result.output.split())


def test_study_settings_round_trip_through_study_json(tmp_path):
    settings = StudySettings(Budget.parse("40steps"), mechanisms=True, out=tmp_path)
    assert StudySettings.from_json(settings.describe(), tmp_path) == settings


def test_the_joint_draws_quality_is_context_beside_the_verdict():
    # Joint draws with fewer bad pixels but a worse FID and blank images: the verdict stands on the bad pixels alone,
    # and the card shows FID and the blank share, joint minus independent, paired by seed.
    quality = {"fid": ({0: 90.0, 1: 92.0, 2: 88.0}, {0: 400.0, 1: 330.0, 2: 380.0}),
               "blank_share": ({0: 0.0, 1: 0.0, 2: 0.0}, {0: 0.14, 1: 0.12, 2: 0.10})}
    verdict = judge_pixel_mechanism(draws_series(INDEPENDENT, "independent"), draws_series(JOINT, "autoregressive"),
                                    None, quality)
    assert verdict.verdict == SUPPORTED
    fid, blank = verdict.context
    assert fid.key == "fid" and fid.mean == pytest.approx((310 + 238 + 292) / 3) and fid.n == 3
    assert blank.key == "blank_share" and blank.mean == pytest.approx(0.12)
