"""`compare sample` and `compare export`: a finished run's models as image files and as weight files,
over compare.api."""

from __future__ import annotations

from pathlib import Path

import click

from compare.settings import MAX_SEED

# compare.train.export.FORMATS (a test keeps them equal): `compare --help` loads no metrics
FORMATS = ("safetensors", "torchscript")


@click.command("sample", context_settings={"show_default": True})
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--model", "model", required=True,
              help="A model of the run (gan, vae: its first view) or one of its views (vae-pixels).")
@click.option("-n", "n", required=True, type=click.IntRange(min=1), help="Number of samples.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="FILE.npz (one uint8 array 'images', (N, H, W, C)) or a folder of PNGs: what `compare score` and "
                   "`--dataset folder:` read.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=None,
              help="Noise seed. [default: the run's own: the first samples are those its evaluation scored]")
@click.option("--device", default="cpu", type=click.Choice(["cpu", "cuda"]), help="Where to sample.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it holds an earlier output of this command.")
def sample_cmd(run_dir: Path, model: str, n: int, out: Path, seed: int | None, device: str, overwrite: bool) -> None:
    """Write N samples of a trained model of RUN_DIR as 8-bit images."""
    from compare.api import draw_samples
    from compare.settings import resolve_device

    images = draw_samples(run_dir, model, n, seed=seed, out=out, overwrite=overwrite,
                          device=str(resolve_device(device)))
    click.echo(f"wrote {out}: {len(images)} samples of {model}, {'x'.join(map(str, images.shape[1:]))} (CxHxW), uint8")


@click.command("export", context_settings={"show_default": True})
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="safetensors", type=click.Choice(FORMATS),
              help="safetensors: every network's weights (no code inside); torchscript: the traced "
                   "generate(z) -> images in [0, 1].")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder to write. [default: RUN_DIR/export-<format>]")
@click.option("--overwrite", is_flag=True, help="Replace --out if it holds an earlier export of this run.")
def export_cmd(run_dir: Path, fmt: str, out: Path | None, overwrite: bool) -> None:
    """Export every trained model of RUN_DIR, each with a JSON model card (config, budget, metrics with
    intervals, evaluator)."""
    from compare.api import export

    files = export(run_dir, fmt, out, overwrite)
    click.echo(f"wrote {files[0].parent}/: {', '.join(f.name for f in files)}")
