"""Simulated known-answer controls of the verdict rules: many studies drawn from a stated noise model, each judged
by the toolkit's own rules (compare.claims.rules), and the rate of each answer counted against its target.

No training: these check the statistics (a planted difference is found, none is invented, an interval covers
the value it names), at the seed spreads the toolkit's real studies show; compare.calibrate.controls checks the
same rules end to end on trained models. The noise model, from the README's default runs and study:
  claim 1  lone pixels / specks per image of the GAN between training seeds ~ N(6.4, 0.9) / N(6.1, 0.9) (seeds 5.53,
           7.32, 6.40); a count over 500 images has a per-image (Poisson) standard error sqrt(mean / 500);
  claim 2  FID against parameters: log FID falls linearly in log parameters from 200 at the GAN's width-0.25 size
           to 115 at its width-2 size (the study's 120-200 range); each (seed, width) adds N(0, 0.07) in log FID;
           the other family is other seeds of the same GAN with its parameter counts times k;
  reason 1 claim 1's mechanism (compare.claims.pixel_mechanism): the VAE's independent pixel draws ~ N(2.6, 0.13) lone
           pixels / N(3.0, 0.12) specks per image between seeds (the --mechanisms study's); the joint draws other seeds
           of them less a planted number per image, with the same per-image (Poisson) standard errors;
  prior    claim 2's mechanism (compare.claims.prior_gap): the GAN as in claim 2; the VAE's means other seeds of it with
           log FID + gap at the same parameter counts; its fitted prior the same network's log FID - closed x gap +
           N(0, 0.08) (the default study's seed SD of log FID vae-gmm minus vae-mean: 0.03-0.13 over widths);
  claim 3  log FID falls from 750 to 350 over the first 1,000 steps (the issue's probe); each run adds a seed offset
           N(0, 0.07) and each of its 8 curve points N(0, 0.05) (log-FID seed SD 0.05-0.1 in the study).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from compare.calibrate import ControlResult
from compare.claims.pixel_mechanism import INDEPENDENT, JOINT, judge_pixel_mechanism
from compare.claims.prior_gap import CLOSES, REMAINS, PriorGap, judge_prior_gap
from compare.claims.rules import (
    FID, LONE_PIXELS, MARGIN_2, MARGIN_3, MIXED, NO_PRACTICAL_DIFFERENCE, NOT_SUPPORTED, SPECKS, SUPPORTED, Claim1Input,
    Claim3Input, Point, Series, Number, SizeSweep, Verdict, WidthResult, judge_claim1, judge_claim2, judge_claim3,
)

STUDIES = {True: 100, False: 1000}  # simulated studies per control: quick, full
DECIDED = (SUPPORTED, NOT_SUPPORTED, MIXED)  # a verdict that says the families differ

GAN_ARTIFACTS = {LONE_PIXELS: (6.4, 0.9), SPECKS: (6.1, 0.9)}  # mean, SD between seeds
# the VAE's independent pixel draws: mean, SD between seeds
PIXEL_DRAW_ARTIFACTS = {LONE_PIXELS: (2.6, 0.13), SPECKS: (3.0, 0.12)}
IMAGES = 500
PARAMS = (113_745, 243_089, 550_929, 1_363_217)  # the mlp GAN on 28x28 images at widths 0.25, 0.5, 1, 2
FID_ENDS, SD_2 = (200.0, 115.0), 0.07  # claim 2: FID at the smallest and largest size, log-FID SD per (seed, width)
BUDGET, EARLY = 4000, tuple(range(125, 1001, 125))  # claim 3: 8 curve points in the first 1,000 steps
SD_SEED_3, SD_POINT_3 = 0.07, 0.05
SD_VIEW = 0.08  # the prior: log FID of vae-gmm about vae-mean, same network


def _artifact_series(label: str, values: dict[str, np.ndarray], kind: str = "") -> Series:
    """Per-seed counts per image {key: (n,)} as one final curve point each, with per-image (Poisson) 95% intervals."""
    ci = {k: [(v - 1.96 * math.sqrt(v / IMAGES), v + 1.96 * math.sqrt(v / IMAGES)) for v in vs]
          for k, vs in values.items()}
    seeds = range(len(next(iter(values.values()))))
    return Series(label,
                  {s: [Point(BUDGET, {k: float(v[s]) for k, v in values.items()}, {k: c[s] for k, c in ci.items()})]
                   for s in seeds},
                  kind=kind)


def _claim1(rng: np.random.Generator, n: int, delta: float = 0.0, redraw: bool = False) -> Claim1Input:
    """A GAN and two VAE views on n seeds. The views are other seeds of the same GAN plus `delta` per image, or
    (redraw) the same GAN model on each seed sampled again: only the per-image noise differs."""
    gan = {k: np.maximum(rng.normal(m, sd, n), 0.0) for k, (m, sd) in GAN_ARTIFACTS.items()}

    def view() -> dict[str, np.ndarray]:
        if redraw:
            return {k: np.maximum(v + rng.normal(0, np.sqrt(2 * v / IMAGES)), 0.0) for k, v in gan.items()}
        return {k: np.maximum(rng.normal(m, sd, n), 0.0) + delta for k, (m, sd) in GAN_ARTIFACTS.items()}

    return Claim1Input(_artifact_series("gan", gan),
                       (_artifact_series("vae-mean", view()), _artifact_series("vae-pixels", view())))


def _mechanism1(rng: np.random.Generator, n: int, fewer: float) -> tuple[Series, Series]:
    """The VAE's independent pixel draws and joint draws on n seeds: the joint ones are other seeds of the same
    independent draws with `fewer` lone pixels and specks per image."""
    def draws(less: float) -> dict[str, np.ndarray]:
        return {k: np.maximum(rng.normal(m, sd, n) - less, 0.0) for k, (m, sd) in PIXEL_DRAW_ARTIFACTS.items()}

    return _artifact_series(INDEPENDENT, draws(0.0), "pixels"), _artifact_series(JOINT, draws(fewer), "pixels")


def _size_sweep(label: str, log_fid: np.ndarray, factor: float = 1.0) -> SizeSweep:
    """A sweep over PARAMS times `factor` with log FID log_fid[seed, width]."""
    return SizeSweep(label,
                     tuple(WidthResult(w, round(p * factor),
                                       {s: float(math.exp(f)) for s, f in enumerate(log_fid[:, i])})
                           for i, (w, p) in enumerate(zip((0.25, 0.5, 1.0, 2.0), PARAMS))))


def _log_fid_line(rng: np.random.Generator, n: int) -> np.ndarray:
    """Claim 2's noise model: (n seeds, widths) log FID, linear in log parameters from FID_ENDS[0] to FID_ENDS[1],
    + N(0, SD_2)."""
    log_p = np.log(PARAMS)
    line = math.log(FID_ENDS[0]) + (log_p - log_p[0]) / (log_p[-1] - log_p[0]) * math.log(FID_ENDS[1] / FID_ENDS[0])
    return line + rng.normal(0, SD_2, (n, len(PARAMS)))


def _claim2(rng: np.random.Generator, n: int, k: float) -> list[SizeSweep]:
    """A GAN and a "VAE" on n seeds: the VAE is other seeds of the same GAN with every parameter count times k,
    so it needs exactly k times the parameters for any FID."""
    return [_size_sweep("gan", _log_fid_line(rng, n)), _size_sweep("vae", _log_fid_line(rng, n), k)]


def _prior(rng: np.random.Generator, n: int, gap: float, closed: float) -> tuple[SizeSweep, SizeSweep, SizeSweep]:
    """A GAN, a VAE `gap` higher in log FID at the same sizes (other seeds of the GAN), and its fitted prior's view,
    which closes the share `closed` of that gap: its log FID minus the GAN's is (1 - closed) x gap on average."""
    vae = _log_fid_line(rng, n) + gap
    prior = vae - closed * gap + rng.normal(0, SD_VIEW, vae.shape)
    return _size_sweep("gan", _log_fid_line(rng, n)), _size_sweep("vae", vae), _size_sweep("vae-gmm", prior)


def _claim3(rng: np.random.Generator, n: int, shift: float) -> Claim3Input:
    """Flipped label against minimax on n seeds; minimax's log FID is `shift` higher (log 2: twice the FID)."""
    steps = np.array(EARLY)
    base = math.log(750) + steps / 1000 * math.log(350 / 750)

    def series(label: str, delta: float) -> Series:
        return Series(label,
                      {s: [Point(int(t), {FID: float(math.exp(v))})
                           for t, v in zip(steps,
                                           base + delta + rng.normal(0, SD_SEED_3)
                                           + rng.normal(0, SD_POINT_3, len(steps)))]
                       for s in range(n)})

    return Claim3Input(series("gan", 0.0), series("gan:minimax", shift), BUDGET)


def _rate(control: str, answers: tuple[str, ...], target: float, at_least: bool,
          judge: Callable[[], Verdict | PriorGap], studies: int, what: str) -> ControlResult:
    """Draw `studies` studies, count those whose verdict is one of `answers`, compare the rate with its target."""
    verdicts = [judge().verdict for _ in range(studies)]
    hits = sum(v in answers for v in verdicts)
    rate = hits / studies
    expected = (f"{what} never" if target == 0 and not at_least
                else f"{what} in {'>=' if at_least else '<='} {target:.0%}")
    return ControlResult(control, expected, f"{what} in {rate:.1%}", f"{hits} of {studies} simulated studies",
                         rate >= target if at_least else rate <= target,
                         {"rate": rate, "target": target,
                          "verdicts": {v: verdicts.count(v) for v in sorted(set(verdicts))}})


def _coverage(control: str, truth: float, judge: Callable[[], Sequence[Number]], studies: int,
              low: float = 0.90) -> ControlResult:
    """How often each interval `judge` returns (a verdict's deciding numbers) covers the true difference `truth`,
    over every study."""
    numbers = [x for _ in range(studies) for x in judge() if x.ci95]
    hits = sum(x.ci95[0] <= truth <= x.ci95[1] for x in numbers)
    rate = hits / len(numbers)
    return ControlResult(control, f"covers in >= {low:.0%} (95% nominal)", f"covers in {rate:.1%}",
                         f"{hits} of {len(numbers)} intervals, {studies} simulated studies", rate >= low,
                         {"rate": rate, "target": low, "truth": truth, "intervals": len(numbers)})


def rule_controls(quick: bool, seed: int = 0) -> list[ControlResult]:
    """The verdict rules' simulated known-answer controls (quick: fewer studies each), reproducible from `seed`."""
    rng, m = np.random.default_rng(seed), STUDIES[quick]
    log4, log2 = math.log(4), math.log(2)
    decided, npd = " / ".join(DECIDED), NO_PRACTICAL_DIFFERENCE
    prior_decided = f"{CLOSES} / {REMAINS}"

    # the prior's deciding interval of what it leaves (numbers[1], pooled)
    def left(gap: float, closed: float) -> list[Number]:
        return [judge_prior_gap(*_prior(rng, 5, gap, closed)).numbers[1]]
    return [
        _rate("claim 3: minimax at twice the flipped label's FID, 3 seeds", (SUPPORTED,), 0.95, True,
              lambda: judge_claim3(_claim3(rng, 3, log2)), m, SUPPORTED),
        _rate("claim 3: the same loss in both roles, 3 seeds", DECIDED, 0.05, False,
              lambda: judge_claim3(_claim3(rng, 3, 0.0)), m, decided),
        _rate("claim 3: the same loss in both roles, 5 seeds", DECIDED, 0.05, False,
              lambda: judge_claim3(_claim3(rng, 5, 0.0)), m, decided),
        _rate("claim 3: the same loss in both roles, 60 seeds", (npd,), 0.80, True,
              lambda: judge_claim3(_claim3(rng, 60, 0.0)), m, npd),
        _rate("claim 3: minimax 5% worse in FID (exactly the margin), 60 seeds", (npd,), 0.05, False,
              lambda: judge_claim3(_claim3(rng, 60, MARGIN_3)), m, npd),
        _coverage("claim 3: interval of the mean log-FID difference covers log 2, 3 seeds", log2,
                  lambda: judge_claim3(_claim3(rng, 3, log2)).numbers, m),
        _rate("claim 1: GAN against GAN of another seed, one seed with per-image intervals", DECIDED, 0.0, False,
              lambda: judge_claim1(_claim1(rng, 1)), m, decided),
        _rate("claim 1: GAN against GAN of other seeds, 3 seeds", DECIDED, 0.05, False,
              lambda: judge_claim1(_claim1(rng, 3)), m, decided),
        _rate("claim 1: 4 more lone pixels and specks per image planted in the VAE, 5 seeds", (SUPPORTED,), 0.95, True,
              lambda: judge_claim1(_claim1(rng, 5, 4.0)), m, SUPPORTED),
        _rate("claim 1: each seed's GAN sampled twice, 5 seeds", (npd,), 0.80, True,
              lambda: judge_claim1(_claim1(rng, 5, redraw=True)), m, npd),
        _coverage("claim 1: intervals of VAE minus GAN cover the planted 4 per image, 5 seeds", 4.0,
                  lambda: judge_claim1(_claim1(rng, 5, 4.0)).numbers, m),
        _rate("claim 2: a family needing 4x the parameters, 5 seeds", (SUPPORTED,), 0.80, True,
              lambda: judge_claim2(_claim2(rng, 5, 4.0)), m, SUPPORTED),
        _rate("claim 2: a family needing 1x the parameters (other seeds), 5 seeds", DECIDED, 0.05, False,
              lambda: judge_claim2(_claim2(rng, 5, 1.0)), m, decided),
        _rate("claim 2: a family needing 1x the parameters (other seeds), 50 seeds", (npd,), 0.80, True,
              lambda: judge_claim2(_claim2(rng, 50, 1.0)), m, npd),
        _coverage("claim 2: each target's interval of log(VAE/GAN parameters) covers log 4, 5 seeds", log4,
                  lambda: judge_claim2(_claim2(rng, 5, 4.0)).numbers, m),
        _rate("claim 1's reason: joint draws with 2.5 fewer lone pixels and specks per image, 5 seeds", (SUPPORTED,),
              0.95, True, lambda: judge_pixel_mechanism(*_mechanism1(rng, 5, 2.5)), m, SUPPORTED),
        _rate("claim 1's reason: independent draws in both roles (other seeds), 5 seeds", DECIDED, 0.05, False,
              lambda: judge_pixel_mechanism(*_mechanism1(rng, 5, 0.0)), m, decided),
        _rate("claim 1's reason: independent draws in both roles (other seeds), 5 seeds", (npd,), 0.80, True,
              lambda: judge_pixel_mechanism(*_mechanism1(rng, 5, 0.0)), m, npd),
        _rate("claim 1's reason: independent draws in both roles, one seed", DECIDED, 0.0, False,
              lambda: judge_pixel_mechanism(*_mechanism1(rng, 1, 0.0)), m, decided),
        _coverage("claim 1's reason: intervals of independent minus joint cover the planted 2.5 per image, 5 seeds",
                  2.5, lambda: judge_pixel_mechanism(*_mechanism1(rng, 5, 2.5)).numbers, m),
        _rate("claim 2's prior: a VAE at twice the GAN's FID whose fitted prior closes all of it, 5 seeds", (CLOSES,),
              0.95, True, lambda: judge_prior_gap(*_prior(rng, 5, log2, 1.0)), m, CLOSES),
        _rate("claim 2's prior: a VAE at twice the GAN's FID whose fitted prior changes nothing, 5 seeds", (REMAINS,),
              0.95, True, lambda: judge_prior_gap(*_prior(rng, 5, log2, 0.0)), m, REMAINS),
        _rate("claim 2's prior: no gap (the VAE is other seeds of the GAN), 5 seeds", (CLOSES, REMAINS), 0.05, False,
              lambda: judge_prior_gap(*_prior(rng, 5, 0.0, 0.0)), m, prior_decided),
        _rate("claim 2's prior: its fitted prior leaves exactly the margin (25% in FID) of a 2x gap, 5 seeds",
              (CLOSES,), 0.05, False, lambda: judge_prior_gap(*_prior(rng, 5, log2, 1 - MARGIN_2 / log2)), m, CLOSES),
        _coverage("claim 2's prior: interval of log FID vae-gmm minus GAN covers half a 2x gap, 5 seeds", log2 / 2,
                  lambda: left(log2, 0.5), m),
    ]
