"""The `compare` command: a thin click layer over compare.runner and the registries."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from compare.budget import Budget
from compare.checkpoint import DEFAULT_CHECKPOINT_EVERY, resume_settings
from compare.data import DATASETS, check_dataset_name
from compare.errors import UserError
from compare.models import MODELS, parse_model_specs

DEFAULT_BUDGET = "4000steps"


class CompareGroup(click.Group):
    """Every bad input ends as one line on stderr and exit code 2, never a traceback or a usage dump."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except UserError as e:
            click.echo(f"Error: {e}", err=True)
            code = 2
        except click.ClickException as e:
            click.echo(f"Error: {e.format_message()}", err=True)
            code = e.exit_code
        except click.Abort:
            click.echo("Aborted.", err=True)
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(cls=CompareGroup)
@click.version_option(package_name="gan-vae-compare")
def main() -> None:
    """Compare GANs and VAEs under matched training budgets: samples, quality, pixel artifacts, size."""


@main.command("run", context_settings={"show_default": True})
@click.option("--models", "models", default="gan,vae", metavar="NAME [NAME ...]",
              help="Models to train, as separate words or comma-separated: `--models gan vae`, `--models gan,vae`, `--models gan gan:minimax`. See `compare models`.")
@click.argument("more_models", nargs=-1, metavar="")
@click.option("--dataset", default="mnist5k", help="Dataset name; see `compare datasets`.")
@click.option("--budget", default=DEFAULT_BUDGET, help="Training budget of every model: a number and a unit (steps, images, epochs), e.g. 3000steps, 20epochs.")
@click.option("--seed", default=0, type=int, help="Seed of weights, data order, noise and samples: the same seed on the CPU gives bit-identical samples.")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train; auto takes CUDA when present.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (must not exist or be empty; see --overwrite and --resume). [default: runs/<timestamp>]")
@click.option("--batch-size", default=128, type=int, help="Batch size of every model.")
@click.option("--width", default=1.0, type=float, help="Width multiplier on every model's hidden layers (1 = each family's default size).")
@click.option("--checkpoint-every", default=DEFAULT_CHECKPOINT_EVERY, type=int,
              help="Steps between checkpoints (one is also written at the end and on Ctrl-C or SIGTERM): a hard kill loses at most this many steps.")
@click.option("--resume", "resume", type=click.Path(path_type=Path), default=None, metavar="RUN_DIR",
              help="Continue the unfinished models of RUN_DIR with the settings in its config.json; finished models are kept. Other flags may be left out; one that contradicts the run is an error.")
@click.option("--overwrite", is_flag=True, help="Replace the run already in --out (a directory that is not a run is never replaced).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run_cmd(models: str, more_models: tuple[str, ...], dataset: str, budget: str, seed: int, device: str,
            out: Path | None, batch_size: int, width: float, checkpoint_every: int, resume: Path | None,
            overwrite: bool, quiet: bool) -> None:
    """Train each model under the same budget and write samples, grids and metrics to a run directory.

    Exit codes: 0 done; 2 bad input or an unwritable run directory; 3 a model diverged (its last good
    checkpoint is kept, the other models finished); 130 (Ctrl-C) or 143 (SIGTERM) interrupted,
    continue with --resume.
    """
    from compare.guard import EXIT_DIVERGED, Interrupted
    from compare.runner import RunSettings, run  # deferred: keeps `compare --help` and listings fast

    flags = dict(
        models=tuple(parse_model_specs([models, *more_models])),
        budget=Budget.parse(budget),
        dataset=check_dataset_name(dataset),
        seed=seed,
        device=device,
        batch_size=batch_size,
        out=out,
        width=width,
        checkpoint_every=checkpoint_every,
    )
    if resume is not None and overwrite:
        raise UserError("--resume and --overwrite contradict each other: a resume continues the run, --overwrite replaces it")
    if resume is None:
        settings = RunSettings(**flags)
    else:
        typed = {name for name in click.get_current_context().params if _given_by_user(name)}
        given = {name: value for name, value in flags.items() if name in typed or (name == "models" and "more_models" in typed)}
        settings = resume_settings(RunSettings, resume, given)
    try:
        result = run(settings, show_progress=not quiet, resume=resume is not None, overwrite=overwrite)
    except Interrupted as e:
        click.echo(f"Interrupted: {e}", err=True)
        sys.exit(e.exit_code)
    click.echo(f"wrote {result['out']}/: side_by_side.png, samples_*.png, metrics.json, config.json")
    for label, m in result["models"].items():
        params = m["parameters"]["total"]
        failure = f"  {m['failure']}" if "failure" in m else ""
        click.echo(f"  {label:<14} {m['steps']} steps in {m['train_seconds']:.1f}s  ({params:,} parameters){failure}")
    if failed := [label for label, m in result["models"].items() if m["status"] == "diverged"]:
        click.echo(f"Error: {', '.join(failed)} diverged (see metrics.json); the other models finished", err=True)
        sys.exit(EXIT_DIVERGED)


def _given_by_user(param: str) -> bool:
    """Whether the user gave this parameter (rather than click filling in its default)."""
    source = click.get_current_context().get_parameter_source(param)
    return source not in (None, click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)


@main.command("models")
def models_cmd() -> None:
    """List the registered model families and their variants."""
    for name, entry in MODELS.items():
        variants = f"  [variants: {', '.join(f'{name}:{v}' for v in entry.variants)}]" if entry.variants else ""
        click.echo(f"{name:<8} {entry.description}{variants}")


@main.command("datasets")
def datasets_cmd() -> None:
    """List the registered datasets."""
    for name, entry in DATASETS.items():
        click.echo(f"{name:<8} {entry.description}")
