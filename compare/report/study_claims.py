"""A study's three verdicts: its trials' metrics.json files turned into the typed claim inputs, then judged.

The rules are compare.report.claims'; this module only pairs the trials. Claim 1: the GAN and each VAE
view at width 1, seed by seed, at every curve point (the last is the final evaluation, with its
per-image intervals). Claim 3: gan and gan:minimax at width 1 (compare.report.claim_inputs.claim3_from_runs,
on one merged run per seed: the threshold is THRESHOLD_FLOOR_FACTOR x the real floor FID at the same N).
Claim 2: gan and vae at every width, total parameters against each seed's final FID.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compare.io import read_run_json
from compare.report.claim_inputs import claim3_from_runs, size_sweeps_of
from compare.report.claims import (
    ARTIFACT_KEYS, CLAIM_1, CLAIM_3, HOW, NOT_MEASURED, RULE_1, RULE_3, BudgetPoint, Claim1Input, Claim3Input, Point, Series, Verdict,
    claim1_along_budget, claim3_along_budget, judge_claim1, judge_claim2, judge_claim3,
)
from compare.report.claim_types import family_of

CLAIM_WIDTH = 1.0


@dataclass
class Judged:
    """The three verdicts (claims 1, 2, 3), the verdicts along the budget, and the inputs the figures draw."""

    verdicts: tuple[Verdict, Verdict, Verdict]
    along_budget: dict[str, list[BudgetPoint]]
    claim3: Claim3Input | None = None


def _done(rows: list[dict], **match: Any) -> list[dict]:
    return [r for r in rows if r["status"] == "done" and all(r[k] == v for k, v in match.items())]


def _curve_series(view: str, label: str, runs: dict[int, dict]) -> Series:
    """One view's artifact counts at every curve point, per seed; the last point carries the final per-image intervals."""
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


def claim1_input(metrics: dict[tuple[str, int], dict]) -> Claim1Input | None:
    """{(label, seed): metrics.json} of the width-1 trials -> the GAN against every VAE view; None without both families."""
    gan = {seed: m for (label, seed), m in metrics.items() if label == "gan"}
    vae = {seed: m for (label, seed), m in metrics.items() if label == "vae"}
    if not gan or not vae:
        return None
    views = next(iter(vae.values()))["models"]["vae"]["views"]
    return Claim1Input(_curve_series("gan", "gan", gan), tuple(_curve_series(view, "vae", vae) for view in views))


def claim3_input(metrics: dict[tuple[str, int], dict], configs: dict[tuple[str, int], dict]) -> Claim3Input | Verdict:
    """Each seed's gan and gan:minimax trials merged into one run, as claim3_from_runs reads a run holding both."""
    runs = []
    for seed in sorted({s for label, s in metrics if label == "gan"} & {s for label, s in metrics if label == "gan:minimax"}):
        ns, mm = metrics["gan", seed], metrics["gan:minimax", seed]
        merged = {"models": {"gan": ns["models"]["gan"], "gan:minimax": mm["models"]["gan:minimax"]}, "quality": ns.get("quality")}
        config = {"seed": seed, "models": {"gan": configs["gan", seed]["models"]["gan"],
                                           "gan:minimax": configs["gan:minimax", seed]["models"]["gan:minimax"]}}
        runs.append((merged, config))
    if not runs:
        return Verdict(CLAIM_3, NOT_MEASURED, RULE_3,
                       notes=("no seed has both gan and gan:minimax trials done",), how=HOW[CLAIM_3])
    return claim3_from_runs(runs)


def judge_study(settings, rows: list[dict], out: Path) -> Judged:
    """Every verdict of a study from its trial rows (study.json's "trials") and the width-1 trials' run files."""
    metrics, configs = {}, {}
    for r in _done(rows, width=CLAIM_WIDTH):
        metrics[r["model"], r["seed"]] = read_run_json(out / r["run_dir"], "metrics.json")
        configs[r["model"], r["seed"]] = read_run_json(out / r["run_dir"], "config.json")
    budget = max((r["steps"] for r in _done(rows, width=CLAIM_WIDTH) if family_of(r["model"]) == "gan"), default=None)
    c1 = claim1_input(metrics)
    v1 = judge_claim1(c1) if c1 else Verdict(CLAIM_1, NOT_MEASURED, RULE_1, notes=("no seed has both gan and vae trials done",),
                                              how=HOW[CLAIM_1])
    c3 = claim3_input(metrics, configs)
    v3 = judge_claim3(c3) if isinstance(c3, Claim3Input) else c3
    along = {}
    if c1 and budget:
        along["claim 1"] = claim1_along_budget(c1, budget)
    if isinstance(c3, Claim3Input):
        along["claim 3"] = claim3_along_budget(c3)
    return Judged((v1, judge_claim2(size_sweeps_of(rows, "parameters", "fid", ("gan", "vae"))), v3), along, c3 if isinstance(c3, Claim3Input) else None)
