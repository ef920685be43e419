"""The mechanisms behind claims 2 and 3, with known answers: the GAN's early saturation readings (D(G(z)) and
both generator losses' derivatives by D's logit) and the VAE's prior fitted after training (the vae-gmm view)."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from compare.report.figures.claims import save_claim3_figure
from compare.claims.rules import Claim3Input, Point, Series, SizeSweep, WidthResult, judge_claim3
from compare.claims.prior_gap import CLOSES, NO_GAP, NOT_DECIDED, NOT_MEASURED, REMAINS, _gan_fid_at, judge_prior_gap
from compare.claims.study import saturation_sentence
from compare.errors import UserError
from compare.results import early_summary
from compare.sample import drawable_views, sample_views
from compare.models import parse_model_specs
from compare.train import loop
from compare.train.loop import train
from compare.train.prior import fit_gaussian_mixture, fit_prior
from gan import GAN, GANConfig, generator_loss, saturation
from helpers import run_cli, same_state
from vae import VAE, VAEConfig

SHAPE = (1, 8, 8)


def fixed_discriminator_gan(d: float) -> GAN:
    """A GAN whose D outputs D(x) = d for every image: zero last-layer weights, bias logit(d), and a learning rate
    so small that its own update moves the bias by far less than the tolerance."""
    gan = GAN(GANConfig(image_shape=SHAPE, hidden=16, latent_dim=4, optimizer="sgd", lr=1e-12), seed=0)
    last = gan.discriminator.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(math.log(d / (1 - d)))
    return gan


def test_a_discriminator_fixed_at_0_01_gives_the_minimax_derivative_near_0_and_the_flipped_label_near_1():
    gan = fixed_discriminator_gan(0.01)
    gan.train_step(torch.rand(32, *SHAPE))
    got = {k: float(v) for k, v in gan.saturation().items()}
    assert got["d_fake"] == pytest.approx(0.01, abs=1e-6)
    assert got["share_rejected"] == 1.0
    assert got["minimax_dlogit"] == pytest.approx(0.01, abs=1e-6)
    assert got["nonsaturating_dlogit"] == pytest.approx(0.99, abs=1e-6)


def test_a_discriminator_fixed_at_0_5_rejects_nothing():
    gan = fixed_discriminator_gan(0.5)
    gan.train_step(torch.rand(32, *SHAPE))
    got = {k: float(v) for k, v in gan.saturation().items()}
    assert got["share_rejected"] == 0.0 and got["minimax_dlogit"] == pytest.approx(0.5, abs=1e-6)


def test_the_readings_are_the_per_sample_derivatives_of_the_losses_the_gan_trains_with():
    logits = torch.randn(64, generator=torch.Generator().manual_seed(0)) * 3
    readings = saturation(logits)
    for kind, key in (("minimax", "minimax_dlogit"), ("nonsaturating", "nonsaturating_dlogit")):
        x = logits.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(generator_loss(x, kind), x)  # the batch mean's gradient: per sample / B
        assert float((grad * len(x)).abs().mean()) == pytest.approx(float(readings[key]), rel=1e-5), kind
    s = torch.sigmoid(logits)
    assert float(readings["share_rejected"]) == pytest.approx(float((s < 0.1).float().mean()))


def test_a_critic_without_probabilities_records_no_saturation():
    gan = GAN(GANConfig(image_shape=SHAPE, hidden=16, latent_dim=4, generator_loss="hinge"), seed=0)
    gan.train_step(torch.rand(8, *SHAPE))
    assert gan.saturation() is None


def test_the_loop_records_every_step_of_the_early_window_and_none_after(monkeypatch):
    monkeypatch.setattr(loop, "EARLY_WINDOW_STEPS", 7)
    gan = GAN(GANConfig(image_shape=SHAPE, hidden=16, latent_dim=4), seed=0)
    record = train(gan, torch.rand(64, *SHAPE), 12, 16, seed=0)
    assert [r["step"] for r in record.saturation] == list(range(1, 8))
    vae_record = train(VAE(VAEConfig(image_shape=SHAPE, hidden=16, latent_dim=2), seed=0), torch.rand(64, *SHAPE), 3,
                       16, seed=0)
    assert vae_record.saturation == []


def test_early_summary_averages_the_window_and_each_block_of_50_steps():
    readings = [{"step": s, "d_fake": float(s), "share_rejected": 1.0} for s in range(1, 121)]
    summary = early_summary(readings)
    assert summary["steps"] == 120 and summary["mean"]["d_fake"] == pytest.approx(60.5)
    assert [p["step"] for p in summary["points"]] == [50, 100, 120]
    assert (summary["points"][0]["d_fake"] == pytest.approx(25.5)
            and summary["points"][2]["d_fake"] == pytest.approx(110.5))


# ---- claim 2's mechanism: the prior fitted to the codes ----

def three_clusters(n: int = 600) -> torch.Tensor:
    """Codes from a well-separated 3-cluster mixture in 2-D, far from N(0, I)'s mass."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[6.0, 0.0], [-3.0, 5.0], [-3.0, -5.0]])
    return centres[torch.arange(n) % 3] + 0.3 * torch.randn(n, 2, generator=g)


def mean_nn_distance(samples: torch.Tensor, data: torch.Tensor) -> float:
    return float(torch.cdist(samples, data).min(1).values.mean())


def test_the_fitted_mixture_matches_three_clusters_far_better_than_n01():
    codes = three_clusters()
    weights, means, scale_tril = fit_gaussian_mixture(codes, seed=0)
    vae = VAE(VAEConfig(image_shape=SHAPE, hidden=16, latent_dim=2), seed=0)
    vae.set_prior(weights, means, scale_tril)
    fitted = vae._prior_latents(600, torch.Generator().manual_seed(1))
    standard = torch.randn(600, 2, generator=torch.Generator().manual_seed(1))
    assert mean_nn_distance(fitted, codes) < 0.2 < 2.0 < mean_nn_distance(standard, codes)
    # every cluster gets its share of the draws
    nearest = torch.cdist(fitted, torch.tensor([[6.0, 0.0], [-3.0, 5.0], [-3.0, -5.0]])).argmin(1)
    assert torch.bincount(nearest, minlength=3).min() > 150


def test_the_gmm_view_appears_only_after_the_prior_is_fitted_and_survives_the_state():
    spec = parse_model_specs(["vae"])[0]
    vae = VAE(VAEConfig(image_shape=SHAPE, hidden=16, latent_dim=2), seed=0)
    assert list(drawable_views(spec, vae)) == ["vae-mean", "vae-pixels"]
    with pytest.raises(ValueError, match="fitted prior"):
        vae.sample(4, mode="gmm")
    fit_prior(vae, torch.rand(40, *SHAPE), seed=0)
    assert list(drawable_views(spec, vae)) == ["vae-mean", "vae-pixels", "vae-gmm"]
    reloaded = VAE(VAEConfig(image_shape=SHAPE, hidden=16, latent_dim=2), seed=5)
    reloaded.load_state_dict(vae.state_dict())
    assert same_state(reloaded.prior, vae.prior)
    assert torch.equal(sample_views(spec, reloaded, 8, 0)["vae-gmm"], sample_views(spec, vae, 8, 0)["vae-gmm"])


def test_codes_a_mixture_cannot_fit_are_one_line_error():
    with pytest.raises(UserError, match="cannot fit the vae-gmm prior to 20 posterior means"):
        fit_gaussian_mixture(torch.full((20, 2), float("nan")), seed=0)


def test_a_prior_of_the_wrong_shape_is_refused():
    vae = VAE(VAEConfig(image_shape=SHAPE, hidden=16, latent_dim=2), seed=0)
    with pytest.raises(ValueError, match="latent_dim 2"):
        vae.set_prior(torch.ones(3) / 3, torch.zeros(3, 4), torch.eye(4).expand(3, 4, 4))


@pytest.mark.slow
def test_a_run_records_both_mechanisms_and_a_resume_redraws_the_same_gmm_view(tiny_run, tmp_path, quick_figures):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    early = metrics["models"]["gan"]["early"]
    assert early["steps"] == 120 and 0 < early["mean"]["d_fake"] < 1
    assert early["mean"]["minimax_dlogit"] + early["mean"]["nonsaturating_dlogit"] == pytest.approx(1.0)
    assert "vae-gmm" in metrics["quality"]["views"] and metrics["models"]["vae"]["views"][-1] == "vae-gmm"
    curve = metrics["models"]["vae"]["curve"]
    assert "vae-gmm" in curve[-1]["views"] and all("vae-gmm" not in p["views"] for p in curve[:-1])
    # a finished run resumed: the prior comes back from the checkpoint, not refitted, and every number is the same
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    result = run_cli("run", "--resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert (out / "samples_vae-gmm.png").read_bytes() == (tiny_run / "samples_vae-gmm.png").read_bytes()
    again = json.loads((out / "metrics.json").read_text())
    assert again["quality"]["views"]["vae-gmm"] == metrics["quality"]["views"]["vae-gmm"]
    assert again["models"]["gan"]["early"] == early



# ---- the readings in the report: the prior's share of the gap, the saturation sentence and figure ----

def sweep(label: str, fids: dict[float, float], params: dict[float, int], jitter: float = 0.5) -> SizeSweep:
    """A size sweep with FID `fids[w]` at width w, over 3 seeds spread by +-jitter."""
    return SizeSweep(label, tuple(WidthResult(w, params[w], {s: f + (s - 1) * jitter for s in range(3)})
                                  for w, f in fids.items()))


PARAMS = {0.5: 1_000, 1.0: 4_000, 2.0: 16_000}


@pytest.mark.parametrize("gmm_fid, jitter, verdict",
                         [(10.0, 0.5, CLOSES), (28.0, 1.0, REMAINS), (15.0, 3.0, NOT_DECIDED)])
def test_the_prior_gap_rule_finds_a_planted_prior_effect(gmm_fid, jitter, verdict):
    # the GAN at 10 everywhere, the VAE's means at 30 (a 3x gap); its fitted prior at 10 (the GAN's: closed),
    # 28 (still far behind: remains) or 15 (50% behind, but its interval reaches below 25%: not decided)
    gan = sweep("gan", {w: 10.0 for w in PARAMS}, PARAMS, jitter=0.0)
    vae, gmm = sweep("vae", {1.0: 30.0}, {1.0: 2_000}), sweep("vae-gmm", {1.0: gmm_fid}, {1.0: 2_000}, jitter=jitter)
    gap = judge_prior_gap(gan, vae, gmm)
    assert gap.verdict == verdict
    without, left = gap.numbers
    assert without.mean == pytest.approx(np.mean([math.log((30 + d) / 10) for d in (-0.5, 0, 0.5)]))
    assert left.mean == pytest.approx(np.mean([math.log((gmm_fid + d) / 10) for d in (-jitter, 0, jitter)]))
    assert "without the fitted prior and with it" in gap.sentence()


def test_the_gan_is_read_at_the_vaes_parameter_count_and_no_gap_is_not_invented():
    gan = sweep("gan", {0.5: 40.0, 1.0: 10.0}, PARAMS, jitter=0.0)  # log-linear between 1,000 and 4,000 parameters
    # halfway in log parameters: the geometric mean of 40 and 10
    assert _gan_fid_at(gan, 2_000, 0) == pytest.approx(20.0)
    gmm = sweep("vae-gmm", {1.0: 14.0}, {1.0: 2_000})
    assert judge_prior_gap(gan, sweep("vae", {1.0: 15.0}, {1.0: 2_000}), gmm).verdict == NO_GAP  # the VAE is ahead
    # beyond the GAN's sizes
    assert judge_prior_gap(gan, sweep("vae", {1.0: 30.0}, {1.0: 100_000}), gmm).verdict == NOT_MEASURED
    one_seed = SizeSweep("vae", (WidthResult(1.0, 2_000, {0: 30.0}),))
    assert judge_prior_gap(gan, one_seed, gmm).verdict == NOT_DECIDED  # one seed: no interval


def test_the_prior_gap_and_its_figure_read_the_studys_gan_and_vae_only(tmp_path, monkeypatch):
    """A study's rows also hold gan:minimax (and the SGD runs) at width 1, far worse: neither the reading nor its figure
    may average them into "the GAN"; the VAE's prior view comes from its model's prior_modes."""
    import compare.report.figures.claims as figures
    from compare.claims.prior_gap import prior_gap_from_rows, prior_view_of
    from compare.claims.trial_row import TrialRow

    def row(model, width, seed, views, optimizer="adam"):
        params = int(PARAMS[width] * (0.5 if model.startswith("vae") else 1))
        return TrialRow(f"{model}-w{width}-s{seed}", model, model.partition(":")[0], width, seed, optimizer, "done",
                        "trials/x", {"total": params}, params, views={v: {"quality": {"fid": f}} for v, f in views})

    rows = [row("gan:minimax", 1.0, s, [("gan:minimax", 200.0)]) for s in range(3)]  # first: the default would take it
    rows += [row("gan", w, s, [("gan", f + s)]) for w, f in ((0.5, 40.0), (1.0, 10.0), (2.0, 10.0)) for s in range(3)]
    rows += [row("vae", w, s, [("vae-mean", 30.0 + s), ("vae-pixels", 90.0), ("vae-gmm", 12.0 + s)])
             for w in (1.0, 2.0) for s in range(3)]
    gap = prior_gap_from_rows(rows, models=("gan", "vae"))
    assert [s.label for s in gap.sweeps] == ["gan", "vae-mean", "vae-gmm"] and gap.verdict == CLOSES
    gan_sweep = gap.sweeps[0]
    assert {w.width: dict(w.fid_by_seed) for w in gan_sweep.widths}[1.0] == {0: 10.0, 1: 11.0, 2: 12.0}
    # the reading by hand: the VAE at width 1 (2,000 parameters) against the GAN halfway between 40 and 10 (log
    # parameters 1,000 .. 4,000), the VAE at width 2 (8,000) against the GAN flat at 10; averaged over both widths
    seed0 = np.mean([math.log(30 / 20), math.log(30 / 10)])
    assert gap.numbers[0].values[0] == pytest.approx(seed0)
    assert prior_gap_from_rows(rows).verdict == NOT_MEASURED  # by default the first GAN found: gan:minimax, one width

    drawn = {}
    monkeypatch.setattr(figures, "save_interval_curves", lambda lines, *a, **k: drawn.update(lines))
    assert figures.save_prior_figure(gap, tmp_path / "prior.png")
    assert list(drawn) == ["gan", "vae-mean", "vae-gmm"]
    assert [(p, m) for p, m, *_ in drawn["gan"]] == [(1_000, 41.0), (4_000, 11.0), (16_000, 11.0)]
    assert not figures.save_prior_figure(judge_prior_gap(None, None, None), tmp_path / "none.png")

    assert prior_view_of("vae") == "vae-gmm" and prior_view_of("gan") is None
    assert prior_view_of("examples.tiny_plugin:TinyVAE") is None  # a user's VAE that fits no prior: not measured
    assert prior_gap_from_rows(rows, models=("gan", "examples.tiny_plugin:TinyVAE")).verdict == NOT_MEASURED


def claim3_input() -> Claim3Input:
    """Two seeds of both losses, with planted saturation readings: the minimax runs' D(G(z)) near 0.02."""
    def early(d: float) -> dict:
        mean = {"d_fake": d, "share_rejected": 1.0 if d < 0.1 else 0.0, "minimax_dlogit": d,
                "nonsaturating_dlogit": 1 - d}
        return {"steps": 100, "mean": mean, "points": [{"step": s, **mean} for s in (50, 100)]}

    curve = {seed: [Point(s, {"fid": 100.0 / s}) for s in (50, 100, 200)] for seed in (0, 1)}
    return Claim3Input(Series("gan", curve), Series("gan:minimax", curve), 200, early={
        "gan": {0: early(0.40), 1: early(0.42)}, "gan:minimax": {0: early(0.02), 1: early(0.03)}})


def test_the_saturation_sentence_gives_each_reading_with_its_interval(tmp_path):
    line = saturation_sentence(claim3_input(), "sgd")
    assert line.startswith("Claim 3's reason under SGD, over the first 200 steps")
    assert "minimax runs (gan:minimax, n=2) mean D(G(z)) was 0.025 [" in line
    assert "flipped-label runs (gan, n=2) mean D(G(z)) was 0.41 [" in line
    data = claim3_input()
    save_claim3_figure(data, judge_claim3(data), tmp_path / "claim3.png")
    assert (tmp_path / "claim3.png").stat().st_size > 0
