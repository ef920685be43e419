"""`compare calibrate` as a Python function: every known-answer control, one table, calibration.json and a report.

    calibrate(CalibrationSettings(quick=True, out=Path("cal")))  -> the summary calibration.json holds

The controls come from three places, each returning compare.calibrate.ControlResult: the claim controls on
trained GANs (compare.calibrate.controls), the rules' simulated controls (compare.calibrate.simulated) and
the intervals' coverage over redraws (compare.calibrate.coverage). This module only runs them, times them and
writes what they said; it decides nothing itself.

On disk (`out/`):
    calibration.json        settings, versions, wall time, every ControlResult (to_json), passed
    calibration.md / .html  the table with a paragraph on what the controls are (self-contained HTML)
    trials/<id>/, <id>.json the trained controls' run directories and trial records (compare.experiments.trials)
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from compare.calibrate import ControlResult
from compare.calibrate.controls import FULL, QUICK, trained_controls
from compare.calibrate.coverage import interval_coverage
from compare.calibrate.simulated import rule_controls
from compare.data import check_dataset_name, load_dataset
from compare.errors import UserError
from compare.io import is_temp_name, write_bytes, write_json
from compare.experiments.pipeline import versions
from compare.report.render import Block, Heading, Para, Table, render_html, render_markdown, text_table
from compare.rundir import LOCK_NAME, MARKER_NAME, Interrupted, RunLock, claimed_directory, marker_kind, write_errors

KIND = "calibration"  # the directory marker's kind (compare.rundir)
VERSION = 1
HEADERS = ["control", "expected", "got", "counts", "result"]
OWNED = {"calibration.json", "calibration.md", "calibration.html", "trials"}  # what --overwrite may delete
ABOUT = ("Each control plants an answer known in advance and records what the toolkit said. Claims 1 and 3: GANs "
         "trained through the study's trial settings and trial loop, put into the claims' inputs in known roles "
         "(a tenfold slower learning rate must be found slower, planted lone pixels must be found, two sets of seeds "
         "of one GAN must not be told apart). Claim 2 and the rules: simulated sweeps and studies with a known "
         "answer. Coverage: how often each interval covers its stated target over redraws.")


@dataclass(frozen=True)
class CalibrationSettings:
    quick: bool = False
    dataset: str | None = None  # default: digits with quick, else mnist5k
    seed: int = 0
    out: Path | None = None  # default runs/calibration-<timestamp>
    overwrite: bool = False
    jobs: int = 1  # processes for the trained controls and the coverage redraws; the numbers do not depend on it

    @property
    def dataset_name(self) -> str:
        return self.dataset or ("digits" if self.quick else "mnist5k")

    def describe(self) -> dict:
        plan = QUICK if self.quick else FULL
        return {"quick": self.quick, "dataset": self.dataset_name, "seed": self.seed, "threads": 1, "device": "cpu",
                "trained": {"steps": plan.steps, "lr": plan.lr, "seeds": plan.seeds, "width": plan.width,
                            "batch_size": plan.batch_size, "salt_per_image": plan.salt}}


def claim_out(out: Path, overwrite: bool) -> Path:
    """`out` new or empty, or (with overwrite) an earlier calibration emptied; anything else is refused untouched."""
    out = Path(out)
    if out.is_dir() and marker_kind(out) == KIND and (entries := [p for p in out.iterdir()
                                                                  if p.name not in (LOCK_NAME, MARKER_NAME)]):
        if not overwrite:
            raise UserError(f"{out} holds an earlier calibration; pass --overwrite to replace it, or another --out")
        if foreign := sorted(p.name for p in entries if p.name not in OWNED and not is_temp_name(p.name)):
            raise UserError(f"refusing to --overwrite {out}: {foreign[0]} was not written by `compare "
                            f"calibrate` ({len(foreign)} such entries); nothing was deleted: move them "
                            "away, or pass another --out")
        for p in entries:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    return claimed_directory(out, KIND)[0]


def table(results: list[ControlResult]) -> Table:
    return Table(HEADERS, [[r.control, r.expected, r.got, r.counts, "pass" if r.passed else "FAIL"] for r in results])


def last_line(results: list[ControlResult]) -> str:
    failed = [r for r in results if not r.passed]
    if not results:
        return "no controls ran"
    if not failed:
        return f"all {len(results)} controls passed"
    return f"{len(failed)} of {len(results)} controls FAILED: " + "; ".join(r.control.partition(":")[0] for r in failed)


def passed(results: list[ControlResult]) -> bool:
    return bool(results) and all(r.passed for r in results)


def report_blocks(summary: dict, results: list[ControlResult]) -> list[Block]:
    """The calibration section: what was run, the table, the verdict line (also a section another report can append)."""
    s = summary["settings"]
    setup = (f"{'--quick' if s['quick'] else 'full'} calibration on {s['dataset']}, seed {s['seed']}, one CPU thread, "
             f"{summary['wall_seconds']:.0f} s wall. Trained controls: GAN {s['trained']['steps']} steps, Adam lr "
             f"{s['trained']['lr']:g} (and {s['trained']['lr'] / 10:g}), {s['trained']['seeds']} seeds per role.")
    return [Heading("Calibration: known-answer controls"), Para(ABOUT), Para(setup), table(results),
            Para(last_line(results))]


def calibrate(settings: CalibrationSettings, log: Callable[[str], None] = lambda m: None) -> dict:
    """Run every control and write calibration.json, calibration.md and calibration.html; returns the summary
    (with "results": the ControlResults). Bad input is a UserError before anything is written."""
    check_dataset_name(settings.dataset_name)
    data = load_dataset(settings.dataset_name, "cpu")
    plan = QUICK if settings.quick else FULL
    out = Path(settings.out) if settings.out else Path("runs") / dt.datetime.now().strftime("calibration-%Y%m%d-%H%M%S")
    started, threads = time.perf_counter(), torch.get_num_threads()
    out = claim_out(out, settings.overwrite)
    with write_errors(out), RunLock(out):
        torch.set_num_threads(1)  # one thread: the stated timing, and numbers that do not depend on the core count
        try:
            seconds, results = {}, []
            for name, run in (("trained",
                               lambda: trained_controls(plan, data, settings.seed, out / "trials", log, settings.jobs)),
                              ("simulated", lambda: rule_controls(settings.quick, settings.seed)),
                              ("coverage", lambda: interval_coverage(settings.quick, settings.seed, settings.jobs))):
                log(f"calibrate: {name} controls")
                t = time.perf_counter()
                results += run()
                seconds[name] = round(time.perf_counter() - t, 3)
        # a trial stopped at its checkpoint; a calibration has no resume of its own: it starts again
        except Interrupted as e:
            flags = ((" --quick" if settings.quick else "")
                     + (f" --dataset {settings.dataset}" if settings.dataset else ""))
            again = f"compare calibrate{flags} --seed {settings.seed} --out {out} --overwrite (starts again)"
            raise Interrupted(e.signum, out, f"during the {name} controls, before any verdict", again) from None
        finally:
            torch.set_num_threads(threads)
        summary = {"kind": KIND, "version": VERSION, "settings": settings.describe(), "versions": versions(),
                   "created": dt.datetime.now().isoformat(timespec="seconds"),
                   "wall_seconds": round(time.perf_counter() - started, 3), "seconds": seconds,
                   "passed": passed(results), "summary": last_line(results), "controls": [r.to_json() for r in results]}
        write_json(out / "calibration.json", summary)
        blocks = report_blocks(summary, results)
        write_bytes(out / "calibration.md", render_markdown("Calibration", blocks, out).encode())
        write_bytes(out / "calibration.html", render_html("Calibration", blocks).encode())
    return {**summary, "out": str(out), "results": results, "table": text_table(table(results))}
