"""The `compare` command: a thin click layer over compare.runner and the registries."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from compare.budget import Budget
from compare.data import DATASETS, check_dataset_name
from compare.errors import UserError
from compare.evaluator import FEATURES
from compare.models import MODELS, parse_model_specs

DEFAULT_BUDGET = "4000steps"
EVAL_SAMPLES_HELP = ("Samples per model view for the quality metrics. [default: the held-out size, so that every number "
                     "shares the N of its real-data floor]")
FEATURES_HELP = "Feature space of the quality metrics: evaluator = a small CNN trained on the dataset's train split (cached); inception = torchmetrics' Inception-V3, needs torch-fidelity and its weights."


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
@click.option("--eval-samples", type=int, default=None, help=EVAL_SAMPLES_HELP)
@click.option("--features", default="evaluator", type=click.Choice(list(FEATURES)), help=FEATURES_HELP)
def run_cmd(models: str, more_models: tuple[str, ...], dataset: str, budget: str, seed: int, device: str,
            out: Path | None, batch_size: int, quiet: bool, eval_samples: int | None, features: str) -> None:
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
        eval_samples=eval_samples,
        features=features,
    )
    result = run(settings, show_progress=not quiet)
    click.echo(f"wrote {result['out']}/: side_by_side.png, samples_*.png, metrics.json, metrics.md, config.json")
    for label, m in result["models"].items():
        params = m["parameters"]["total"]
        click.echo(f"  {label:<14} {m['steps']} steps in {m['train_seconds']:.1f}s  ({params:,} parameters)")
    from compare.evaluate import quality_report

    click.echo("\n" + quality_report(result["quality"]))


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


def _say(quiet: bool):
    return None if quiet else (lambda message: click.echo(message, err=True))


@main.command("score", context_settings={"show_default": True})
@click.argument("real", metavar="A", type=click.Path(path_type=Path))
@click.argument("fake", metavar="B", type=click.Path(path_type=Path))
@click.option("--dataset", default="mnist5k", help="Dataset whose evaluator gives the features and whose train split the memorisation check uses; its images must be the size of A's and B's.")
@click.option("--features", default="evaluator", type=click.Choice(list(FEATURES)), help=FEATURES_HELP)
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to run the extractor.")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers and their protocol as JSON instead of a table.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def score_cmd(real: Path, fake: Path, dataset: str, features: str, device: str, as_json: bool, quiet: bool) -> None:
    """Score image set B against the reference set A (folders of PNG/JPEG, or .npz / .npy / .pt arrays) with every quality metric."""
    import json

    from compare.data import load_dataset
    from compare.evaluate import check_same_shape, score_report, score_sets
    from compare.evaluator import load_extractor
    from compare.imagesets import load_image_set
    from compare.runner import resolve_device

    a, b = load_image_set(real), load_image_set(fake)
    check_same_shape(a, b)
    data = load_dataset(check_dataset_name(dataset))
    extractor = load_extractor(features, data, resolve_device(device), _say(quiet), images={"A's images": a, "B's images": b})
    result = score_sets(a, b, data, extractor)
    click.echo(json.dumps({"A": str(real), "B": str(fake), **result}, indent=2) if as_json else score_report(result))


@main.command("evaluate", context_settings={"show_default": True})
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--eval-samples", type=int, default=None, help="Samples per model view. [default: the run's own setting]")
@click.option("--features", default=None, type=click.Choice(list(FEATURES)), help=FEATURES_HELP + " [default: the run's own setting]")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to sample and extract.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def evaluate_cmd(run_dir: Path, eval_samples: int | None, features: str | None, device: str, quiet: bool) -> None:
    """Re-evaluate a finished run from its saved weights: rewrites the quality numbers in metrics.json and metrics.md."""
    from compare.evaluate import evaluate_run, quality_report

    quality = evaluate_run(run_dir, eval_samples, features, device, _say(quiet))
    click.echo(f"wrote {run_dir}/metrics.json, metrics.md\n\n{quality_report(quality)}")
