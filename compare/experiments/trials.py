"""The trial loop every multi-run command shares (sweep, study, tuning): each trial one run directory
with its record beside it, done trials kept, stopped ones resumed, failed ones set aside and retried."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable, Iterable, Mapping

import click

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


def only_user_error(records: Iterable[dict]) -> str | None:
    """The message of the one bad input every trial failed with (none done), which is then the command's own error,
    as a single run would have said it; else None."""
    records = list(records)
    errors = {r.get("error") for r in records}
    if records and len(errors) == 1 and all(r["status"] == "failed" and r.get("user_error") for r in records):
        return records[0]["error"].removeprefix("UserError: ")
    return None


def trials_failed(rows: Iterable[tuple[Path, Mapping]], retry: str) -> Exception | None:
    """The one line a sweep, a study or `run --seeds` ends with when trials failed (None when none did), from its
    (folder of the trial's record, trial row or record) pairs: the one bad input every trial failed with, as a single
    run says it; else how many failed, the first one's error, where its record (with the traceback) is, and the
    command that retries them (the done trials are kept)."""
    rows = list(rows)
    failed = [(folder, row) for folder, row in rows if row["status"] == "failed"]
    if not failed:
        return None
    if message := only_user_error(row for _, row in rows):
        return UserError(message)
    folder, first = failed[0]
    return click.ClickException(f"{len(failed)} of {len(rows)} trials failed ({'first: ' if len(failed) > 1 else ''}"
                                f"{first['id']}: {first['error']}; its record, with the traceback: "
                                f"{folder / first['id']}.json); the others are done: retry with: {retry}")


def run_trials(trials: list[tuple[str, RunSettings]], folder: Path, executor, log: Callable[[str], None] | None,
               on_record: Callable[[dict[str, dict]], None] | None = None,
               run_progress: bool = False) -> tuple[dict[str, dict], int]:
    """Run the trials not already done (`folder/<id>/` with its record `folder/<id>.json`): a done trial (by its
    record) is kept; one with no record but a run directory was stopped by a signal (or killed) and continues from
    its checkpoints; a failed one is set aside and runs afresh. Each record is written as soon as its trial ends,
    then `on_record(records so far)`. `log` (None: silent) gets the trials' lines; with `run_progress` each trial
    also shows its own run's bars (where it runs in this process: compare.experiments.executors.Trial). Returns
    (records by id, how many ran)."""
    records, todo = {}, []
    for tid, run in trials:
        record = load_record(folder / f"{tid}.json")
        if record and record.get("status") == "done" and run.models[0].label in record.get("summary", {}):
            records[tid] = record
            continue
        stopped = record is None and (folder / tid / "config.json").is_file()
        if not stopped:
            set_aside(folder / tid)
        todo.append(Trial(tid, run, resume=stopped, show_progress=run_progress))
    say = log or (lambda _: None)
    say(f"{folder}: {len(trials)} trials, {len(records)} already done, {len(todo)} to run ({executor.description})")
    # the overall bar and ETA, each trial's line with its headline numbers; the bar only where someone watches and
    # no trial's own bars take the bottom line (then each line ends with the ETA)
    progress = TrialsBar(len(todo), say, tty=None if log and not run_progress else False)
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
