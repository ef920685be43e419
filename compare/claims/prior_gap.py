"""Claim 2's mechanism read from a capacity sweep: does a better prior close the VAE's FID gap to the GAN at equal size?

The VAE's per-pixel means from z ~ N(0, I) (vae-mean) and from the Gaussian mixture fitted to its codes after training
(vae-gmm, compare.train.prior) are two views of the same trained network: the FID they differ by is the prior's alone
(Dai & Wipf 2019). Per VAE width and seed, the share of the gap to the GAN that the fitted prior closes:

    share = (FID vae-mean - FID vae-gmm) / (FID vae-mean - FID GAN at the VAE's parameter count)

with the GAN's FID read at that count on its own sweep (linear in log FID against log parameters between the two GAN
widths around it, as claim 2 reads parameters needed). The inputs are compare.claims.rules.SizeSweep, one per view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from compare.claims.inputs import size_sweeps_of
from compare.claims.types import Number, SizeSweep, family_of
from compare.metrics.numbers import fmt
from compare.stats import summarize

MOST = 0.5  # "most of the gap": more than half of it
RULE_PRIOR = ("Per VAE width inside the GAN sweep's parameter range and per seed, the share of the FID gap to the GAN at the "
              "VAE's parameter count that the fitted prior closes: (FID vae-mean - FID vae-gmm) / (FID vae-mean - FID GAN), the "
              "GAN's FID linear in log FID against log parameters between its widths; read where every seed's gap is positive; "
              f"Student t 95% over >= 2 seeds: the prior closes most of the gap when every read width's interval lies above {MOST}, "
              f"less than half when every one lies below {MOST}, else not decided.")
MOST_CLOSED, LESS_THAN_HALF, NOT_DECIDED, NO_GAP, NOT_MEASURED = (
    "closes most of the gap", "closes less than half", "not decided", "no gap to close", "not measured")


@dataclass(frozen=True)
class PriorGap:
    """The reading: its verdict under RULE_PRIOR, one share Number per read width (subject "width W, P parameters"),
    and notes (widths left out, and why)."""

    verdict: str
    shares: tuple[Number, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"reading": "claim 2's mechanism: the prior", "verdict": self.verdict, "rule": RULE_PRIOR, "sentence": self.sentence(),
                "shares": [n.to_json() for n in self.shares], "notes": list(self.notes)}

    def sentence(self) -> str:
        """One plain sentence for the report."""
        head = f"Claim 2's mechanism, the prior (vae-gmm against vae-mean, same networks): {self.verdict}"
        if not self.shares:
            return head + ("; " + "; ".join(self.notes) if self.notes else "") + "."
        read = "; ".join(f"{n.subject}: {fmt(n.mean, n.ci95)} (n={n.n})" for n in self.shares)
        return (f"{head}. Share of the FID gap to the GAN at equal size that the mixture fitted to the VAE's codes closes "
                f"(Student t 95% over seeds): {read}.")


def prior_gap_from_rows(rows: list[dict], size: str, value: str, prior_value: str) -> PriorGap:
    """RULE_PRIOR on trial rows {"model", "width", "seed", "status", size, value, prior_value}: the first GAN and VAE
    model found by family, the VAE's `value` (its first view, vae-mean) against its `prior_value` (vae-gmm's FID)."""
    labels = {family: next((r["model"] for r in rows if family_of(r["model"]) == family), None) for family in ("gan", "vae")}
    if None in labels.values():
        return judge_prior_gap(None, None, None)
    (gan,) = size_sweeps_of(rows, size, value, (labels["gan"],))
    (vae,) = size_sweeps_of(rows, size, value, (labels["vae"],))
    (prior,) = size_sweeps_of(rows, size, prior_value, (labels["vae"],))
    return judge_prior_gap(gan if gan.widths else None, vae if vae.widths else None, prior if prior.widths else None)


def _gan_fid_at(gan: SizeSweep, params: int, seed: int) -> float | None:
    """The GAN's FID of `seed` at `params` parameters, linear in log FID against log parameters; None outside its range."""
    widths = sorted(gan.widths, key=lambda w: w.params)
    if not widths[0].params <= params <= widths[-1].params:
        return None
    for lo, hi in zip(widths, widths[1:]):
        if lo.params <= params <= hi.params and seed in lo.fid_by_seed and seed in hi.fid_by_seed:
            t = (math.log(params) - math.log(lo.params)) / (math.log(hi.params) - math.log(lo.params)) if hi.params > lo.params else 0.0
            return float(np.exp((1 - t) * np.log(lo.fid_by_seed[seed]) + t * np.log(hi.fid_by_seed[seed])))
    return next((w.fid_by_seed.get(seed) for w in widths if w.params == params), None)


def judge_prior_gap(gan: SizeSweep | None, vae_mean: SizeSweep | None, vae_prior: SizeSweep | None) -> PriorGap:
    """RULE_PRIOR on a GAN sweep and the VAE's two views' sweeps (FID per width and seed)."""
    if gan is None or vae_mean is None or vae_prior is None or len(gan.widths) < 2:
        return PriorGap(NOT_MEASURED, notes=("needs a GAN at >= 2 widths and a VAE with both vae-mean and vae-gmm FIDs",))
    prior = {w.width: w for w in vae_prior.widths}
    shares, notes = [], []
    for w in sorted(vae_mean.widths, key=lambda w: w.params):
        where = f"width {w.width:g}, {w.params:,} parameters"
        seeds = sorted(set(w.fid_by_seed) & set(prior[w.width].fid_by_seed if w.width in prior else {}))
        gan_fid = {s: f for s in seeds if (f := _gan_fid_at(gan, w.params, s)) is not None}
        if not gan_fid:
            notes.append(f"{where}: outside the GAN sweep's parameter range")
            continue
        gaps = {s: w.fid_by_seed[s] - gan_fid[s] for s in gan_fid}
        if min(gaps.values()) <= 0:
            notes.append(f"{where}: the VAE is not behind the GAN in every seed (gaps {', '.join(fmt(g) for g in gaps.values())})")
            continue
        by_seed = {s: (w.fid_by_seed[s] - prior[w.width].fid_by_seed[s]) / gaps[s] for s in gaps}
        st = summarize(by_seed[s] for s in sorted(by_seed))
        shares.append(Number("share of the FID gap the prior closes", st["mean"], tuple(st["ci95"]) if st["ci95"] else None, st["n"],
                             tuple(st["values"]), seeds=tuple(sorted(by_seed)), key="gap_share", subject=where))
    if not shares:
        return PriorGap(NO_GAP if any("not behind" in n for n in notes) else NOT_MEASURED, (), tuple(notes))
    if any(n.ci95 is None for n in shares):
        return PriorGap(NOT_DECIDED, tuple(shares), tuple(notes) + ("one seed: the rule needs >= 2",))
    if all(n.ci95[0] > MOST for n in shares):
        return PriorGap(MOST_CLOSED, tuple(shares), tuple(notes))
    if all(n.ci95[1] < MOST for n in shares):
        return PriorGap(LESS_THAN_HALF, tuple(shares), tuple(notes))
    return PriorGap(NOT_DECIDED, tuple(shares), tuple(notes))
