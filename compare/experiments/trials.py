"""The trial loop every multi-run command shares (sweep, study, tuning): each trial one run directory
with its record beside it, done trials kept, stopped ones resumed, failed ones set aside and retried."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

from compare.errors import UserError
from compare.io import read_json, write_json
from compare.settings import RunSettings
from compare.experiments.executors import Trial
from compare.watch.terminal import TrialsBar


def load_record(path: Path) -> dict | None:
    try:
        return read_json(path, "trial", "")
    except (OSError, UserError):
        return None  # absent, damaged or torn: the trial runs (again)


def set_aside(run_dir: Path) -> None:
    """A failed or interrupted trial's partial run directory is kept, renamed, never deleted."""
    if run_dir.exists():
        attempt = 1
        while run_dir.with_name(f"{run_dir.name}.failed-{attempt}").exists():
            attempt += 1
        run_dir.rename(run_dir.with_name(f"{run_dir.name}.failed-{attempt}"))


def run_trials(trials: list[tuple[str, RunSettings]], folder: Path, executor, log: Callable[[str], None],
               on_record: Callable[[dict[str, dict]], None] | None = None) -> tuple[dict[str, dict], int]:
    """Run the trials not already done (`folder/<id>/` with its record `folder/<id>.json`): a done trial (by its
    record) is kept; one with no record but a run directory was stopped by a signal and continues from its
    checkpoints; a failed one is set aside and runs afresh. Each record is written as soon as its trial ends,
    then `on_record(records so far)`. Returns (records by id, how many ran)."""
    records, todo = {}, []
    for tid, run in trials:
        record = load_record(folder / f"{tid}.json")
        if record and record.get("status") == "done" and run.models[0].label in record.get("summary", {}):
            records[tid] = record
            continue
        stopped = record is None and (folder / tid / "config.json").is_file()
        if not stopped:
            set_aside(folder / tid)
        todo.append(Trial(tid, run, resume=stopped))
    log(f"{folder}: {len(trials)} trials, {len(records)} already done, {len(todo)} to run ({executor.description})")
    progress = TrialsBar(len(todo), log)  # the overall bar and ETA; each trial's line with its headline numbers
    try:
        for record in executor.map(todo):
            record["finished"] = dt.datetime.now().isoformat(timespec="seconds")
            write_json(folder / f"{record['id']}.json", record)
            records[record["id"]] = record
            progress.finished(record)
            if on_record:
                on_record(records)
    finally:
        progress.close()
    return records, len(todo)
