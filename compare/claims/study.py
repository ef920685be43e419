"""A study's verdicts: its trials' metrics.json files turned into the typed claim inputs, then judged.

The rules are compare.claims.rules'; this module only pairs the trials. Claim 1: the GAN and each VAE
view at width 1 under the study's optimizer, seed by seed, at every curve point (the last is the final
evaluation, with its per-image intervals). Claim 3, once per claim-3 optimizer: gan and gan:minimax at
width 1 trained with it (compare.claims.inputs.claim3_from_runs, on one merged run per seed: the
threshold is THRESHOLD_FLOOR_FACTOR x the real floor FID at the same N), with its saturation readings in
one sentence. Claim 2: gan and vae at every width, total parameters against each seed's final FID; its
mechanism, whether the VAE's fitted prior closes its gap to the GAN at equal size (compare.claims.prior_gap).
The study's GAN and VAE are its settings' `models` (gan and vae unless --models names others). With `mechanisms`,
claim 1's reason (REASON_1, compare.claims.pixel_mechanism): each seed's vae and vae:autoregressive
trials at width 1, final draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from compare.io import read_run_json
from compare.claims.inputs import claim3_from_runs, size_sweeps_of
from compare.claims.rules import (
    ARTIFACT_KEYS, CLAIM_1, CLAIM_3, FID, HOW, NOT_MEASURED, RULE_1, RULE_3, BudgetPoint, Claim1Input, Claim3Input,
    Point, Series, Verdict, claim1_along_budget, claim3_along_budget, early_window, judge_claim1, judge_claim2,
    judge_claim3,
)
from compare.claims.trial_row import TrialRow
from compare.claims.types import family_of, prior_view
from compare.metrics.numbers import fmt
from compare.claims.prior_gap import NOT_MEASURED as NOT_MEASURED_GAP, PriorGap, prior_gap_from_rows
from compare.stats import summarize
from compare.claims.pixel_mechanism import MECHANISM_MODEL, REASON_1, mechanism1_from_trials

CLAIM_WIDTH = 1.0
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD"}  # how the report names an optimizer


def claim3_name(optimizer: str) -> str:
    """"claim 3 (SGD)": claim 3 as judged under one optimizer."""
    return f"claim 3 ({OPTIMIZER_NAMES.get(optimizer, optimizer)})"


def saturation_sentence(data: Claim3Input, optimizer: str) -> str | None:
    """One plain sentence of claim 3's mechanism under `optimizer`: per training loss, mean D(G(z)) and the share of
    fakes below 0.1 over the early window, and both losses' mean |derivative| by D's logit on those batches, each with
    its Student t 95% interval over seeds (compare.stats); None when the runs recorded no readings."""
    loss_names = {data.nonsaturating.label: "flipped-label", data.minimax.label: "minimax"}
    clauses = []
    for label, early in data.early.items():
        if not early:
            continue
        st = {k: summarize((e["mean"][k] for e in early.values() if e["mean"].get(k) is not None), (0.0, 1.0))
              for k in ("d_fake", "share_rejected", "minimax_dlogit", "nonsaturating_dlogit")}
        show = {k: fmt(v["mean"], v["ci95"]) for k, v in st.items()}
        clauses.append(f"in the {loss_names.get(label, label)} runs ({label}, n={st['d_fake']['n']}) mean D(G(z)) was "
                       f"{show['d_fake']} with a share {show['share_rejected']} of fakes below 0.1, and on those "
                       f"batches the minimax loss's mean |d/dlogit| was {show['minimax_dlogit']} against the flipped "
                       f"label's {show['nonsaturating_dlogit']}")
    if not clauses:
        return None
    window = early_window(data.budget_steps)
    return (f"Claim 3's reason under {OPTIMIZER_NAMES.get(optimizer, optimizer)}, over the first {window:,} steps "
            "(the source assumes D(G(z)) near 0 there; Student t 95% intervals over seeds): "
            + "; ".join(clauses) + ".")


@dataclass
class Judged:
    """The verdicts by name ("claim 1", "claim 2", then "claim 3 (Adam)", ... one per claim-3 optimizer, in that
    order, then REASON_1 in a study with mechanisms), the verdicts along the budget, and the claim-3 inputs the
    figures draw (by optimizer)."""

    verdicts: dict[str, Verdict]
    along_budget: dict[str, list[BudgetPoint]]
    claim3: dict[str, Claim3Input] = field(default_factory=dict)
    optimizers: dict[str, str] = field(default_factory=dict)  # claim-3 verdict name -> its optimizer
    prior_gap: PriorGap = PriorGap(NOT_MEASURED_GAP)  # claim 2's mechanism (compare.claims.prior_gap)

    def claims_json(self) -> list[dict]:
        """study.json's "claims": each verdict's to_json(), a claim-3 entry with its `optimizer`."""
        return [{**v.to_json(), **({"optimizer": self.optimizers[name]} if name in self.optimizers else {})}
                for name, v in self.verdicts.items()]


def _done(rows: list[TrialRow], width: float | None = None) -> list[TrialRow]:
    """The done rows (at `width`, if given)."""
    return [r for r in rows if r.status == "done" and (width is None or r.width == width)]


def _curve_series(view: str, label: str, runs: dict[int, dict]) -> Series:
    """One view's artifact counts at every curve point, per seed; the last point carries the final
    per-image intervals."""
    by_seed = {}
    for seed, metrics in runs.items():
        curve = metrics["models"][label].get("curve") or []
        final = (metrics.get("continuity") or {}).get("views", {}).get(view, {})
        points = [Point(p["steps"], {k: p["views"][view].get(k) for k in ARTIFACT_KEYS}) for p in curve]
        if points:
            ci = {k: tuple(final[f"{k}_ci95"]) for k in ARTIFACT_KEYS if final.get(f"{k}_ci95")}
            points[-1] = Point(points[-1].steps, points[-1].values, ci)
            by_seed[seed] = points
    return Series(view, by_seed)


def claim1_input(metrics: dict[tuple[str, int], dict], gan: str = "gan", vae: str = "vae") -> Claim1Input | None:
    """{(label, seed): metrics.json} of the width-1 trials -> the GAN `gan` against every view of the VAE `vae` (model
    labels); None without both."""
    runs = {model: {seed: m for (label, seed), m in metrics.items() if label == model} for model in (gan, vae)}
    if not runs[gan] or not runs[vae]:
        return None
    gan_view, *_ = next(iter(runs[gan].values()))["models"][gan]["views"]
    views = [v for v in next(iter(runs[vae].values()))["models"][vae]["views"] if not prior_view(v)]
    return Claim1Input(_curve_series(gan_view, gan, runs[gan]),
                       tuple(_curve_series(view, vae, runs[vae]) for view in views))


def claim3_input(metrics: dict[tuple[str, int], dict], configs: dict[tuple[str, int], dict], gan: str = "gan",
                 minimax: str | None = "gan:minimax") -> Claim3Input | Verdict:
    """Each seed's `gan` and `minimax` trials merged into one run, as claim3_from_runs reads a run holding both."""
    if minimax is None:
        return Verdict(CLAIM_3, NOT_MEASURED, RULE_3, how=HOW[CLAIM_3],
                       notes=(f"{gan} has no minimax variant (a generator_loss variant "
                              "\"minimax\") to compare its loss with",))
    runs = []
    for seed in sorted({s for label, s in metrics if label == gan} & {s for label, s in metrics if label == minimax}):
        merged = {"models": {label: metrics[label, seed]["models"][label] for label in (gan, minimax)},
                  "quality": metrics[gan, seed].get("quality")}
        runs.append((merged,
                     {"seed": seed,
                      "models": {label: configs[label, seed]["models"][label] for label in (gan, minimax)}}))
    if not runs:
        return Verdict(CLAIM_3, NOT_MEASURED, RULE_3,
                       notes=(f"no seed has both {gan} and {minimax} trials done",), how=HOW[CLAIM_3])
    return claim3_from_runs(runs)


def judge_study(settings, rows: list[TrialRow], out: Path) -> Judged:
    """Every verdict of a study from its trial rows (study.json's "trials") and the width-1 trials' run files."""
    metrics, configs = {}, {}  # {optimizer: {(label, seed): file}}
    for r in _done(rows, CLAIM_WIDTH):
        metrics.setdefault(r.optimizer, {})[r.model, r.seed] = read_run_json(out / r.run_dir, "metrics.json")
        configs.setdefault(r.optimizer, {})[r.model, r.seed] = read_run_json(out / r.run_dir, "config.json")
    gan, vae = settings.models
    budget = max((r.steps for r in _done(rows, CLAIM_WIDTH) if family_of(r.model) == "gan"), default=None)
    c1 = claim1_input(metrics.get(settings.optimizer, {}), gan, vae)
    v1 = judge_claim1(c1) if c1 else Verdict(CLAIM_1, NOT_MEASURED, RULE_1,
                                             notes=(f"no seed has both {gan} and {vae} trials done",), how=HOW[CLAIM_1])
    main = [r for r in rows if r.optimizer == settings.optimizer]
    judged = Judged({"claim 1": v1, "claim 2": judge_claim2(size_sweeps_of(main, FID, models=settings.models))},
                    {}, prior_gap=prior_gap_from_rows(_done(main), models=settings.models))
    if c1 and budget:
        judged.along_budget["claim 1"] = claim1_along_budget(c1, budget)
    for optimizer in settings.claim3_optimizers:
        name, c3 = claim3_name(optimizer), claim3_input(metrics.get(optimizer, {}), configs.get(optimizer, {}),
                                                        gan, settings.minimax)
        judged.verdicts[name], judged.optimizers[name] = (judge_claim3(c3) if isinstance(c3, Claim3Input) else c3,
                                                          optimizer)
        if isinstance(c3, Claim3Input):
            judged.along_budget[name], judged.claim3[optimizer] = claim3_along_budget(c3), c3
    if settings.mechanisms:
        runs = metrics.get(settings.optimizer, {})
        judged.verdicts[REASON_1] = mechanism1_from_trials(
            {s: m for (label, s), m in runs.items() if label == "vae"},
            {s: m for (label, s), m in runs.items() if label == MECHANISM_MODEL})
    return judged
