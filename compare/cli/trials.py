"""`compare sweep` and `compare study`: many trials of the run pipeline, each through the shared trial loop."""

from __future__ import annotations

from pathlib import Path

import click

from compare.cli.options import (DATASET_HELP, DEFAULT_BUDGET, OPTIMIZER_HELP, RESAMPLES_HELP, given_by_user,
                                 model_options, trial_options)
from compare.data import check_dataset_name
from compare.errors import UserError
from compare.models import ARCHITECTURES, OPTIMIZERS, parse_model_specs
from compare.stats import RESAMPLES
from compare.settings import MAX_SEED, MAX_SEEDS, MAX_TUNE
from compare.settings import Budget


@click.command("sweep", context_settings={"show_default": True})
@model_options()
@click.option("--widths", default="0.25,0.5,1,2,4",
              help="Width multipliers on every model's hidden size, comma-separated.")
@click.option("--seeds", default=3, type=click.IntRange(1, MAX_SEEDS),
              help="Seeds per (model, width): --seed .. --seed+N-1.")
@click.option("--seed", default=0, type=click.IntRange(0, MAX_SEED), help="First seed.")
@click.option("--dataset", default="mnist5k", help=DATASET_HELP)
@click.option("--budget", default=DEFAULT_BUDGET, help="Training budget of every trial, as for `compare run`.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Sweep directory; rerunning into it skips done trials and retries failed ones. [default: "
                   "runs/sweep-<timestamp>]")
@click.option("--quality", default="fid",
              help="Quality metric: a registered metric key with a better direction (fid, kid_x1e3, precision, ...), "
                   "or its path in a model's metrics.json entry (quality.fid).")
@click.option("--continuity", default="lone_pixels_per_image",
              help="Continuity metric, the same way (lone_pixels_per_image, specks_per_image, "
                   "fragments_per_image, ...).")
@click.option("--size-by", default="total",
              help="Network size on the x axis: total (all trained parameters) or generator (only the sampling "
                   "network: GAN generator, VAE decoder).")
@click.option("--optimizer", default="adam", type=click.Choice(OPTIMIZERS), help=OPTIMIZER_HELP)
@click.option("--resamples", default=RESAMPLES, type=int, help=RESAMPLES_HELP)
@trial_options
def sweep_cmd(model_words: list[str], widths: str, seeds: int, seed: int, dataset: str, budget: str, device: str,
              batch_size: int, out: Path | None, quality: str, continuity: str, size_by: str, optimizer: str,
              resamples: int, make_pool) -> None:
    """Train every (model, width, seed) under one budget; plot quality and continuity against size; judge claim 2 (a VAE
    needs a larger network)."""
    from compare.experiments.sweep import SweepSettings, parse_widths, sweep
    from compare.experiments.trials import trials_failed

    settings = SweepSettings(
        models=tuple(parse_model_specs(model_words)), widths=parse_widths(widths),
        seeds=tuple(range(seed, seed + seeds)), budget=Budget.parse(budget), dataset=check_dataset_name(dataset),
        device=device, batch_size=batch_size, out=out, quality=quality, continuity=continuity, size_by=size_by,
        optimizer=optimizer, resamples=resamples,
    )
    from compare.report.summary import prior_line, verdict_line

    result = sweep(settings, make_pool())
    counts = result["counts"]
    click.echo(f"{counts['trials']} trials: {counts['done']} done ({counts['skipped_as_done']} from before), "
               f"{counts['failed']} failed")
    for key, ids in result["missing_metrics"].items():
        click.echo(f"  {key} is missing from {len(ids)} done trials (e.g. {ids[0]}); see --quality / --continuity")
    # compare.claims.rules.judge_claim2's Verdict, as sweep.json stores it
    click.echo(verdict_line("Claim 2", result["claim_b"]))
    if gap := result.get("prior_gap"):
        click.echo(prior_line(gap))
    out = Path(result["out"])
    report = out / "report.html"
    click.echo("Every trial is in "
               "sweep.json and trials/" + (", the curves in sweep_*.png." if result["plots"] else "."))
    click.echo(f"The report:\n{report}" if report.exists() else "No report: no trial finished.")
    if failed := trials_failed(((out / "trials", row) for row in result["trials"]), "the same command"):
        raise failed


@click.command("study", context_settings={"show_default": True})
@click.option("--dataset", default="mnist5k", help=DATASET_HELP)
@click.option("--budget", default=DEFAULT_BUDGET,
              help="Training budget of every trial (steps, images, epochs or flops; not seconds).")
@click.option("--seeds", default=5, type=click.IntRange(1, MAX_SEEDS),
              help="Seeds: --seed .. --seed+N-1; every verdict pairs the models by seed.")
@click.option("--seed", default=0, type=click.IntRange(0, MAX_SEED), help="First seed.")
@click.option("--widths", default="0.25,0.5,1,2",
              help="Width multipliers of gan and vae (claim 2), comma-separated; must include 1 (claims 1 and 3).")
@model_options("The study's GAN and VAE, as two words or comma-separated (`--models gan vae`, `--models "
               "gan,vae`): registered names or your own PKG.MODULE:CLASS (claim 3 needs the GAN's minimax variant, as "
               "gan:minimax).")
@click.option("--arch", default="mlp",
              help=f"Networks of every model ({', '.join(ARCHITECTURES)}); several, comma-separated, run the study "
                   "once per architecture in DIR/<arch>/ and report them side by side.")
@click.option("--tune", default=0, type=click.IntRange(0, MAX_TUNE),
              help="Random-search trials per family before the seeds (0: both families' default recipes).")
@click.option("--optimizer", default="adam", type=click.Choice(OPTIMIZERS),
              help="Optimiser of the gan and vae trials of claims 1 and 2 (adam or plain sgd).")
@click.option("--claim3-optimizers", default="adam,sgd",
              help="Optimisers claim 3 is judged under, comma-separated: gan and gan:minimax at width 1 with each.")
@click.option("--mechanisms", is_flag=True, default=False,
              help="Also test the claims' reasons: vae:autoregressive at width 1 per seed, whose joint pixel draws are "
                   "judged against vae's independent ones (claim 1's reason; opt-in: +5 trials of ~4 min each on one "
                   "CPU thread at the default budget).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Study directory; rerunning into it skips done trials and resumes stopped ones. [default: "
                   "runs/study-<timestamp>]")
@click.option("--resume", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Finish the study in DIR with the settings in its study.json (only executor flags "
                   "may be given besides).")
@trial_options
def study_cmd(model_words: list[str], dataset: str, budget: str, seeds: int, seed: int, widths: str, arch: str,
              tune: int, optimizer: str, claim3_optimizers: str, mechanisms: bool, device: str, batch_size: int,
              out: Path | None, resume: Path | None, make_pool) -> None:
    """Train gan and vae at every width and gan and gan:minimax at width 1 under each claim-3 optimiser for every seed
    under one budget, and judge the source's three claims."""
    from compare.experiments.sweep import parse_widths
    from compare.experiments.study import (
        StudySettings, parse_archs, parse_optimizers, parse_study_models, saved_archs, saved_settings, study,
        study_archs,
    )

    if resume is not None:
        # more_models: the words after --models, named by --models itself
        executor_flags = ("resume", "executor", "jobs", "address", "cpus_per_trial", "gpus_per_trial", "more_models")
        if given := [f"--{n.replace('_', '-')}" for n in click.get_current_context().params
                     if n not in executor_flags and given_by_user(n)]:
            raise UserError(f"{', '.join(given)} cannot be given with --resume: a resumed study keeps the "
                            "settings in its study.json")
        settings, archs = saved_archs(resume) or (saved_settings(resume), None)
    else:
        archs = parse_archs(arch)
        settings = StudySettings(budget=Budget.parse(budget), dataset=check_dataset_name(dataset),
                                 seeds=tuple(range(seed, seed + seeds)), widths=parse_widths(widths), arch=archs[0],
                                 tune=tune, device=device, batch_size=batch_size, out=out, optimizer=optimizer,
                                 claim3_optimizers=parse_optimizers(claim3_optimizers), mechanisms=mechanisms,
                                 models=parse_study_models(model_words))
    from compare.claims.pixel_mechanism import MECHANISM_1, REASON_1
    from compare.claims.study import claim3_name
    from compare.claims.prior_gap import NOT_MEASURED as NOT_MEASURED_GAP
    from compare.experiments.trials import trials_failed
    from compare.report.summary import prior_line, verdict_line

    mechanism_names = {MECHANISM_1: REASON_1}  # the terminal's name of each reason the study judges

    if archs is not None and len(archs) > 1:
        combined = study_archs(settings, archs, make_pool())
        results = combined["studies"]
    else:
        combined, results = None, {settings.arch: study(settings, make_pool())}
    for arch, result in results.items():
        for i, claim in enumerate(result["claims"], 1):
            name = (claim3_name(claim["optimizer"]) if "optimizer" in claim
                    else mechanism_names.get(claim["claim"], f"claim {i}"))
            click.echo(verdict_line(name[0].upper() + name[1:] + (f", {arch}" if combined else ""), claim))
        if (gap := result["mechanisms"]["prior_gap"])["verdict"] != NOT_MEASURED_GAP:
            click.echo(prior_line(gap) + (f" ({arch})" if combined else ""))
    out = Path(combined["out"] if combined else results[settings.arch]["out"])
    where = ("each architecture's study.json, figures/ and trials/ in its folder" if combined
             else "study.json, figures/ and trials/")
    click.echo(f"Every number is in {where}. The report:\n{out / 'report.html'}")
    if failed := trials_failed(((Path(r["out"]) / "trials", row) for r in results.values() for row in r["trials"]),
                               f"compare study --resume {out}"):
        raise failed
