"""Claim 2's mechanism read from a capacity sweep: with a better prior, is the VAE still behind the GAN at equal size?

The VAE's per-pixel means from z ~ N(0, I) (vae-mean) and from the Gaussian mixture fitted to its codes after training
(vae-gmm, compare.train.prior) are two views of the same trained network: the FID they differ by is the prior's alone
(Dai & Wipf 2019). Per VAE width inside the GAN sweep's parameter range and per seed, two paired differences against
the GAN at the VAE's parameter count (the GAN's log FID linear in log parameters between its two widths around that
count, as claim 2 reads parameters needed):

    gap   = log FID vae-mean - log FID GAN    the gap claim 2 is about
    left  = log FID vae-gmm  - log FID GAN    what the fitted prior leaves of it

each seed's averaged over the read widths (one reading per seed: a rule that needed
every width to agree decided a planted closed gap in only 70% of simulated 5-seed studies, the average in 100%), then
judged with a Student t 95% interval over seeds against claim 2's minimum effect MARGIN_2 (log 1.25: 25% in FID).
Why differences and not the share of the gap the prior closes: a share divides by the gap, which explodes where the
gap is small (one seed's small gap made the default study's width-1 share 9 [-3, 21]); both differences stay on
claim 2's own scale. The inputs are compare.claims.rules.SizeSweep, one per view.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from compare.claims.inputs import size_sweeps_of
from compare.claims.readings import paired_reading
from compare.claims.rules import FID, MARGIN_2
from compare.claims.trial_row import TrialRow
from compare.claims.types import Number, SizeSweep, family_of
from compare.metrics.numbers import fmt
from compare.models import lookup_view

RULE_PRIOR = ("Per VAE width inside the GAN sweep's parameter range, paired by seed against the GAN at the VAE's "
              "parameter count (the GAN's log FID linear in log parameters between its widths): the gap, log FID "
              "vae-mean minus the GAN's, and what the fitted prior leaves of it, log FID vae-gmm minus the GAN's; each "
              "seed's two differences averaged over the read widths, Student t 95% over >= 2 seeds, minimum effect log "
              "1.25 (claim 2's: 25% in FID). The prior closes the gap when the gap lies above +log 1.25 and what is "
              "left lies below it; the gap remains when what is left lies above +log 1.25; no gap to close when the "
              "gap lies below +log 1.25; else not decided.")
CLOSES, REMAINS, NOT_DECIDED, NO_GAP, NOT_MEASURED = (
    "the prior closes the gap", "the gap remains with the prior", "not decided", "no gap to close", "not measured")
GAP, LEFT = "log FID vae-mean minus GAN at equal size", "log FID vae-gmm minus GAN at equal size"


@dataclass(frozen=True)
class PriorGap:
    """The reading: its verdict under RULE_PRIOR, the two differences (GAP, LEFT) per read width (subject "width W,
    P parameters"), notes (widths left out, and why) and the size sweeps it was read from (the GAN's, the VAE's first
    view's, its prior view's, each labelled by its view: what the study's figure draws)."""

    verdict: str
    numbers: tuple[Number, ...] = ()
    notes: tuple[str, ...] = ()
    sweeps: tuple[SizeSweep, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"reading": "claim 2's candidate reason: the prior", "verdict": self.verdict, "rule": RULE_PRIOR,
                "sentence": self.sentence(), "numbers": [n.to_json() for n in self.numbers], "notes": list(self.notes)}

    def sentence(self) -> str:
        """One plain sentence for the report."""
        head = f"Claim 2's candidate reason, the prior (vae-gmm against vae-mean, same networks): {self.verdict}"
        if not self.numbers:
            return head + ("; " + "; ".join(self.notes) if self.notes else "") + "."
        read = "; ".join(f"{gap.subject}: {fmt(gap.mean, gap.ci95)} without, "
                         f"{fmt(left.mean, left.ci95)} with it (n={gap.n})"
                         for gap, left in zip(self.numbers[::2], self.numbers[1::2]))
        return (f"{head}. The VAE's log FID minus the GAN's at equal size, without the fitted prior and with it "
                f"(Student t 95% over seeds; log 1.25 is 25% in FID): {read}.")


def prior_view_of(model: str) -> str | None:
    """The view of `model` drawn from the prior fitted after training: its registered model's first prior mode
    ("vae" -> "vae-gmm", a user's VAE by its class's `prior_modes`); None for a model that fits none."""
    entry = lookup_view(model)
    return f"{model}-{entry.prior_modes[0]}" if entry is not None and entry.prior_modes else None


def prior_gap_from_rows(rows: Sequence[TrialRow], metric: str = FID,
                        models: tuple[str, str] | None = None) -> PriorGap:
    """RULE_PRIOR on trial rows: the GAN and the VAE of `models` (their labels; default: the first model of each family
    found), the VAE's `metric` (FID, or a sweep's key for it: "quality.fid") of its first view (vae-mean) against that
    of its fitted prior's (vae-gmm). Only those two models' rows count: a study's other GANs (gan:minimax, the SGD
    runs) are not the GAN the VAE is read against."""
    gan, vae = models or tuple(next((r.model for r in rows if family_of(r.model) == family), None)
                               for family in ("gan", "vae"))
    view = prior_view_of(vae) if vae is not None else None
    if gan is None or view is None:
        return judge_prior_gap(None, None, None)

    def sweep(model: str, of_view: str | None, label: str) -> SizeSweep | None:
        """`model`'s size sweep of `of_view` (None: its first view), labelled `label`; None without a done trial."""
        (found,) = size_sweeps_of(rows, metric, of_view, (model,))
        return dataclasses.replace(found, label=label) if found.widths else None

    first = next((next(iter(r.views)) for r in rows if r.model == vae and r.views), vae)  # the VAE's first view
    return judge_prior_gap(sweep(gan, None, gan), sweep(vae, None, first), sweep(vae, view, view))


def _gan_fid_at(gan: SizeSweep, params: int, seed: int) -> float | None:
    """The GAN's FID of `seed` at `params` parameters, linear in log FID against log parameters; None
    outside its range."""
    widths = sorted(gan.widths, key=lambda w: w.params)
    if not widths[0].params <= params <= widths[-1].params:
        return None
    for lo, hi in zip(widths, widths[1:]):
        if lo.params <= params <= hi.params and seed in lo.fid_by_seed and seed in hi.fid_by_seed:
            t = ((math.log(params) - math.log(lo.params)) / (math.log(hi.params) - math.log(lo.params))
                 if hi.params > lo.params else 0.0)
            return float(np.exp((1 - t) * np.log(lo.fid_by_seed[seed]) + t * np.log(hi.fid_by_seed[seed])))
    return next((w.fid_by_seed.get(seed) for w in widths if w.params == params), None)


def _verdict(gap: Number, left: Number) -> str:
    if gap.ci95 is None or left.ci95 is None:
        return NOT_DECIDED
    if left.ci95[0] > MARGIN_2:
        return REMAINS
    if gap.ci95[1] < MARGIN_2:
        return NO_GAP
    return CLOSES if gap.ci95[0] > MARGIN_2 and left.ci95[1] < MARGIN_2 else NOT_DECIDED


def judge_prior_gap(gan: SizeSweep | None, vae_mean: SizeSweep | None, vae_prior: SizeSweep | None) -> PriorGap:
    """RULE_PRIOR on a GAN sweep and the VAE's two views' sweeps (FID per width and seed)."""
    if gan is None or vae_mean is None or vae_prior is None or len(gan.widths) < 2:
        return PriorGap(NOT_MEASURED,
                        notes=("needs a GAN at >= 2 widths and a VAE with both vae-mean and vae-gmm FIDs",))
    read_from = (gan, vae_mean, vae_prior)
    prior = {w.width: w for w in vae_prior.widths}
    log_fid: dict[str, dict[str, dict[int, float]]] = {}  # per read width: {"gan" | "mean" | "gmm": {seed: log FID}}
    notes = []
    for w in sorted(vae_mean.widths, key=lambda w: w.params):
        where = f"width {w.width:g}, {w.params:,} parameters"
        seeds = sorted(set(w.fid_by_seed) & set(prior[w.width].fid_by_seed if w.width in prior else {}))
        gan_fid = {s: f for s in seeds if (f := _gan_fid_at(gan, w.params, s)) is not None}
        if not gan_fid:
            notes.append(f"{where}: outside the GAN sweep's parameter range")
            continue
        log_fid[where] = {view: {s: math.log(fids[s]) for s in gan_fid}
                          for view, fids in (("gan", gan_fid), ("mean", w.fid_by_seed),
                                             ("gmm", prior[w.width].fid_by_seed))}
    seeds = sorted(set.intersection(*(set(v["gan"]) for v in log_fid.values()))) if log_fid else []
    if not seeds:
        return PriorGap(NOT_MEASURED, (), tuple(notes), read_from)
    widths = list(log_fid)
    over = f"mean over {len(widths)} widths" if len(widths) > 1 else widths[0]
    pooled = {view: {s: float(np.mean([log_fid[w][view][s] for w in widths])) for s in seeds}
              for view in ("gan", "mean", "gmm")}
    # log FID vae-mean - log FID GAN, paired by seed
    gap = paired_reading(GAP, pooled["gan"], pooled["mean"], "fid", over)
    left = paired_reading(LEFT, pooled["gan"], pooled["gmm"], "fid", over)
    by_width = [paired_reading(name, log_fid[w]["gan"], log_fid[w][view], "fid", w) for w in widths
                for name, view in ((GAP, "mean"), (LEFT, "gmm"))] if len(widths) > 1 else []
    if len(seeds) < 2:
        notes.append("one seed: the rule needs >= 2")
    return PriorGap(_verdict(gap, left), (gap, left, *by_width), tuple(notes), read_from)
