"""`compare study --tune N`: the same random-search budget for both families before the seeds (tuning parity).

Each family gets N short trials (a quarter of the study's budget, width 1, the study's first seed) over its
learning rate (log-uniform), Adam's beta1, its latent size and, for the GAN, the discriminator's width
relative to the generator's (GANConfig.d_width). Random search rather than a grid: with few trials it
covers each dimension better (Bergstra & Bengio 2012). Each trial is scored on KID against the held-out
images, which no trial trained on (KID is unbiased at any N, Binkowski et al. 2018); the lowest wins.
The draws depend only on the seed, so a resumed study tunes the same configurations.
"""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any, Callable

import torch

from compare.data import in_memory
from compare.metrics.feature_cache import real_features
from compare.metrics.quality import kid
from compare.sample import sample_views
from compare.settings import Budget
from compare.experiments.trials import run_trials
from compare.train.checkpoint import load_model

LR_RANGE = (1e-4, 3e-3)
BETA1 = (0.5, 0.9)
LATENTS = (16, 32, 64, 128)
D_WIDTHS = (0.5, 1.0, 2.0)
BUDGET_SHARE = 4  # each tuning trial trains budget / 4


def draw(family: str, n: int, seed: int) -> list[dict[str, Any]]:
    """N configurations of `family`, the same for the same seed (a string-seeded Random is stable across runs)."""
    rng = random.Random(f"tune-{family}-{seed}")
    out = []
    for _ in range(n):
        params = {"lr": float(f"{math.exp(rng.uniform(*map(math.log, LR_RANGE))):.3g}"),
                  "betas": (rng.choice(BETA1), 0.999), "latent_dim": rng.choice(LATENTS)}
        if family == "gan":
            params["d_width"] = rng.choice(D_WIDTHS)
        out.append(params)
    return out


def short_budget(budget: Budget) -> Budget:
    amount = budget.amount / BUDGET_SHARE
    return Budget(float(max(1, round(amount))), "steps") if budget.unit == "steps" else Budget(amount, budget.unit)


def heldout_kid(run_dir: Path, spec, seed: int, data, extractor, n: int) -> float | None:
    """KID x1e3 of the trial's model (its first view) against the first n held-out images."""
    model = load_model(run_dir, spec.label, extractor.device)
    images = next(iter(sample_views(spec, model, n, seed).values()))
    heldout = real_features(extractor, in_memory(data.heldout), "held-out images", data.name).subset(torch.arange(n))
    # the report's scale
    value = kid(heldout, extractor.extract(images, "tuning samples"), extractor.info.get("feature_sd", 1.0))["kid_x1e3"]
    return None if math.isnan(value) else value


def tune(settings, specs: dict, executor, out: Path, data, extractor, n_eval: int, saved: dict | None,
         log: Callable[[str], None]) -> dict:
    """Run (or finish) the search from the study's default `specs` ({label: ModelSpec}); returns study.json's
    "tuning": per family its trials, scores and chosen recipe."""
    seed, budget = settings.seeds[0], short_budget(settings.budget)
    if saved and saved.get("families") and all(t.get("chosen") for t in saved["families"].values()) \
            and all(len(t["trials"]) == settings.tune for t in saved["families"].values()):
        return saved  # a finished search is not scored again
    plan = {}
    for family in ("gan", "vae"):
        for k, params in enumerate(draw(family, settings.tune, seed)):
            spec = dataclasses.replace(specs[family], overrides=specs[family].overrides + tuple(params.items()))
            tid = f"{family}-t{k}"
            run = dataclasses.replace(settings.run_settings(spec, 1.0, seed, out / "tuning" / tid), budget=budget)
            plan[tid] = (family, spec, params, run)
    log(f"tuning: {settings.tune} trials per family, {budget} each, scored on held-out KID")
    records, _ = run_trials([(tid, p[3]) for tid, p in plan.items()], out / "tuning", executor, log)
    families: dict[str, dict] = {"gan": {"trials": []}, "vae": {"trials": []}}
    for tid, (family, spec, params, run) in plan.items():
        record = records.get(tid, {})
        score = heldout_kid(run.out, spec, seed, data, extractor, n_eval) if record.get("status") == "done" else None
        families[family]["trials"].append({"id": tid, "params": _jsonable(params),
                                           "status": record.get("status", "pending"), "heldout_kid_x1e3": score})
    for t in families.values():
        scored = [r for r in t["trials"] if r["heldout_kid_x1e3"] is not None]
        t["chosen"] = min(scored, key=lambda r: r["heldout_kid_x1e3"])["params"] if scored else None
    return {"trials_per_family": settings.tune, "budget": str(budget), "seed": seed,
            "space": {"lr": f"log-uniform {LR_RANGE[0]:g}..{LR_RANGE[1]:g}", "beta1": list(BETA1),
                      "latent_dim": list(LATENTS), "d_width (gan)": list(D_WIDTHS)},
            "description": (f"Random search, {settings.tune} trials per family of {budget} each (seed {seed}, width "
                            f"1), over learning rate (log-uniform {LR_RANGE[0]:g}-{LR_RANGE[1]:g}), Adam beta1 "
                            f"{BETA1}, latent size {LATENTS} and, for the GAN, discriminator/generator width "
                            f"{D_WIDTHS}; each scored on KID x1e3 against {n_eval} held-out images; the lowest is each "
                            "family's recipe for the study."),
            "families": families}


def _jsonable(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
