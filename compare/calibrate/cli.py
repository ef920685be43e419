"""The `compare calibrate` command (registered on the `compare` group by compare.cli): flags in, table out."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from compare.settings import MAX_SEED


@click.command("calibrate", context_settings={"show_default": True})
@click.option("--dataset", default=None,
              help="Dataset the trained controls train on. [default: mnist5k; digits with --quick]")
@click.option("--quick", is_flag=True,
              help="Tiny budgets on 8x8 digits (under a minute): the version the test suite runs.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Directory for calibration.json/.md/.html and the trained controls (new or empty; see --overwrite). "
                   "[default: runs/calibration-<timestamp>]")
@click.option("--overwrite", is_flag=True,
              help="Replace the calibration already in --out (a directory that is not one is never touched).")
@click.option("--seed", default=0, type=click.IntRange(0, MAX_SEED),
              help="First seed of the trained controls and the simulations.")
@click.option("--jobs", default=1, type=click.IntRange(1, 64),
              help="Processes for the trained controls and the coverage redraws (one torch thread each); the "
                   "numbers do not depend on it.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def calibrate(dataset: str | None, quick: bool, out: Path | None, overwrite: bool, seed: int, jobs: int,
              quiet: bool) -> None:
    """Run the toolkit's known-answer controls (claims 1-3 and interval coverage) and print control /
    expected / got / counts.

    Exit codes: 0 every control passed; 1 some control failed (the line above the report's path says
    which); 2 bad input."""
    from compare.calibrate.run import CalibrationSettings, calibrate as run_calibration

    result = run_calibration(CalibrationSettings(quick=quick, dataset=dataset, seed=seed, out=out, overwrite=overwrite,
                                                 jobs=jobs),
                             log=(lambda m: None) if quiet else (lambda m: click.echo(m, err=True)))
    from compare.metrics.numbers import fmt

    click.echo(result["table"])
    click.echo(f"{result['summary']} ({fmt(result['wall_seconds'])} s)")
    click.echo("Every control in calibration.json and calibration.md. The "
               f"report:\n{Path(result['out']) / 'calibration.html'}")
    if not result["passed"]:
        sys.exit(1)
