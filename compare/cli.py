"""The `compare` command: a thin click layer over compare.runner and the registries."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from compare.budget import Budget
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
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (must not exist or be empty). [default: runs/<timestamp>]")
@click.option("--batch-size", default=128, type=int, help="Batch size of every model.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run_cmd(models: str, more_models: tuple[str, ...], dataset: str, budget: str, seed: int, device: str,
            out: Path | None, batch_size: int, quiet: bool) -> None:
    """Train each model under the same budget and write samples, grids and metrics to a run directory."""
    from compare.runner import RunSettings, run  # deferred: keeps `compare --help` and listings fast

    settings = RunSettings(
        models=tuple(parse_model_specs([models, *more_models])),
        budget=Budget.parse(budget),
        dataset=check_dataset_name(dataset),
        seed=seed,
        device=device,
        batch_size=batch_size,
        out=out,
    )
    result = run(settings, show_progress=not quiet)
    click.echo(f"wrote {result['out']}/: report.html, report.md, side_by_side.png, samples_*.png, metrics.json, config.json")
    for label, m in result["models"].items():
        params = m["parameters"]["total"]
        click.echo(f"  {label:<14} {m['steps']} steps in {m['train_seconds']:.1f}s  ({params:,} parameters)")


@main.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write the HTML report (report.md goes beside it). [default: RUN_DIR/report.html]")
def report_cmd(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Write one self-contained report.html (and report.md) for one or more run directories."""
    from compare.report import write_report

    html_path, md_path = write_report(list(run_dirs), out)
    click.echo(f"wrote {html_path} and {md_path}")


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
