"""The `compare` command: a thin click layer over compare.experiments.pipeline and the registries.

This module holds the group and the single-run commands; compare.cli.trials the multi-trial ones (sweep, study),
compare.calibrate.cli `compare calibrate`, compare.cli.options the flags and helpers they share."""

from __future__ import annotations

import dataclasses
import os
import sys

try:  # a deleted working directory makes torch's MKL loader die without a word: say so first
    os.getcwd()
except FileNotFoundError:
    sys.stderr.write("Error: the current directory no longer exists; cd to an existing directory and run again\n")
    raise SystemExit(2) from None

try:  # Ctrl-C while torch loads (seconds) is one line and exit 130, not a traceback of the import machinery
    import warnings
    from pathlib import Path

    import click

    from compare.settings import DEFAULT_CHECKPOINT_EVERY, Budget
    from compare.train.checkpoint import resume_settings
    from compare.data import DATASETS, DataOptions, check_data_options, check_dataset_name, dataset_usage
    from compare.errors import ReaderGone, UserError, one_line
    from compare.stats import RESAMPLES
    from compare.settings import MAX_SEED, MAX_SEEDS, RunSettings
    from compare.metrics.evaluator import FEATURES
    from compare.rundir import Interrupted
    from compare.models import ARCHITECTURES, MODELS, OPTIMIZERS, PRECISIONS, parse_model_specs, with_fields
    from compare import protocol
    from compare.calibrate.cli import calibrate
    from compare.cli.options import (
        DATASET_HELP, DEFAULT_BUDGET, EVAL_SAMPLES_HELP, FEATURES_HELP, OPTIMIZER_HELP, RESAMPLES_HELP, given_by_user,
        model_options, say,
    )
    from compare.cli.trials import study_cmd, sweep_cmd
    from compare.cli.artifacts import export_cmd, sample_cmd
except KeyboardInterrupt:
    sys.stderr.write("Interrupted during start-up; nothing was done\n")
    raise SystemExit(130) from None

class CompareGroup(click.Group):
    """Every bad input ends as one line on stderr and exit code 2, never a traceback or a usage dump."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            # every command's warnings (skipped images, a rebuilt cache) as one plain line each
            with warnings.catch_warnings():
                warnings.showwarning = lambda message, *_, **__: click.echo(f"Warning: {message}", err=True)
                return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except Interrupted as e:  # a signal stopped a run, a sweep or a --seeds run at a checkpoint
            click.echo(f"Interrupted: {e}", err=True)
            code = e.exit_code
        except Exception as e:
            if (known := one_line(e)) is None:
                raise
            message, code = known
            if isinstance(e, ReaderGone):  # nothing more can reach stdout; let the exit's flush write nowhere
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            elif message:
                click.echo(message, err=True)
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: click.Context):
        try:
            rv = super().invoke(ctx)
            sys.stdout.flush()  # here, where a closed pipe is caught, not in the interpreter's exit
            return rv
        except BrokenPipeError:
            raise ReaderGone() from None


@click.group(cls=CompareGroup, commands=[calibrate, sweep_cmd, study_cmd, sample_cmd, export_cmd],
             invoke_without_command=True)
@click.version_option(package_name="gan-vae-compare")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Compare GANs and VAEs under matched training budgets: samples, quality, pixel artifacts, size."""
    if ctx.invoked_subcommand is None:  # a bare `compare` asks what there is: the help, not an error
        click.echo(ctx.get_help())


@main.command("run", context_settings={"show_default": True})
@model_options()
@click.option("--dataset", default="mnist5k", help=DATASET_HELP)
@click.option("--budget", default=DEFAULT_BUDGET,
              help="Training budget of every model: a number and a unit (steps, images, epochs, s = seconds of "
                   "training, flops = measured training FLOPs), e.g. 3000steps, 20epochs, 90s, 2e13flops.")
@click.option("--seed", default=0, type=click.IntRange(0, MAX_SEED),
              help="Seed of weights, data order, noise and samples: the same seed on the CPU gives "
                   "bit-identical samples.")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where to train; auto takes CUDA when present.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory (must not exist or be empty; see --overwrite and --resume). "
                   "[default: runs/<timestamp>]")
@click.option("--batch-size", default=128, type=int, help="Batch size of every model.")
@click.option("--width", default=1.0, type=float,
              help="Width multiplier on every model's hidden layers (1 = each family's default size).")
@click.option("--checkpoint-every", default=DEFAULT_CHECKPOINT_EVERY, type=int,
              help="Steps between checkpoints (one is also written at the end and on Ctrl-C or SIGTERM): a hard kill "
                   "loses at most this many steps.")
@click.option("--resume", "resume", type=click.Path(path_type=Path), default=None, metavar="RUN_DIR",
              help="Continue the unfinished models of RUN_DIR with the settings in its config.json; finished models "
                   "are kept. Other flags may be left out; one that contradicts the run is an error, except a larger "
                   "--budget, which trains every model of a run on to it and continues the curves.")
@click.option("--overwrite", is_flag=True,
              help="Replace the run already in --out (a directory that is not a run is never replaced).")
@click.option("--match-params", default="none", type=click.Choice(["none", "generator", "total"]),
              help="Scale each model's width so its sampling network (generator / decoder) or all its networks have "
                   "the first model's parameter count, within 5%.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--log", "log", type=click.Choice(["tensorboard"]), default=None,
              help="Also log every curve point's scalars and sample grids for TensorBoard, under RUN_DIR/tensorboard/ "
                   "(needs: pip install tensorboard). RUN_DIR/progress/ has them in any case.")
@click.option("--verbose", is_flag=True,
              help="Also print every table of metrics.md (quality, bad pixels, likelihood) before the summary.")
@click.option("--eval-samples", type=int, default=None, help=EVAL_SAMPLES_HELP)
@click.option("--features", default="evaluator", type=click.Choice(list(FEATURES)), help=FEATURES_HELP)
@click.option("--curve-points", default=8, type=click.IntRange(min=1),
              help="Evaluations spread evenly over the budget for the quality-vs-compute curves; the last is the final "
                   "evaluation (1: only that).")
@click.option("--resamples", default=RESAMPLES, type=int, help=RESAMPLES_HELP)
@click.option("--curve-samples", type=click.IntRange(min=2), default=None,
              help="Samples per view at each curve point: must equal --eval-samples (every number is compared "
                   "at one N); leave it out.")
@click.option("--seeds", default=1, type=click.IntRange(1, MAX_SEEDS),
              help="Run N times, with seeds --seed .. --seed+N-1 (under OUT/seed-<s>/), and report every metric as "
                   "mean, std and 95% interval; differences whose interval includes zero are marked n.s.")
@click.option("--jobs", default=1, type=int,
              help="With --seeds: seeds at once in separate processes (0: one per core), torch threads split.")
@click.option("--arch", default="mlp", type=click.Choice(ARCHITECTURES),
              help="Networks of every model: mlp (the source's fully connected nets) or conv (DCGAN's "
                   "strided convolutions around a dense layer, about the MLPs' parameter count; image "
                   "sides like 8, 28, 32, 64).")
@click.option("--precision", default="fp32", type=click.Choice(PRECISIONS),
              help="Autocast precision of the training forward passes; bf16 and fp16 (with a "
                   "grad scaler) are for GPUs.")
@click.option("--optimizer", default="adam", type=click.Choice(OPTIMIZERS), help=OPTIMIZER_HELP)
@click.option("--data-root", type=click.Path(path_type=Path), default=None,
              help="Directory holding the torchvision datasets (mnist, fashion-mnist, cifar10, celeba). "
                   "[default: <cache dir>/data]")
@click.option("--download", is_flag=True,
              help="Download a missing torchvision dataset into --data-root; nothing is downloaded without it.")
@click.option("--image-size", type=int, default=None,
              help="Side in pixels that celeba and folder:PATH images are resized and centre-cropped to. [default: 64]")
@click.option("--channels", type=int, default=None,
              help="1 (grey) or 3 (RGB) for celeba and folder:PATH images. [default: 3]")
def run_cmd(model_words: list[str], dataset: str, budget: str, seed: int, device: str, out: Path | None,
            batch_size: int, width: float, checkpoint_every: int, resume: Path | None, overwrite: bool,
            match_params: str, quiet: bool, log: str | None, verbose: bool, seeds: int, jobs: int,
            eval_samples: int | None, features: str, curve_points: int, curve_samples: int | None, resamples: int,
            arch: str, precision: str, optimizer: str, data_root: Path | None, download: bool,
            image_size: int | None, channels: int | None) -> None:
    """Train each model under the same budget and write samples, grids and metrics to a run directory.

    Exit codes: 0 done; 2 bad input or an unwritable run directory; 3 a model diverged (its last good
    checkpoint is kept, the other models finished); 130 (Ctrl-C), 143 (SIGTERM) or 129 (SIGHUP)
    interrupted, continue with --resume (also of an OUT of --seeds).
    """
    from compare.rundir import EXIT_DIVERGED
    from compare.experiments.pipeline import finished_run, run  # deferred: keeps `compare --help` and listings fast

    data_options = DataOptions(root=data_root, download=download, image_size=image_size, channels=channels)
    check_data_options(dataset, data_options)
    flags = dict(
        budget=Budget.parse(budget),
        models=tuple(with_fields(parse_model_specs(model_words), arch=arch, precision=precision, optimizer=optimizer)),
        dataset=check_dataset_name(dataset),
        seed=seed,
        device=device,
        batch_size=batch_size,
        out=out,
        width=width,
        checkpoint_every=checkpoint_every,
        match_params=match_params,
        eval_samples=eval_samples,
        features=features,
        data_options=data_options,
        curve_points=curve_points,
        curve_samples=curve_samples,
        resamples=resamples,
    )
    if resume is not None and overwrite:
        raise UserError("--resume and --overwrite contradict each other: a resume continues the run, "
                        "--overwrite replaces it")
    from compare.report.render import text_table
    from compare.report.summary import seeds_summary
    from compare.report.tables import seed_table
    from compare.experiments.seeds import run_seeds, seeds_to_resume

    if resume is None:
        settings = RunSettings(**flags)
    else:
        typed = {name for name in click.get_current_context().params if given_by_user(name)}
        given = {name: value for name, value in flags.items()
                 if name in typed or (name == "models" and "more_models" in typed)}
        if seeded := seeds_to_resume(resume):  # a --seeds directory: every seed shares the first one's settings
            first_run, saved_seeds = seeded
            if "seeds" in typed and seeds != saved_seeds:
                raise UserError(f"--seeds {seeds} conflicts with the {saved_seeds} seeds of {resume}; "
                                "drop the flag to resume")
            if "out" in given and Path(given.pop("out")).resolve() != Path(resume).resolve():
                raise UserError(f"--out conflicts with --resume {resume}: a resumed run stays in its directory")
            settings, seeds = dataclasses.replace(resume_settings(RunSettings, first_run, given),
                                                  out=Path(resume)), saved_seeds
        else:
            budget_given = given.pop("budget", None)  # a larger budget extends the run (compare.train.budget_extended)
            settings = resume_settings(RunSettings, resume, given)
            if budget_given is not None and budget_given != settings.budget:
                settings = dataclasses.replace(settings, budget=budget_given)
            # nothing to train or evaluate: say so rather than redo the evaluation
            elif finished := finished_run(resume):
                report, diverged = finished
                click.echo(f"{resume} is finished ({settings.budget} each); its report: {report}. To train on, give a "
                           f"larger budget: compare run --resume {resume} --budget <more than {settings.budget}>")
                if diverged:  # as the run itself ended: the failure is still the answer
                    click.echo(f"Error: {', '.join(diverged)} diverged (see metrics.json); the other models finished",
                               err=True)
                    sys.exit(EXIT_DIVERGED)
                return
    if log is not None and seeds > 1:
        raise UserError("--log tensorboard is for a single run; a --seeds run writes no pictures of its own")
    if jobs != 1 and seeds == 1:
        raise UserError(f"--jobs {jobs} is for --seeds N (a single run trains its models one after another); "
                        "add --seeds or drop --jobs")
    if seeds > 1:
        from compare.experiments.executors import ExecutorOptions, LocalExecutor

        result = run_seeds(settings, seeds, show_progress=not quiet, executor=LocalExecutor(ExecutorOptions(jobs=jobs)))
        if verbose:
            click.echo(text_table(seed_table(result)) + "\n")
        click.echo(seeds_summary(result))
        click.echo("\nEvery number: seeds.json (or --verbose), each seed's run: seed-*/. The "
                   f"report:\n{Path(result['out']) / 'report.html'}")
        return
    result = run(settings, show_progress=not quiet, resume=resume is not None, overwrite=overwrite,
                 tensorboard=log == "tensorboard")
    from compare.report.summary import run_summary
    from compare.report.text import run_text

    metrics = result.metrics_json()
    if verbose:
        click.echo(run_text(metrics) + "\n")
    click.echo(run_summary(metrics, result.config))
    click.echo(f"\nTables: metrics.md (or --verbose). Pictures and the report:\n{result.out / 'report.html'}")
    if failed := [label for label, t in result.trained.items() if t.record.status == "diverged"]:
        click.echo(f"Error: {', '.join(failed)} diverged (see metrics.json); the other models finished", err=True)
        sys.exit(EXIT_DIVERGED)


@main.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write the HTML report (report.md goes beside it). [default: RUN_DIR/report.html]")
def report_cmd(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Write one self-contained report.html (and report.md) for one or more run directories (and sweep directories)."""
    from compare.report import write_report

    html_path, md_path = write_report(list(run_dirs), out)
    click.echo(f"wrote {html_path} and {md_path}")


@main.command("models")
def models_cmd() -> None:
    """List the registered model families and their variants, and the models installed packages announce.

    Your own model: --models PKG.MODULE:CLASS (docs/reference.md, 'Bring your own model or dataset')."""
    for name, entry in MODELS.items():
        variants = f"  [variants: {', '.join(f'{name}:{v}' for v in entry.variants)}]" if entry.variants else ""
        click.echo(f"{name:<8} {entry.description}{variants}")
    for name, source in protocol.announced(protocol.MODEL_GROUP).items():
        if name not in MODELS:  # one used already is registered, and listed above
            click.echo(f"{name:<8} {source} (installed package)")


@main.command("datasets")
def datasets_cmd() -> None:
    """List the registered datasets, and the datasets installed packages announce.

    Your own dataset: --dataset PKG.MODULE:FUNCTION (docs/reference.md, 'Bring your own model or dataset')."""
    for name, entry in DATASETS.items():
        click.echo(f"{dataset_usage(name):<14} {entry.description}")
    for name, source in protocol.announced(protocol.DATASET_GROUP).items():
        if name not in DATASETS:
            click.echo(f"{name:<14} {source} (installed package)")


@main.command("score", context_settings={"show_default": True})
@click.argument("real", metavar="A", type=click.Path(path_type=Path))
@click.argument("fake", metavar="B", type=click.Path(path_type=Path))
@click.option("--dataset", default="mnist5k",
              help="Dataset whose evaluator gives the features and whose train split the memorisation check uses; its "
                   "images must be the size of A's and B's.")
@click.option("--features", default="evaluator", type=click.Choice(list(FEATURES)), help=FEATURES_HELP)
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where to run the extractor.")
@click.option("--metric", default=None, metavar="KEY",
              help="Print only this number, unrounded (as pytorch-fid prints FID): fid, fid_inf, kid_x1e3, precision, "
                   "lone_pixels_per_image, ...")
@click.option("--json", "as_json", is_flag=True,
              help="Print every number as flat JSON keys (fid, fid_ci95_low, fid_ci95_high, ..., A_<key> for A's "
                   "own) with the protocol.")
@click.option("--resamples", default=RESAMPLES, type=int, help=RESAMPLES_HELP)
@click.option("--quiet", is_flag=True, help="No progress messages.")
def score_cmd(real: Path, fake: Path, dataset: str, features: str, device: str, metric: str | None, as_json: bool,
              resamples: int, quiet: bool) -> None:
    """Score image set B against the reference set A (folders of images, or .npz / .npy / .pt arrays) with every
    quality metric."""
    import json

    from compare.api import score_images
    from compare.report.render import text_table
    from compare.report.score import JUDGED, REFERENCE, check_metric, flat_scores, score_table
    from compare.report.text import extractor_line

    if metric is not None and as_json:
        raise UserError("--metric and --json contradict each other: --metric prints one number, --json every number")
    metric = metric and check_metric(metric)
    result, pixels = score_images(real, fake, dataset, features, device, say(quiet), resamples)
    numbers = flat_scores(result, pixels)
    if metric is not None:
        click.echo(numbers[metric])
    elif as_json:
        click.echo(json.dumps({REFERENCE: str(real), JUDGED: str(fake), **numbers}, indent=2))
    else:
        click.echo("\n".join([extractor_line(result["extractor"]),
                              f"A: {numbers['n_real']} reference images, B: {numbers['n_fake']} images judged.", "",
                              text_table(score_table(result, pixels)), "",
                              "[low, high]: 95% bootstrap interval over both sets; --json prints "
                              "every number, unrounded."]))


@main.group("evaluator")
def evaluator_group() -> None:
    """The evaluator networks whose features the quality metrics use: mnist5k's and digits' ship with the package."""


@evaluator_group.command("train")
@click.argument("dataset")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Weights file to write, its info beside it as .json (.info.json for a .json OUT). [default: "
                   "evaluator-<dataset>.pt in the current directory]")
@click.option("--overwrite", is_flag=True, help="Replace the weights and info files if they exist.")
def evaluator_train_cmd(dataset: str, out: Path | None, overwrite: bool) -> None:
    """Train DATASET's evaluator by the fixed recipe (seeded, CPU, one thread) into a new weights file; print its
    sha256 and accuracy.

    Runs never use the file by themselves. To ship it for mnist5k or digits, maintainers copy it to
    compare/metrics/evaluator_weights/DATASET.pt and pin the two printed sha256s in compare/metrics/evaluator.py;
    for any other dataset, copying it over the cached evaluator named in the output makes runs use it."""
    import re

    from compare.data import load_dataset
    from compare.io import json_digest
    from compare.metrics.evaluator import (SHIPPED_DIR, SHIPPED_SHA256, evaluator_path, info_path, save_evaluator,
                                           train_evaluator)

    data = load_dataset(check_dataset_name(dataset))
    out = out or Path(f"evaluator-{re.sub(r'[^A-Za-z0-9_.-]+', '_', dataset)}.pt")
    if not overwrite and (existing := [p for p in (out, info_path(out)) if os.path.lexists(p)]):
        raise UserError(f"{existing[0]} already exists; give another --out, move it away, or pass --overwrite")
    net, info = train_evaluator(data)
    save_evaluator(out, net, info, exclusive=not overwrite)  # checked again: a file that appeared meanwhile is kept
    accuracy = (f"held-out accuracy {info['heldout_accuracy']:.2%}" if info["heldout_accuracy"] is not None
                else "held-out reconstruction BCE "
                     f"{info['heldout_reconstruction_bce_per_pixel']:.4f}/pixel (no labels)")
    click.echo(f"wrote {out} and {info_path(out)}: {info['name']}, {accuracy}, {info['steps']} steps in "
               f"{info['train_seconds']} s")
    click.echo(f"weights sha256 {info['weights_sha256']}")
    if data.name in SHIPPED_SHA256:
        click.echo(f"to ship it: copy it to {SHIPPED_DIR / (data.name + '.pt')}; pin this sha256 in "
                   f"SHIPPED_SHA256[{data.name!r}], {json_digest(info)} in SHIPPED_INFO_SHA256")
    else:
        click.echo(f"to use it: copy it to {evaluator_path(data.name)} (the evaluator runs on {data.name} "
                   "train once and then reuse)")


@main.command("evaluate", context_settings={"show_default": True})
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--eval-samples", type=int, default=None, help="Samples per model view. [default: the run's own setting]")
@click.option("--features", default=None, type=click.Choice(list(FEATURES)),
              help=FEATURES_HELP + " [default: the run's own setting]")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where to sample and extract.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def evaluate_cmd(run_dir: Path, eval_samples: int | None, features: str | None, device: str, quiet: bool) -> None:
    """Re-evaluate a finished run from its saved weights: rewrites the quality numbers in metrics.json
    and metrics.md."""
    from compare.experiments.pipeline import evaluate_run
    from compare.report.text import quality_report

    quality = evaluate_run(run_dir, eval_samples, features, device, say(quiet))
    click.echo(f"wrote {run_dir}/metrics.json, metrics.md\n\n{quality_report(quality)}")
