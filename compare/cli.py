"""The `compare` command: a thin click layer over compare.runner and the registries."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import click

from compare.budget import Budget
from compare.data import DATASETS, DataOptions, check_data_options, check_dataset_name, dataset_usage
from compare.errors import UserError
from compare.models import ARCHITECTURES, MODELS, PRECISIONS, parse_model_specs, with_fields

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
@click.option("--arch", default="mlp", type=click.Choice(ARCHITECTURES),
              help="Networks of every model: mlp (the source's fully connected nets) or conv (DCGAN-style convolutional nets; image sides like 8, 28, 32, 64).")
@click.option("--precision", default="fp32", type=click.Choice(PRECISIONS),
              help="Autocast precision of the training forward passes; bf16 and fp16 (with a grad scaler) are for GPUs.")
@click.option("--data-root", type=click.Path(path_type=Path), default=None,
              help="Directory holding the torchvision datasets (mnist, fashion-mnist, cifar10, celeba). [default: <cache dir>/data]")
@click.option("--download", is_flag=True, help="Download a missing torchvision dataset into --data-root; nothing is downloaded without it.")
@click.option("--image-size", type=int, default=None, help="Side in pixels that celeba and folder:PATH images are resized and centre-cropped to. [default: 64]")
@click.option("--channels", type=int, default=None, help="1 (grey) or 3 (RGB) for celeba and folder:PATH images. [default: 3]")
def run_cmd(models: str, more_models: tuple[str, ...], dataset: str, budget: str, seed: int, device: str,
            out: Path | None, batch_size: int, quiet: bool, arch: str, precision: str, data_root: Path | None,
            download: bool, image_size: int | None, channels: int | None) -> None:
    """Train each model under the same budget and write samples, grids and metrics to a run directory."""
    from compare.runner import RunSettings, run  # deferred: keeps `compare --help` and listings fast

    data_options = DataOptions(root=data_root, download=download, image_size=image_size, channels=channels)
    check_data_options(dataset, data_options)
    settings = RunSettings(
        models=tuple(with_fields(parse_model_specs([models, *more_models]), arch=arch, precision=precision)),
        budget=Budget.parse(budget),
        dataset=check_dataset_name(dataset),
        seed=seed,
        device=device,
        batch_size=batch_size,
        out=out,
        data_options=data_options,
    )
    with warnings.catch_warnings():  # data warnings (skipped unreadable images) as one plain line each
        warnings.showwarning = lambda message, *_, **__: click.echo(f"Warning: {message}", err=True)
        result = run(settings, show_progress=not quiet)
    click.echo(f"wrote {result['out']}/: side_by_side.png, samples_*.png, metrics.json, config.json")
    for label, m in result["models"].items():
        params = m["parameters"]["total"]
        click.echo(f"  {label:<14} {m['steps']} steps in {m['train_seconds']:.1f}s  ({params:,} parameters)")


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
        click.echo(f"{dataset_usage(name):<14} {entry.description}")
