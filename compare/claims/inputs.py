"""Claim inputs built from what runs and sweeps wrote (metrics.json, seeds.json, sweep.json), for the report.

The rules live in compare.claims.rules; these adapters only find, by family (compare.models), the GAN,
the VAE views, the two generator losses and the sweep's curves in JSON dicts, and hand them over as
Series / SizeSweep. `claim_a`, `claim_c`, `claim_a_over_seeds` and `claim_b` are what the report calls.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from compare.metrics.numbers import fmt
from compare.claims.trial_row import TrialRow, trial_rows
from compare.claims.rules import (
    ARTIFACT_KEYS, CLAIM_1, CLAIM_2, CLAIM_3, CONFIDENCE, FID, HOW, KID, NOT_MEASURED, RULE_1, RULE_2, RULE_3,
    THRESHOLD_FLOOR_FACTOR, Claim1Input, Claim3Input, Point, Series, SizeSweep, Verdict, WidthResult, early_window,
    family_of, prior_view, judge_claim1, judge_claim2, judge_claim3,
)

Run = tuple[dict, dict]  # (metrics.json, config.json) of one run


def _losses(config: dict, labels: Sequence[str]) -> dict[str, str]:
    """GAN label -> its generator loss, from the run's resolved config."""
    return {label: config.get("models", {}).get(label, {}).get("generator_loss", "") for label in labels}


def _merge(label: str, runs: Sequence[tuple[int, list[Point]]]) -> Series:
    return Series(label, {seed: points for seed, points in runs if points})


def claim1_from_runs(runs: Sequence[Run]) -> Claim1Input | None:
    """The GAN (the source's nonsaturating one when present, else the first GAN), every VAE view and the real-data
    floor, one seed per run (config["seed"]), with per-image bootstrap intervals `<key>_ci95` where the run stored them.
    None when the runs hold no GAN or no VAE."""
    metrics, config = runs[0]
    labels = list(metrics.get("models", {}))
    gans = [label for label in labels if family_of(label) == "gan"]
    vaes = [label for label in labels if family_of(label) == "vae"]
    if not gans or not vaes:
        return None
    gan = next((g for g, loss in _losses(config, gans).items() if loss == "nonsaturating"), gans[0])
    # The claim is about the source's VAE, every pixel drawn independently given z; vae:autoregressive (pixels drawn
    # jointly) is the control of its mechanism (compare.claims.pixel_mechanism), judged there, not here.
    vaes = [v for v in vaes
            if config.get("models", {}).get(v, {}).get("decoder", "independent") == "independent"] or vaes

    def points(m: dict, view: str | None, label: str) -> list[Point]:  # view None: the real-data floor
        continuity = m.get("continuity") or {}
        numbers = continuity.get("real", {}) if view is None else continuity.get("views", {}).get(view, {})
        ci = {k: tuple(numbers[f"{k}_ci95"]) for k in ARTIFACT_KEYS if numbers.get(f"{k}_ci95")}
        return ([Point(m["models"][label].get("steps", 0), {k: numbers.get(k) for k in ARTIFACT_KEYS}, ci)]
                if numbers else [])

    # none yet: unfinished
    views = [(v, label) for label in vaes for v in metrics["models"][label].get("views") or () if not prior_view(v)]
    return Claim1Input(_merge(gan, [(c.get("seed", 0), points(m, gan, gan)) for m, c in runs]),
                       tuple(_merge(v, [(c.get("seed", 0), points(m, v, label)) for m, c in runs])
                             for v, label in views),
                       _merge("real", [(c.get("seed", 0), points(m, None, gan)) for m, c in runs]))


def claim3_from_runs(runs: Sequence[Run]) -> Claim3Input | Verdict:
    """The nonsaturating GAN's and gan:minimax's quality curves, one seed per run, the threshold at
    THRESHOLD_FLOOR_FACTOR x the first run's real-floor FID, early gradient norms and saturation readings as context; or
    the "not measured" verdict when the runs lack one of the two losses."""
    metrics, config = runs[0]
    gans = [label for label in metrics.get("models", {}) if family_of(label) == "gan"]
    by_loss = {loss: label for label, loss in reversed(_losses(config, gans).items())
               if loss in ("nonsaturating", "minimax")}
    if len(by_loss) < 2:
        return Verdict(CLAIM_3, NOT_MEASURED, RULE_3,
                       notes=("needs the nonsaturating GAN and gan:minimax under one budget",),
                       how=f"{HOW[CLAIM_3]}; one seed: compare run --models gan gan:minimax")
    budget = max(m["models"][label].get("steps", 0) for m, _ in runs for label in by_loss.values())

    def curve(m: dict, label: str) -> list[Point]:
        if not (views := m["models"][label].get("views")):  # not evaluated yet: an unfinished run
            return []
        view = views[0]
        return [Point(p["steps"], {k: p["views"][view].get(k) for k in (FID, KID, CONFIDENCE)})
                for p in m["models"][label].get("curve") or []]

    def early_grad(m: dict, label: str) -> float | None:
        norms = [g["generator"] for g in m["models"][label].get("grad_norms") or []
                 if g.get("generator") is not None and g["step"] <= early_window(budget)]
        return float(np.mean(norms)) if norms else None

    floor = {k: v for entry in (metrics.get("quality") or {}).get("floor", {}).values()
             for k, v in entry["values"].items()}.get(FID)
    series = {loss: _merge(label, [(c.get("seed", 0), curve(m, label)) for m, c in runs])
              for loss, label in by_loss.items()}
    grads = {label: {c.get("seed", 0): g for m, c in runs if (g := early_grad(m, label)) is not None}
             for label in by_loss.values()}
    early = {label: {c.get("seed", 0): e for m, c in runs if (e := m["models"][label].get("early"))}
             for label in by_loss.values()}
    return Claim3Input(series["nonsaturating"], series["minimax"], budget,
                       None if floor is None else THRESHOLD_FLOOR_FACTOR * floor,
                       "" if floor is None else f"({THRESHOLD_FLOOR_FACTOR}x the real-data floor {fmt(floor)})", grads,
                       config.get("models", {}).get(by_loss["nonsaturating"], {}).get("optimizer", "adam"), early)


def claim1_of_runs(runs: Sequence[Run]) -> Verdict:
    """Claim 1 over runs of different seeds (compare.judge_claims); one run is not decided (one seed), the per-image
    bootstrap intervals, if stored, describe it."""
    data = claim1_from_runs(runs)
    if data is None:
        return Verdict(CLAIM_1, NOT_MEASURED, RULE_1, notes=("needs a GAN and a VAE in one run",), how=HOW[CLAIM_1])
    return judge_claim1(data)


def claim3_of_runs(runs: Sequence[Run]) -> Verdict:
    """Claim 3 over runs of different seeds: not measured without both losses or MIN_EARLY_POINTS early curve points."""
    data = claim3_from_runs(runs)
    return data if isinstance(data, Verdict) else judge_claim3(data)


def claim_a(metrics: dict, config: dict) -> Verdict:
    """Claim 1 from one run (the report's): not decided (one seed)."""
    return claim1_of_runs([(metrics, config)])


def claim_c(metrics: dict, config: dict) -> Verdict:
    """Claim 3 from one run: not measured, or not decided (one seed)."""
    return claim3_of_runs([(metrics, config)])


def claim_a_over_seeds(summary: dict) -> Verdict | None:
    """Claim 1 from `compare run --seeds N`'s summary (each model's first view: the VAE's per-pixel means), the first
    GAN and VAE found by family; None when it lacks either (the report then judges each run)."""
    seeds, models = summary.get("seeds", []), summary.get("models", {})
    labels = {family: next((label for label in models if family_of(label) == family), None)
              for family in ("gan", "vae")}
    if None in labels.values():
        return None

    def series(label: str) -> Series:  # a measure counts only when every seed has it (the values are in seed order)
        values = {k: v for k in ARTIFACT_KEYS
                  if len(v := (models[label].get(f"continuity.{k}") or {}).get("values", [])) == len(seeds)}
        return Series(label, {s: [Point(0, {k: v[i] for k, v in values.items()})] for i, s in enumerate(seeds)})

    return judge_claim1(Claim1Input(series(labels["gan"]), (series(labels["vae"]),)))


def size_sweeps_of(rows: Sequence[TrialRow], metric: str, view: str | None = None,
                   models: tuple[str, ...] | None = None) -> list[SizeSweep]:
    """One SizeSweep per model (`models`, else every model of the rows): each done trial's size against its `metric`
    (of its model's first view, or of `view`), the trials without that number left out."""
    done = [(r, value) for r in rows if r.status == "done" and (value := r.number(metric, view)) is not None]
    out = []
    for label in models or tuple(dict.fromkeys(r.model for r, _ in done)):
        mine = [(r, value) for r, value in done if r.model == label]
        out.append(SizeSweep(label, tuple(WidthResult(w, next(r.size for r, _ in mine if r.width == w),
                                                      {r.seed: value for r, value in mine if r.width == w})
                                          for w in sorted({r.width for r, _ in mine}))))
    return out


def claim2_of_rows(rows: Sequence[TrialRow], quality: str) -> Verdict:
    """Claim 2 from a sweep's trial rows (FID against parameter count), if its quality key (`quality`: "fid" or
    "quality.fid") is FID."""
    if (key := quality.rpartition(".")[2]) != FID:
        return Verdict(CLAIM_2, NOT_MEASURED, RULE_2,
                       notes=(f"the rule reads FID; this sweep measured {key or 'no quality'}",), how=HOW[CLAIM_2])
    return judge_claim2(size_sweeps_of(rows, FID))


def claim_b(sweeps: list[dict]) -> Verdict:
    """Claim 2 from the last sweep.json summary given."""
    if not sweeps:
        return Verdict(CLAIM_2, NOT_MEASURED, RULE_2, notes=("no capacity sweep",), how=HOW[CLAIM_2])
    return claim2_of_rows(trial_rows(sweeps[-1]), str(sweeps[-1].get("metrics", {}).get("quality", {}).get("key", "")))
