"""How often each interval the toolkit prints covers the target it names, measured by redrawing the sets.

For each of two cases, real vs real and a GAN's samples (a small GAN trained here, whose samples can
be drawn without limit), the judged set is drawn again and again at the N of `compare run` (the
held-out size), scored as `compare run` scores it (compare.metrics.scoring.score_features) and each
interval checked against its target:
- FID at N, KID, precision, recall: the reference set pinned (the first N train images of the
  reference order, as in a run); target: the value's mean over the redraws.
- fid_inf (FID as N -> infinity): the reference set drawn again too (its interval claims both sides);
  target: 0 for real vs real; for the GAN the FID between the whole real pool and ever larger sets of
  samples, extrapolated linearly in 1/N to 1/N = 0 (Chong & Forsyth 2020).
- lone pixels per image (compare.metrics.bad_pixels' bootstrap over images); target: the rate of the
  whole real pool, or of a large set of GAN samples.
Real sets are drawn without replacement from the real images other than the pinned reference
(the train split's rest and the held-out split); that pool is finite, so a redraw varies a little
less than an independent sample would (by the factor 1 - N / pool: 11% in variance at N = 500 on
mnist5k), which can only raise the coverage measured.

A 95% interval passes where it covers its target in TOLERANCE of the redraws. The full mode draws
REDRAWS_FULL times per case at the run's stats.RESAMPLES, so it measures the very intervals a run
prints; its band is wide enough that twelve intervals of a true 95% all pass together 99% of the time
(each fails with probability ~0.07% at 200 redraws), where 100 redraws at 100 resamples failed one of
twelve about half the time by chance alone (precision on GAN samples: 89 of 100 with misses on both
sides, its mean width 4% below the binomial SE's; few resamples pull a percentile inwards).
Quick mode (digits, REDRAWS_QUICK redraws, 100 resamples) is a smoke test of the machinery: with so few
redraws a pass only says that no interval is grossly wrong (at most BINOMIAL_SLACK binomial SDs below 95%).
"""

from __future__ import annotations

import math
import multiprocessing
from dataclasses import dataclass

import torch
from torch import Tensor

from compare.calibrate import ControlResult
from compare.data import ImageDataset, in_memory, load_dataset
from compare.metrics.bad_pixels import CI_SUFFIX, rates_with_intervals
from compare.metrics.continuity import bad_pixel_counts
from compare.metrics.evaluator import FEATURE_DIM, Extractor, load_domain_evaluator
from compare import stats
from compare.metrics import key_info
from compare.metrics.quality import Features, fid_weighted, full_set
from compare.metrics.scoring import eval_sample_count, reference_order, score_features
from compare.models import parse_model_specs
from compare.train.loop import train

LEVEL = 0.95
# of the full mode's redraws: 200 redraws at a true 95% (94%) fall below it with probability 0.06% (0.4%)
TOLERANCE = (0.90, 0.995)
BINOMIAL_SLACK = 2.33  # quick mode: the lowest coverage passed is 95% less this many binomial SDs (1% one-sided)
LONE = "lone_pixels_per_image"


@dataclass(frozen=True)
class Setting:
    dataset: str
    redraws: int
    resamples: int
    gan_steps: int
    large: tuple[int, ...]  # GAN sample sizes of the 1/N fit behind its large-N FID


QUICK = Setting("digits", redraws=8, resamples=100, gan_steps=1000, large=(2000, 4000, 8000))
FULL = Setting("mnist5k", redraws=200, resamples=stats.RESAMPLES, gan_steps=4000, large=(5000, 10000, 20000))


def interval_coverage(quick: bool, seed: int = 0, jobs: int = 1) -> list[ControlResult]:
    """One ControlResult per (case, interval): its coverage of its target over the redraws, scored in
    `jobs` processes."""
    setting = QUICK if quick else FULL
    data = load_dataset(setting.dataset)
    extractor = load_domain_evaluator(data)
    n = eval_sample_count(None, data, FEATURE_DIM)
    train_images = in_memory(data.train).cpu()
    order = reference_order(len(train_images))
    reference = extractor.extract(train_images[order[:n]], "reference")
    # every real image but the reference
    pool_images = torch.cat([train_images[order[n:]], in_memory(data.heldout).cpu()])
    pool = extractor.extract(pool_images, "real pool")
    generator = _small_gan(data, setting.gan_steps, seed)

    def draw_real(g: torch.Generator) -> tuple[Tensor, Features, Features]:
        index = torch.randperm(len(pool_images), generator=g)
        return pool_images[index[:n]], pool.subset(index[:n]), pool.subset(index[n:2 * n])

    def draw_gan(g: torch.Generator) -> tuple[Tensor, Features, Features]:
        images = generator.sample(n, generator=g).cpu()
        return (images, extractor.extract(images, "GAN samples"),
                pool.subset(torch.randperm(len(pool_images), generator=g)[:n]))

    large_gan = _large_n_fid(extractor, pool, generator, setting.large, seed)
    targets = {"real": {"fid_inf": 0.0, LONE: float(bad_pixel_counts(pool_images)[LONE].double().mean())},
               "gan": {"fid_inf": large_gan, LONE: _lone_rate(generator, setting.large[-1], seed)}}
    tasks = [(case, r) for case in ("real", "gan") for r in range(setting.redraws)]
    _SHARED.update(draw={"real": draw_real, "gan": draw_gan}, reference=reference, extractor=extractor, setting=setting,
                   seed=seed)
    try:
        # forked workers inherit _SHARED (the trained GAN, the features): nothing is pickled but the scores
        if jobs > 1:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                scored = pool.map(_redraw, tasks, chunksize=8)
        else:
            scored = [_redraw(task) for task in tasks]
    finally:
        _SHARED.clear()
    results = []
    for case in ("real", "gan"):
        redraws = [s for (c, _), s in zip(tasks, scored) if c == case]
        results += [_judge(case, key, redraws, targets[case].get(key), n, setting) for key in redraws[0]]
    return results


_SHARED: dict = {}  # what every redraw reads, set by interval_coverage for its own process and the workers it forks


def _redraw(task: tuple[str, int]) -> dict:
    """One redraw scored: each has its own seeded generator, so the scores do not depend on which process draws it."""
    case, r = task
    drawn = _SHARED["draw"][case](torch.Generator().manual_seed(_SHARED["seed"] * 100_003 + r))
    return _score(drawn, _SHARED["reference"], _SHARED["extractor"], _SHARED["setting"].resamples)


def _small_gan(data: ImageDataset, steps: int, seed: int):
    """A GAN trained briefly by the toolkit's own loop: any generator whose samples can be drawn without
    limit will do."""
    spec = parse_model_specs(["gan"])[0]
    model = spec.build(data.image_shape, "cpu", seed)
    train(model, in_memory(data.train).cpu(), steps, batch_size=128, seed=seed)
    return model


def _large_n_fid(extractor: Extractor, pool: Features, generator, sizes: tuple[int, ...], seed: int) -> float:
    """FID of the whole real pool against K GAN samples for each K in `sizes`, fitted as a + b / K: a (Chong &
    Forsyth 2020)."""
    from compare.metrics.quality import fid

    samples = _samples(generator, sizes[-1], seed)
    features = extractor.extract(samples, "GAN samples")
    fids = torch.tensor([fid(pool, features.subset(torch.arange(k)))["fid"] for k in sizes], dtype=torch.float64)
    design = torch.stack([torch.ones(len(sizes), dtype=torch.float64), 1 / torch.tensor(sizes, dtype=torch.float64)],
                         dim=1)
    return float(torch.linalg.lstsq(design, fids[:, None]).solution[0, 0])


def _samples(generator, n: int, seed: int) -> Tensor:
    return generator.sample(n, generator=torch.Generator().manual_seed(10**9 + seed)).cpu()


def _lone_rate(generator, n: int, seed: int) -> float:
    return float(bad_pixel_counts(_samples(generator, n, seed))[LONE].double().mean())


def _score(drawn: tuple[Tensor, Features, Features], reference: Features, extractor: Extractor, resamples: int) -> dict:
    """{key: (value, [low, high])} of one redraw: FID at N, KID, precision and recall against the pinned
    reference; fid_inf against a redrawn reference; lone pixels per image over the judged images."""
    images, judged, other_reference = drawn
    pinned = score_features({"real": reference, "fake": judged}, extractor.info, resamples,
                            names=("kid", "precision_recall"))
    redrawn = score_features({"real": other_reference, "fake": judged}, extractor.info, resamples, names=("fid",))
    out = {"fid": _pinned_fid(reference, judged, resamples)}
    out.update({key: (scores["values"][key], scores["intervals"][key]["ci95"]) for scores in pinned.values()
                for key in scores["values"]})
    out["fid_inf"] = (redrawn["fid"]["values"]["fid_inf"], redrawn["fid"]["intervals"]["fid_inf"]["ci95"])
    lone = rates_with_intervals({LONE: bad_pixel_counts(images)[LONE]})
    out[LONE] = (lone[LONE], lone[LONE + CI_SUFFIX])
    return out


def _pinned_fid(reference: Features, judged: Features, resamples: int) -> tuple[float, list[float]]:
    """FID at N and its interval as score_features gives them for a pinned reference, without the reference-side
    resamples that only fid_inf needs (a quarter of the simulation's time)."""
    weights = torch.cat([full_set(len(judged)), stats.resample_pair(len(reference), len(judged), resamples)[1]],
                        dim=1)
    columns = fid_weighted(reference, judged, full_set(len(reference)), weights)["fid"]
    return columns[0].item(), stats.interval(columns[1:], columns[0].item(), (0.0, None))["ci95"]


TARGETS = {"fid": "the mean FID at this N over redraws, reference pinned", "fid_inf": "the large-N FID",
           "kid_x1e3": "the mean KID over redraws, reference pinned",
           "precision": "the mean precision over redraws, reference pinned",
           "recall": "the mean recall over redraws, reference pinned", LONE: "the population's rate"}


def _judge(case: str, key: str, redraws: list[dict], target: float | None, n: int, setting: Setting) -> ControlResult:
    if target is None:  # a target conditional on the pinned reference: the mean over the redraws themselves
        target = sum(r[key][0] for r in redraws) / len(redraws)
    below = sum(r[key][1][1] < target for r in redraws)  # intervals wholly below the target
    above = sum(r[key][1][0] > target for r in redraws)
    hits = len(redraws) - below - above
    coverage = hits / len(redraws)
    if setting is QUICK:
        low, high = LEVEL - BINOMIAL_SLACK * math.sqrt(LEVEL * (1 - LEVEL) / len(redraws)), 1.0
    else:
        low, high = TOLERANCE
    if target in key_info(key).bounds:
        # A target on the edge of the value's range (real vs real's large-N FID, 0) lies inside every interval whose
        # end, clipped to that range (compare.stats), reaches it: such an interval covers it more than 95%
        # of the time by construction (200 of 200 redraws), so there only under-coverage is a flaw.
        high = 1.0
    return ControlResult(control=f"{key} interval, {'real vs real' if case == 'real' else 'GAN samples'} "
                                 f"({setting.dataset}, N = {n})",
                         expected=f"95% cover {TARGETS[key]} (pass: {low:.0%}-{high:.1%})", got=f"{coverage:.1%}",
                         counts=f"{hits} of {len(redraws)} redraws", passed=low <= coverage <= high,
                         details={"case": case, "key": key, "target": target, "hits": hits, "redraws": len(redraws),
                                  "misses_below": below, "misses_above": above, "resamples": setting.resamples, "n": n,
                                  "mean_width": sum(r[key][1][1] - r[key][1][0] for r in redraws) / len(redraws),
                                  "mean_value": sum(r[key][0] for r in redraws) / len(redraws)})
