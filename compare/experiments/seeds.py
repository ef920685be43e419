"""`compare run --seeds N`: the same run once per seed, every number summarised over seeds, and every
other model compared with the first by paired differences (compare.stats). Its table is
compare.report.tables.seed_table, which the CLI prints and the report shows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import click

from compare.errors import UserError
from compare.experiments.executors import ExecutorOptions, LocalExecutor
from compare.experiments.trials import run_trials, trials_failed
from compare.io import write_json
from compare.metrics import key_info
from compare.settings import RunSettings, check_seeds
from compare.stats import METHOD, numeric_leaves, paired_difference, summarize
from compare.rundir import claimed_directory, read_marker, trials_session, write_marker


def first_view_numbers(entry: dict) -> dict[str, dict[str, float | None]]:
    """{"quality": {...}, "continuity": {...}} of a model's first view (the VAE's per-pixel means) in a
    trial's summary (compare.results.RunResult.summary): the view a model is judged by."""
    return next(iter(entry["views"].values()))


def seeds_to_resume(path: Path) -> tuple[Path, int] | None:
    """For a `run --seeds` directory: (its first seed's run directory, whose settings every seed shares;
    the number of seeds); None for anything else."""
    seeds = read_marker(path).get("seeds") if read_marker(path).get("kind") == "seeds" else None
    if not seeds:
        return None
    return Path(path) / f"seed-{seeds[0]}", len(seeds)


def run_seeds(settings: RunSettings, n_seeds: int, show_progress: bool = True,
              executor: LocalExecutor | None = None) -> dict:
    """The run once per seed (settings.seed, +1, ...), each a trial of the shared trial loop
    (compare.experiments.trials: run directory out/seed-<s>/, record out/seed-<s>.json), summarised over seeds in
    out/seeds.json; one seed after another in this process, or as `executor` runs them (`--jobs`).

    An earlier --seeds directory at out is continued: done seeds are kept, stopped ones resumed from their
    checkpoints, failed ones retried. A signal stops every seed (Interrupted), each one resumable; a failed seed
    ends the command with its error once the other seeds are done."""
    if n_seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {n_seeds}")
    seeds = list(range(settings.seed, settings.seed + n_seeds))
    check_seeds(seeds)  # before the directory exists: the last seed must be one `compare run` takes
    out, _ = claimed_directory(Path(settings.out or dt.datetime.now().strftime("runs/seeds-%Y%m%d-%H%M%S")), "seeds",
                               resume=True)
    resume = f"compare run --resume {out}"
    with trials_session(out, "seed runs", resume, unit="seed run"):
        write_marker(out, "seeds", seeds=seeds)
        # by default one seed after another in this process, as `compare run` trains one model after another: same
        # torch threads, each seed's own bars
        executor = executor or LocalExecutor(ExecutorOptions())
        trials = [(f"seed-{seed}", dataclasses.replace(settings, seed=seed, out=out.resolve() / f"seed-{seed}"))
                  for seed in seeds]
        log = (lambda m: click.echo(m, err=True)) if show_progress else None
        records, _ = run_trials(trials, out, executor, log, run_progress=show_progress and executor.jobs == 1)
        if failed := trials_failed(((out, records[tid]) for tid, _ in trials), resume):
            raise failed
        summary = summarize_seeds({seed: records[f"seed-{seed}"]["summary"] for seed in seeds})
        summary["runs"] = {seed: str(out / f"seed-{seed}") for seed in seeds}
        write_json(out / "seeds.json", summary)
        from compare.report import write_report  # the report over every seed, with the intervals

        write_report([out])
    return {"out": str(out), **summary}


def seed_numbers(entry: dict) -> dict[str, float]:
    """Every number of one model in one seed's summary, its first view's as "quality.fid", "continuity.x"."""
    return numeric_leaves({**{k: v for k, v in entry.items() if k != "views"}, **first_view_numbers(entry)})


def _over_seeds(values: dict[str, dict[int, dict[str, float]]]) -> tuple[dict, dict]:
    """({label: {key: summary over seeds}}, {"<other> - <first>": {key: paired difference}}) of {label:
    {seed: numbers}}."""
    labels = list(values)
    keys = {label: sorted({k for v in values[label].values() for k in v}) for label in labels}
    # each interval clipped to the range its value can take ("quality.fid" >= 0, a share in [0, 1]: the metric
    # registry's bounds)
    stats = {label: {k: summarize((v[k] for v in values[label].values() if k in v),
                                  key_info(k.rpartition(".")[2]).bounds)
                     for k in keys[label]}
             for label in labels}
    first = labels[0]
    differences = {
        f"{other} - {first}": {k: paired_difference({s: v[k] for s, v in values[first].items() if k in v},
                                                    {s: v[k] for s, v in values[other].items() if k in v})
                               for k in keys[other] if k in keys[first]}
        for other in labels[1:]
    }
    return stats, differences


def summarize_seeds(runs: dict[int, dict]) -> dict:
    """Every number of every model over seeds ({seed: RunResult.summary()}), and each later model minus
    the first, paired by seed; then the same for every view (a VAE's several outputs: its per-pixel means, its
    pixel draws, ...), each minus the first view."""
    labels = list(next(iter(runs.values())))
    models, differences = _over_seeds({label: {seed: seed_numbers(r[label]) for seed, r in runs.items()}
                                       for label in labels})
    view_values: dict[str, dict[int, dict[str, float]]] = {}
    for seed, r in runs.items():
        for label in labels:
            for view, numbers in r[label]["views"].items():
                view_values.setdefault(view, {})[seed] = numeric_leaves(numbers)
    views, view_differences = _over_seeds(view_values)
    return {"kind": "seeds", "seeds": sorted(runs), "interval": METHOD, "models": models, "differences": differences,
            "views": views, "view_differences": view_differences}
