"""The known-answer controls of claims 1 and 3 on trained models: the same GAN trained on several seeds
through the study's own trial settings and trial loop, then put into the claims' inputs in roles whose
answer is known in advance.

    claim 3, positive: the GAN at Adam lr x in the flipped-label role, the same GAN at x/10 in the minimax
                       role (the slower one must be found slower): "supported"
    claim 3, negative: the GAN at lr x in both roles, seeds A against seeds B paired by index (no
                       difference to find, but not identical curves): not decided
    claim 1, negative: GAN seeds A as "gan", GAN seeds B as "vae-mean": not decided, and each pair alone
                       (one seed) never decides
    claim 1, positive: seeds B with ControlPlan.salt lone ink pixels planted per image, counted by compare.metrics'
                       bad-pixel functions: "supported"

Both claim-3 roles are the flipped-label GAN: the minimax series is just fed a slower copy of it, so
the only difference the rule can find is the one planted by the learning rate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from compare.calibrate import ControlResult
from compare.data import ImageDataset, in_memory
from compare.io import read_run_json
from compare.metrics.bad_pixels import ink_neighbours, per_image_counts, rates_with_intervals
from compare.metrics.continuity import ink
from compare.metrics.scoring import heldout_evaluated
from compare.models import parse_model_specs
from compare.claims.inputs import claim3_from_runs
from compare.claims.rules import (
    ARTIFACT_KEYS, LONE_PIXELS, NO_PRACTICAL_DIFFERENCE, NOT_DECIDED, SUPPORTED, Claim1Input, Claim3Input, Point,
    Series, Verdict, judge_claim1, judge_claim3,
)
from compare.sample import sample_views, samples_per_view
from compare.experiments.executors import ExecutorOptions, LocalExecutor
from compare.experiments.study import StudySettings, default_specs
from compare.experiments.trials import run_trials
from compare.settings import Budget
from compare.train.checkpoint import load_model

# A control with nothing to find passes on these; "supported", "not supported" or "mixed" invent a difference, and
# "not measured" is a broken control, not a pass.
UNDECIDED = (NOT_DECIDED, NO_PRACTICAL_DIFFERENCE)
NOT_DECIDED_TEXT = f"{NOT_DECIDED} (or {NO_PRACTICAL_DIFFERENCE})"


@dataclass(frozen=True)
class ControlPlan:
    """How the trained controls train: the GAN's budget, its learning rate x in the flipped-label role,
    seeds per role."""

    steps: int
    lr: float
    seeds: int = 3
    width: float = 1.0
    batch_size: int = 128
    salt: int = 10  # lone ink pixels planted per image for claim 1's positive control


# The full controls repeat the probe (mnist5k, 1,000 steps, lr 5e-4 against 5e-5); --quick trains a
# half-width GAN for 400 steps on 8x8 digits, at lr 1e-3 so the fast copy moves within so few steps, and plants
# 2 pixels per image, as many as an 8x8 digit's empty corners reliably hold.
FULL = ControlPlan(steps=1000, lr=5e-4)
QUICK = ControlPlan(steps=400, lr=1e-3, width=0.5, batch_size=64, salt=2)


@dataclass(frozen=True)
class Trained:
    """One control GAN after its trial: its run directory's metrics and config (None when the trial failed)."""

    seed: int
    lr: float
    run_dir: Path
    metrics: dict | None
    config: dict | None
    error: str | None = None


def train_gans(plan: ControlPlan, dataset: str, seed: int, out: Path, log: Callable[[str], None],
               jobs: int = 1) -> dict[str, list[Trained]]:
    """The control GANs through the study's trial settings and trial loop, one after another in this process:
    {"fast": lr x on seeds A then B, "slow": lr x/10 on seeds A}; seeds A = seed.., B = the next plan.seeds."""
    study = StudySettings(budget=Budget.parse(f"{plan.steps}steps"), dataset=dataset, device="cpu",
                          batch_size=plan.batch_size)
    gan = default_specs(study)["gan"]
    roles = {"fast": (plan.lr, range(seed, seed + 2 * plan.seeds)),
             "slow": (plan.lr / 10, range(seed, seed + plan.seeds))}
    trials = {}
    for role, (lr, seeds) in roles.items():
        spec = dataclasses.replace(gan, overrides=gan.overrides + (("lr", lr),))
        for s in seeds:
            tid = f"gan-lr{lr:g}-seed{s}"
            trials[tid] = (role, lr, s, study.run_settings(spec, plan.width, s, (out / tid).resolve(), curves=True))
    records, _ = run_trials([(tid, t[3]) for tid, t in trials.items()], out, LocalExecutor(ExecutorOptions(jobs=jobs)),
                            log)
    found: dict[str, list[Trained]] = {"fast": [], "slow": []}
    for tid, (role, lr, s, _) in trials.items():
        record = records.get(tid, {})
        done = record.get("status") == "done"
        found[role].append(Trained(s, lr, out / tid, read_run_json(out / tid, "metrics.json") if done else None,
                                   read_run_json(out / tid, "config.json") if done else None,
                                   None if done else record.get("error", "not run")))
    return found


def _broken(control: str, expected: str, counts: str, why: str) -> ControlResult:
    return ControlResult(control, expected, f"not run: {why}", counts, False, {"error": why})


def _failed(gans: list[Trained]) -> str | None:
    bad = [f"lr {g.lr:g} seed {g.seed}: {g.error}" for g in gans if g.metrics is None]
    return f"trial failed ({bad[0]})" if bad else None


def _result(control: str, expected: str, counts: str, verdict: Verdict, passed: bool, **details) -> ControlResult:
    return ControlResult(control, expected, verdict.verdict, counts, passed, {**details, "verdict": verdict.to_json()})


# ---- claim 3 ----

def _claim3(ns: list[Trained], mm: list[Trained], minimax_label: str) -> Claim3Input | Verdict:
    """ns[i] in the flipped-label role against mm[i] in the minimax role, paired under ns[i]'s seed.

    claim3_from_runs (what the study and the report use) finds the two roles by the generator loss in each
    run's config; here the roles are assigned instead, and both GANs really train with the flipped-label loss."""
    runs = []
    for a, b in zip(ns, mm):
        merged = {"models": {"gan": a.metrics["models"]["gan"], minimax_label: b.metrics["models"]["gan"]},
                  "quality": a.metrics["quality"]}
        runs.append((merged, {"seed": a.seed, "models": {"gan": {"generator_loss": "nonsaturating"},
                                                         minimax_label: {"generator_loss": "minimax"}}}))
    return claim3_from_runs(runs)


def _judge3(ns: list[Trained], mm: list[Trained], label: str) -> Verdict:
    data = _claim3(ns, mm, label)
    return judge_claim3(data) if isinstance(data, Claim3Input) else data


def _final_fids(gans: list[Trained]) -> dict[int, float]:
    return {g.seed: g.metrics["models"]["gan"]["curve"][-1]["views"]["gan"]["fid"] for g in gans}


def _seeds(gans: list[Trained]) -> str:
    return f"{gans[0].seed}-{gans[-1].seed}" if len(gans) > 1 else str(gans[0].seed)


def claim3_controls(plan: ControlPlan, gans: dict[str, list[Trained]]) -> list[ControlResult]:
    """Positive: lr x as flipped-label against lr x/10 as minimax. Negative: lr x against itself on other seeds
    (identical seeds would give identical curves, an exact null no rule could miss)."""
    a, b, slow = gans["fast"][:plan.seeds], gans["fast"][plan.seeds:], gans["slow"]
    budget = f"{plan.steps} steps, the study's claim-3 curve points"
    positive = f"claim 3 +: one GAN at lr {plan.lr:g} (flipped-label role) vs {plan.lr / 10:g} (minimax role)"
    negative = f"claim 3 -: one GAN at lr {plan.lr:g} in both roles"
    out = []
    if why := _failed(a + slow):
        out.append(_broken(positive, SUPPORTED, f"seeds {_seeds(a)}", why))
    else:
        v = _judge3(a, slow, f"gan:lr={plan.lr / 10:g}")
        out.append(_result(positive, SUPPORTED, f"seeds {_seeds(a)}, {budget}", v, v.verdict == SUPPORTED,
                           final_fid={"flipped-label role": _final_fids(a), "minimax role": _final_fids(slow)}))
    if why := _failed(a + b):
        out.append(_broken(negative, NOT_DECIDED_TEXT, f"seeds {_seeds(a)} vs {_seeds(b)}", why))
    else:
        v = _judge3(a, b, f"gan:seeds={_seeds(b)}")
        out.append(_result(negative, NOT_DECIDED_TEXT, f"seeds {_seeds(a)} vs {_seeds(b)} by index, {budget}", v,
                           v.verdict in UNDECIDED, pairs=[[x.seed, y.seed] for x, y in zip(a, b)],
                           final_fid={"A": _final_fids(a), "B": _final_fids(b)}))
    return out


# ---- claim 1 ----

def plant_salt(images: Tensor, per_image: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(a copy of images (N, C, H, W) with up to `per_image` lone ink pixels added to each, (N,) how many went in).

    Each is set to 1 on a background pixel whose 8 neighbours are background (on the images binarised as
    compare.metrics.continuity counts them), none next to another, so each adds exactly one lone ink pixel and
    one 1-px speck and changes nothing else; an image with no such pixel left gets fewer."""
    out, planted = images.clone(), torch.zeros(len(images), dtype=torch.long)
    width = images.shape[-1]
    for i in range(len(out)):
        for _ in range(per_image):
            mask = ink(out[i:i + 1])  # (1, H, W), recomputed: a pixel just planted takes its neighbours out
            free = (~mask & (ink_neighbours(mask) == 0))[0].flatten().nonzero()[:, 0]
            if len(free) == 0:
                break
            row, col = divmod(free[torch.randint(len(free), (1,), generator=generator)].item(), width)
            out[i, :, row, col] = 1.0
            planted[i] += 1
    return out, planted


def gan_samples(g: Trained, data: ImageDataset) -> Tensor:
    """The run's own draw of the GAN's samples (compare.experiments.pipeline.run: same sample seed and count), as many
    as its continuity metrics read: one per held-out image."""
    spec = parse_model_specs(["gan"])[0]
    model = load_model(g.run_dir, spec.label)  # the checkpoint holds the config (lr, width, arch) it was trained with
    n = samples_per_view(g.config["evaluation"]["eval_samples"], heldout_evaluated(data))
    return sample_views(spec, model, n, g.seed)[spec.label][:len(in_memory(data.heldout))]


def _point(images: Tensor, steps: int) -> tuple[Point, dict[str, Tensor]]:
    """The claim-1 point of one image set (rates with per-image bootstrap intervals, as a run stores them)
    and its counts."""
    counts = per_image_counts(ink(images))
    rates = rates_with_intervals({k: counts[k] for k in ARTIFACT_KEYS})
    return Point(steps, {k: rates[k] for k in ARTIFACT_KEYS},
                 {k: tuple(rates[k + "_ci95"]) for k in ARTIFACT_KEYS}), counts


def claim1_controls(plan: ControlPlan, gans: dict[str, list[Trained]], data: ImageDataset,
                    seed: int) -> list[ControlResult]:
    """Negative: GAN seeds A as "gan" against GAN seeds B as "vae-mean" (a VAE's usual view), over seeds and each
    pair alone. Positive: the same with plan.salt lone ink pixels planted in every one of B's images."""
    a, b = gans["fast"][:plan.seeds], gans["fast"][plan.seeds:]
    pairs = f"seeds {_seeds(a)} vs {_seeds(b)} by index"
    negative = "claim 1 -: GAN samples as gan vs other seeds' GAN samples as vae-mean"
    single = "claim 1, one seed: each pair of claim 1 - alone"
    positive = f"claim 1 +: claim 1 - with {plan.salt} lone ink pixels planted per vae-mean image"
    if why := _failed(a + b):
        return [_broken(c, e, pairs, why)
                for c, e in ((negative, NOT_DECIDED_TEXT), (single, NOT_DECIDED_TEXT), (positive, SUPPORTED))]
    generator = torch.Generator().manual_seed(seed)
    gan_pts, null_pts, salt_pts, planted, exact, stored = {}, {}, {}, [], True, {}
    for x, y in zip(a, b):  # y's points are keyed by x's seed: that is the pairing
        steps = x.metrics["models"]["gan"]["steps"]
        gan_pts[x.seed], _ = _point(gan_samples(x, data), steps)
        images = gan_samples(y, data)
        null_pts[x.seed], before = _point(images, steps)
        salted, n_planted = plant_salt(images, plan.salt, generator)
        salt_pts[x.seed], after = _point(salted, steps)
        # counted back by the metrics' own functions: each planted pixel is one more lone pixel and speck,
        # nothing else moved
        exact &= all(torch.equal(after[k] - before[k], n_planted.float()) for k in ARTIFACT_KEYS)
        exact &= all(torch.equal(after[k], before[k]) for k in ("lone_holes_per_image", "fragments_per_image"))
        planted.append(float(n_planted.float().mean()))
        # the samples are the run's own draw: their rate is the one its metrics.json holds
        stored[y.seed] = {"recounted": null_pts[x.seed].values[LONE_PIXELS],
                          "metrics.json": y.metrics["continuity"]["views"]["gan"][LONE_PIXELS]}

    def judge(points: dict[int, Point], seeds: list[int]) -> Verdict:
        return judge_claim1(Claim1Input(Series("gan", {s: [gan_pts[s]] for s in seeds}),
                                        (Series("vae-mean", {s: [points[s]] for s in seeds}),)))

    seeds, where = [x.seed for x in a], [[x.seed, y.seed] for x, y in zip(a, b)]
    counts = f"{pairs}, {len(in_memory(data.heldout))} images each"
    v = judge(null_pts, seeds)
    out = [_result(negative, NOT_DECIDED_TEXT, counts, v, v.verdict in UNDECIDED, pairs=where,
                   lone_pixels_recount=stored)]
    alone = [judge(null_pts, [s]) for s in seeds]
    got = [x.verdict for x in alone]
    out.append(ControlResult(single, f"{NOT_DECIDED_TEXT}, every pair",
                             ", ".join(f"{k} {got.count(k)}" for k in dict.fromkeys(got)),
                             f"{len(got)} pairs, one seed each", all(g in UNDECIDED for g in got),
                             {"pairs": where, "verdicts": [x.to_json() for x in alone]}))
    v = judge(salt_pts, seeds)
    rate = f"{planted[0]:g}" if len(set(planted)) == 1 else f"{min(planted):.2f}-{max(planted):.2f}"
    out.append(ControlResult(positive, SUPPORTED,
                             v.verdict if exact else f"{v.verdict}, but the planted pixels did not count back exactly",
                             f"{counts}; {rate} planted per image", v.verdict == SUPPORTED and exact,
                             {"pairs": where, "planted_per_image": planted, "counted_back_exactly": exact,
                              "verdict": v.to_json()}))
    return out


def trained_controls(plan: ControlPlan, data: ImageDataset, seed: int, out: Path, log: Callable[[str], None],
                     jobs: int = 1) -> list[ControlResult]:
    """Claims 3 and 1 on GANs trained under `plan` into out/<trial id>/, `jobs` trials at once (the
    study's trial loop)."""
    gans = train_gans(plan, data.name, seed, out, log, jobs)
    return claim3_controls(plan, gans) + claim1_controls(plan, gans, data, seed)
