"""Watching a run: the terminal display (bars on a TTY fitted to its width, plain lines elsewhere), the trial
lines of sweeps and studies, progress/ and the TensorBoard logs written at every curve point."""

import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import fcntl
from pathlib import Path
from types import SimpleNamespace

import pytest

import compare.watch.files as watch_files
from compare.rundir import foreign_files
from compare.watch.terminal import Display, TrialsBar, time_left
from helpers import ROOT, SETTINGS, one_line_error, run_cli

LOUD = [a for a in SETTINGS if a != "--quiet"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def screen_lines(text: str) -> list[str]:
    """What a terminal shows line by line: every redraw (after a carriage return) on its own, escapes removed."""
    return [ANSI.sub("", part) for line in text.split("\n") for part in line.split("\r")]


class Terminal:
    """A pseudo-terminal `columns` wide to write a display to (tqdm asks the file's own terminal for its width)."""

    def __init__(self, columns: int = 80):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        self.file = os.fdopen(slave, "w")

    def lines(self) -> list[str]:
        self.file.flush()
        chunks = []
        while select.select([self.master], [], [], 0.2)[0]:
            chunks.append(os.read(self.master, 65536))
        self.file.close()
        os.close(self.master)
        return [line for line in screen_lines(b"".join(chunks).decode()) if line.strip()]


def record(steps: int, seconds: float = 1.0, **losses: float) -> SimpleNamespace:
    return SimpleNamespace(steps=steps, seconds=seconds, losses=losses or {"d_loss": 0.6931, "g_loss": 1.386})


@pytest.mark.slow
def test_a_run_on_an_80_column_terminal_redraws_one_fitted_bar(tmp_path):
    """A real pseudo-terminal 80 columns wide: no drawn line is wider, and the bar shows step/total, elapsed,
    ETA, losses."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "compare", "run", "--models", "gan", "vae", *LOUD, "--out", str(tmp_path / "run")]
    # the display is stderr's
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdin=slave, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=300) == 0
    lines = screen_lines(b"".join(chunks).decode(errors="replace"))
    drawn = [line for line in lines if "|" in line]
    assert drawn and max(len(line.rstrip()) for line in lines) <= 80, max(lines, key=len)
    assert any(re.search(r"^gan: 120/120 steps \|█+\| \d\d:\d\d elapsed, ETA 00:00, d_loss [0-9.]+ g_loss", line)
               for line in drawn), drawn
    assert any(line.startswith("vae: ") and "loss" in line and "/120 steps" in line for line in drawn)
    assert any(line.startswith("gan at step 15/120: FID ") for line in lines)
    assert any(line.startswith("vae-pixels at step 105/120: FID ") for line in lines)


@pytest.mark.slow  # a real run in a subprocess
def test_without_a_tty_a_run_prints_plain_periodic_lines_and_writes_progress(tmp_path, monkeypatch, quick_figures):
    """CliRunner's stderr is no terminal: plain lines, no carriage returns; progress/ and TensorBoard (a stand-in
    SummaryWriter, as tensorboard is not installed here) get every curve point, the final evaluation included."""
    logged = []

    class FakeWriter:
        def __init__(self, log_dir, purge_step=None):
            logged.append(("open", Path(log_dir).name, purge_step))
            Path(log_dir).mkdir(parents=True)
            (Path(log_dir) / "events.out.tfevents.1.host").write_bytes(b"")

        def add_scalar(self, tag, value, step):
            logged.append(("scalar", tag, step))

        def add_image(self, tag, image, step, dataformats):
            logged.append(("image", tag, step, image.shape, dataformats))

        def flush(self):
            pass

        def close(self):
            logged.append(("close",))

    monkeypatch.setattr(watch_files, "summary_writer_class", lambda: FakeWriter)
    out = tmp_path / "run"
    result = run_cli("run", "--models", "gan", "vae", *LOUD, "--log", "tensorboard", "--out", out)
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr
    plain = [line for line in result.stderr.splitlines()
             if re.match(r"^(gan|vae): \d+/120 steps \(\d+%\), \d\d:\d\d elapsed, ETA", line)]
    assert [line.split()[1] for line in plain if line.startswith("gan")] == ["50/120", "100/120", "120/120"]
    assert ("final evaluation: gan, vae-mean, vae-pixels, vae-gmm against 180 real images" in result.stderr
            and "writing the figures and the report" in result.stderr)

    metrics = json.loads((out / "metrics.json").read_text())
    lines = [json.loads(line) for line in (out / "progress" / "curve.jsonl").read_text().splitlines()]
    for label in ("gan", "vae"):
        curve = metrics["models"][label]["curve"]
        mine = [line for line in lines if line["model"] == label]
        assert [p["steps"] for p in mine] == [p["steps"] for p in curve] == [15, 30, 45, 60, 75, 90, 105, 120]
        assert [p["views"] for p in mine] == [p["views"] for p in curve]  # the same scalars as metrics.json's curve
    grids = sorted(p.name for p in (out / "progress").glob("*.png"))
    # + vae-gmm at the end: its prior is fitted then
    assert len(grids) == 8 * 3 + 1 and "samples_vae-pixels_step000105.png" in grids
    assert (out / "progress" / "samples_gan_step000120.png").read_bytes() == (out / "samples_gan.png").read_bytes()

    assert ("open", "gan", 15) in logged and ("open", "vae", 15) in logged and logged[-1] == ("close",)
    assert {e[2] for e in logged if e[:2] == ("scalar", "vae-pixels/fid")} == {15, 30, 45, 60, 75, 90, 105, 120}
    assert ("image", "gan/samples", 120, (82, 82, 3), "HWC") in logged  # 8 x 8 digits of 8 px, 2 px apart
    assert foreign_files(out) == []  # --overwrite may replace this run: progress/ and tensorboard/ are compare's


def test_log_tensorboard_without_tensorboard_is_one_line_and_makes_nothing(tmp_path):
    # tensorboard is not installed here; where it is, the refusal cannot happen
    try:
        import tensorboard  # noqa: F401
        pytest.skip("tensorboard is installed")
    except ImportError:
        pass
    out = tmp_path / "run"
    assert "pip install tensorboard" in one_line_error(run_cli("run", *SETTINGS, "--log", "tensorboard", "--out", out))
    assert not out.exists(), sorted(out.rglob("*"))
    assert "for a single run" in one_line_error(run_cli("run", *SETTINGS, "--seeds", "2", "--log", "tensorboard",
                                                        "--out", out))


def test_stray_files_in_progress_or_tensorboard_are_not_compares(tmp_path):
    (tmp_path / "progress").mkdir()
    (tmp_path / "progress" / "curve.jsonl").write_text("")
    (tmp_path / "progress" / "notes.txt").write_text("mine")
    (tmp_path / "tensorboard" / "gan").mkdir(parents=True)
    (tmp_path / "tensorboard" / "gan" / "events.out.tfevents.1.h").write_bytes(b"")
    (tmp_path / "tensorboard" / "gan" / "mine.csv").write_text("")
    assert [p.name for p in foreign_files(tmp_path)] == ["notes.txt", "mine.csv"]


def test_a_bar_never_grows_past_the_terminal_width():
    """tqdm reads the width again at every redraw (dynamic_ncols): a long label and many losses are cut, not wrapped."""
    terminal = Terminal(80)
    display = Display(terminal.file)
    with display.training("gan:minimax-long-label", 4000, None) as bar:
        for step in (50, 100, 2000):
            bar.update(record(step, loss=25.85, recon=24.22, kl=1.639, extra=3.0))
        display.curve_point(2000, 4000, {"gan": {"fid": 45.25, "lone_pixels_per_image": 0.03}})
    lines = terminal.lines()
    assert max(len(line) for line in lines) <= 80, lines
    assert any(line.startswith("gan:minimax-long-label: 2000/4000 steps |") and "elapsed, ETA" in line
               for line in lines)
    assert "gan at step 2,000/4,000: FID 45.2, lone pixels per image 0.0300" in lines  # one number style (numbers.fmt)


def test_plain_lines_come_every_tenth_of_the_budget_and_at_its_end():
    file = io.StringIO()
    display = Display(file, tty=False)
    with display.training("vae", 1000, None, done_steps=400) as bar:  # a resume at step 400
        for step in range(450, 1001, 50):
            bar.update(record(step, loss=1.0))
    lines = file.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["500/1000", "600/1000", "700/1000", "800/1000", "900/1000",
                                                   "1000/1000"]
    assert lines[-1].startswith("vae: 1000/1000 steps (100%), ") and lines[-1].endswith("ETA 00:00, loss 1.00")


def test_a_seconds_budget_counts_seconds_and_shows_the_step():
    file = io.StringIO()
    with Display(file, tty=False).training("gan", None, 20.0) as bar:
        bar.update(record(700, seconds=20.4))
    assert file.getvalue().startswith("gan: 20/20 s (100%), ") and "step 700, d_loss 0.693" in file.getvalue()


def trial(tid: str, fid: float, lone: float) -> dict:
    view = {"quality": {"fid": fid},
            "continuity": {"lone_pixels_per_image": lone, "lone_pixels_per_image_ci95": [lone / 2, lone * 2]}}
    return {"id": tid, "status": "done", "seconds": 12.34, "summary": {"gan": {"views": {"gan": view}}}}


def test_time_left_is_said_in_words_not_as_a_clock():
    assert [time_left(s) for s in (29, 31, 902, 3569, 4900)] == [
        "under a minute left", "about 1 min left", "about 15 min left", "about 59 min left", "about 1 h 22 min left"]


def test_each_finished_trial_says_its_numbers_and_the_time_left():
    lines = []
    bar = TrialsBar(3, lines.append, file=io.StringIO(), tty=False)
    bar.finished(trial("gan-w1-s0", 45.25, 0.03))
    bar.finished({"id": "vae-w1-s0", "status": "failed", "error": "ValueError: boom"})
    bar.finished(trial("gan-w2-s0", 40.0, 0.0))
    assert re.fullmatch(r"  \[1/3\] gan-w1-s0 done in 12\.3s: FID 45\.2, lone pixels 0\.030 \[0\.015, 0\.060\] per "
                        r"image; (under a minute|about \d+ min) left", lines[0]), lines[0]
    assert lines[1].startswith("  [2/3] vae-w1-s0 FAILED: ValueError: boom; ") and lines[1].endswith(" left")
    assert lines[2] == "  [3/3] gan-w2-s0 done in 12.3s: FID 40.0, lone pixels 0 [0, 0] per image"


def test_on_a_terminal_the_trials_have_an_overall_bar_below_their_lines():
    terminal = Terminal(80)
    bar = TrialsBar(2, lambda text: print(text, file=terminal.file), file=terminal.file)
    bar.finished(trial("gan-w1-s0", 45.25, 0.03))
    bar.close()
    drawn = terminal.lines()
    # the ETA is the bar's
    assert "  [1/2] gan-w1-s0 done in 12.3s: FID 45.2, lone pixels 0.030 [0.015, 0.060] per image" in drawn
    bars = [line for line in drawn if line.startswith("trials: ")]
    assert bars[-1].startswith("trials: 1/2 done |") and "elapsed, ETA" in bars[-1] and max(map(len, bars)) <= 80, drawn


def test_a_resumed_models_first_point_replaces_what_an_earlier_process_wrote_from_its_step_on(tmp_path):
    """After a kill -9 the points past the last checkpoint are computed again: none may be listed twice, and a line
    the kill cut short is dropped; other models' lines stay."""
    import torch

    views = {"gan": torch.zeros(4, 1, 8, 8)}
    first = watch_files.Watch(tmp_path)
    for label, step in [("gan", 15), ("gan", 30), ("vae", 15), ("gan", 45)]:
        first.point(label, label, {"steps": step}, views, {"gan": {"fid": float(step)}})
    with open(tmp_path / "progress" / "curve.jsonl", "a") as f:
        f.write('{"model": "gan", "ste')  # killed mid-line
    again = watch_files.Watch(tmp_path)
    again.point("gan", "gan", {"steps": 30}, views, {"gan": {"fid": 31.0}})
    again.point("gan", "gan", {"steps": 45}, views, {"gan": {"fid": 46.0}})
    lines = [json.loads(line) for line in (tmp_path / "progress" / "curve.jsonl").read_text().splitlines()]
    assert [(e["model"], e["steps"], e["views"]["gan"]["fid"]) for e in lines] == [
        ("gan", 15, 15.0), ("vae", 15, 15.0), ("gan", 30, 31.0), ("gan", 45, 46.0)]
