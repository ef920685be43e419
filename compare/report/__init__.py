"""The report: one self-contained HTML page and a Markdown twin, from run, sweep and `run --seeds` directories.

    __init__.py      write_report, the page over run, sweep and --seeds directories;  study_report.py: a study's page
    runs.py          reading the directories;  write.py: the write stage (a run's JSON, pictures and report)
    render.py        blocks (Heading, Para, Table, Image) and their HTML, Markdown and terminal renderings
    tables.py        every table of numbers, from the metric registry: the report and the terminal show the same ones
    sections/        the page's sections: the verdict card that opens every report, the claims', the seeds' and the
                     sweep's (evidence.py), a run's (run.py)
    figures/         the pictures a run or study draws: common.py (what every figure shares), run.py, artifacts.py,
                     claims.py
    the terminal's:  text.py (the tables as metrics.md and --verbose print them), summary.py (what each command
                     prints last, in words), score.py (`compare score`'s number, table and flat keys)
The verdicts themselves are compare.claims' (numbers: compare.metrics.numbers).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from compare.claims.trial_row import trial_rows
from compare.errors import UserError
from compare.io import write_bytes
from compare.report.sections.evidence import section_claims, section_seeds, section_sweep
from compare.metrics.numbers import fmt
from compare.report.render import (Block, Contents, Fold, Heading, Image, Para, Table, embeddable, render_html,
                                   render_markdown)
from compare.report.runs import Run, Seeds, Sweep, load_run, load_seeds, load_sweep
from compare.report.sections.run import SECTIONS
from compare.rundir import RunLock, marker_kind

__all__ = ["Block", "Heading", "Image", "Para", "Run", "Seeds", "Sweep", "Table", "embeddable", "fmt", "load_run",
           "load_seeds", "load_sweep", "render_html", "render_markdown", "write_report"]


def finished_trials(sweep_dir: Path, summary: dict) -> list[Path]:
    """The run directories of a sweep's finished trials that hold their metrics.json."""
    runs = [Path(sweep_dir) / row.run_dir for row in trial_rows(summary) if row.status == "done"]
    return [run for run in runs if (run / "metrics.json").is_file()]


def _folded(heading: str, what: str, blocks: list[Block]) -> list[Block]:
    """The runs' own sections under one heading, folded: a sweep's or --seeds' answer is above, these are
    its workings."""
    inner = [Heading(b.text, 3) if isinstance(b, Heading) else b for b in blocks]
    return [Heading(heading), Fold(what, inner)] if inner else []


def _body(runs: list[Run], sweeps: list[Sweep], seeds: list[Seeds]) -> list[Block]:
    """Every section after the verdicts: a run's in full; a sweep's or --seeds' answer first, its runs'
    tables folded."""
    sections = [block for section in SECTIONS for block in section(runs)]
    if not (sweeps or seeds):
        return sections
    answer = [*section_seeds(seeds), *section_sweep(sweeps)]
    name = "trial" if sweeps else "seed run"
    return [*answer,
            *_folded("Each run", f"The {len(runs)} {name}s' tables: setup, quality, bad pixels, size, training",
                     sections)]


def write_report(run_dirs: list[Path], out: Path | None = None) -> tuple[Path, Path]:
    """report.html and report.md for the runs; by default inside the (first) run directory."""
    if not run_dirs:
        raise UserError("give at least one run directory")
    sweeps, seeds, run_paths = [], [], []
    for p in map(Path, run_dirs):  # a sweep directory, a --seeds directory (its seed runs join the runs), or a run
        if (p / "sweep.json").exists():
            sweeps.append(load_sweep(p))
        elif (p / "seeds.json").exists():
            entry, seed_runs = load_seeds(p)
            seeds.append(entry)
            run_paths += seed_runs
        else:
            run_paths.append(p)
    home = seeds[0].path if seeds else None
    if not run_paths and sweeps:  # a sweep alone: its finished trials are the runs, the report goes into the sweep
        run_paths = [run for s in sweeps for run in finished_trials(s.path, s.summary)]
        home = sweeps[0].path
    runs = [load_run(p) for p in run_paths]
    if not runs:
        raise UserError("give at least one run directory (made by `compare run`), or a sweep with a finished trial")
    html_path = Path(out) if out else (home or runs[0].path) / "report.html"
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--out {html_path} must end in .html (report.md is written beside it)")
    blocks = [*section_claims(runs, sweeps, seeds), Contents(), *_body(runs, sweeps, seeds)]
    title = ("GAN vs VAE capacity sweep: " + ", ".join(s.path.name for s in sweeps) if sweeps
             else f"GAN vs VAE over seeds: {', '.join(entry.path.name for entry in seeds)}" if seeds
             else "GAN vs VAE: " + ", ".join(run.name for run in runs))
    md_path = html_path.with_suffix(".md")
    # Into a run, sweep or --seeds directory only under its lock, as every writer there.
    with RunLock(html_path.parent) if marker_kind(html_path.parent) else contextlib.nullcontext():
        write_bytes(html_path, render_html(title, blocks).encode())
        write_bytes(md_path, render_markdown(title, blocks, md_path.parent).encode())
    return html_path, md_path
