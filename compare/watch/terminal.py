"""What a person sees on stderr while a command works: tqdm bars on a terminal, plain periodic lines elsewhere.

tqdm (a dependency for this): its bars fit the terminal's width as it changes (dynamic_ncols trims every
redraw to it, so an 80-column terminal never wraps), and it computes rate and ETA. Without a TTY (nohup,
CI logs, a notebook's captured stderr) a carriage-return redraw would pile every update into one endless
line, so there the same text is printed as a plain line at every PLAIN_EVERY of the way: about ten lines
per model whatever the budget, where lines every N seconds would flood a long run's log and leave a short
one silent. Lines between bars go through tqdm.write, which keeps the bar below them.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Callable

from tqdm import tqdm

from compare.metrics.numbers import fmt

PLAIN_EVERY = 0.1  # share of the budget between two plain lines
# step/total, elapsed and ETA before the losses: tqdm trims the end of a line that does not fit, so the part
# that must be seen comes first; the bar takes what width is left (a few cells at 80 columns, most of 200)
BAR = "{desc} {n_fmt}/{total_fmt} {unit} |{bar}| {elapsed} elapsed, ETA {remaining}{postfix}"
PLAIN = "{desc} {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%), {elapsed} elapsed, ETA {remaining}{postfix}"
LOSS_DIGITS = 3  # significant digits of a loss on the bar: enough to see it move, short enough to fit 80 columns


def is_tty(file: IO[str]) -> bool:
    isatty = getattr(file, "isatty", None)
    return bool(isatty and isatty())


class Display:
    """One command's progress on `file` (stderr); `tty` decides bars or plain lines (default: whether file
    is a terminal)."""

    def __init__(self, file: IO[str] | None = None, tty: bool | None = None):
        self.file = file or sys.stderr
        self.tty = is_tty(self.file) if tty is None else tty
        self._bar: tqdm | None = None

    def line(self, text: str) -> None:
        """A line of its own, above the bar when one is showing."""
        if self._bar is not None:
            self._bar.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def training(self, label: str, steps: int | None, seconds: float | None, done_steps: int = 0,
                 done_seconds: float = 0.0) -> "TrainBar":
        """The bar of one model over its budget's steps (or seconds, for a seconds budget), from where a
        resume starts."""
        return TrainBar(self, label, steps, seconds, done_steps, done_seconds)

    def curve_point(self, step: int, total: int | None, views: dict[str, dict[str, Any]]) -> None:
        """A line per view at each curve point, short enough for 80 columns: its FID and lone pixels."""
        at = f"{step:,}" + (f"/{total:,}" if total else "")
        for view, v in views.items():
            self.line(f"{view} at step {at}: FID {fmt(v.get('fid'))}, lone pixels per image "
                      f"{fmt(v.get('lone_pixels_per_image'))}")


class TrainBar:
    """Context manager; `update(record)` after every loss reading (compare.train.loop.TrainRecord)."""

    def __init__(self, display: Display, label: str, steps: int | None, seconds: float | None, done_steps: int,
                 done_seconds: float):
        self.display, self.label = display, label
        self.by_seconds = seconds is not None
        self.total = int(seconds) if self.by_seconds else steps
        self.initial = min(int(done_seconds), self.total) if self.by_seconds else done_steps
        self.unit = "s" if self.by_seconds else "steps"
        self.start = time.monotonic()
        self.next_line = self.initial + self._every()
        self.bar: tqdm | None = None

    def _every(self) -> int:
        return max(1, round(self.total * PLAIN_EVERY))

    def __enter__(self) -> "TrainBar":
        if self.display.tty:
            self.bar = tqdm(total=self.total, initial=self.initial, desc=f"{self.label}:", unit=self.unit,
                            bar_format=BAR, file=self.display.file, dynamic_ncols=True, leave=True)
            self.display._bar = self.bar
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
            self.display._bar = None

    def update(self, record: Any) -> None:
        done = min(int(record.seconds), self.total) if self.by_seconds else record.steps
        losses = " ".join(f"{k} {fmt(v, LOSS_DIGITS)}" for k, v in record.losses.items())
        postfix = f"step {record.steps:,}, {losses}" if self.by_seconds else losses
        if self.bar is not None:
            self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(done - self.bar.n)
        elif done >= self.next_line or done >= self.total:
            self.display.line(tqdm.format_meter(done, self.total, time.monotonic() - self.start,
                                                prefix=f"{self.label}:", unit=self.unit, bar_format=PLAIN,
                                                postfix=postfix, initial=self.initial))
            self.next_line = done + self._every()


def time_left(seconds: float) -> str:
    """"about 15 min left": a trial line's estimate in words, since a bare "15:02" reads as a time of day."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute left"
    return f"about {minutes} min left" if minutes < 60 else f"about {minutes // 60} h {minutes % 60:02d} min left"


class TrialsBar:
    """The overall bar of a sweep's or study's trials, with each finished trial's line above it.

    `log` prints the lines (the command's own channel); without a TTY the bar is left out and every line ends
    with the ETA itself."""

    def __init__(self, total: int, log: Callable[[str], None], file: IO[str] | None = None, tty: bool | None = None):
        self.total, self.log, self.done = total, log, 0
        self.file = file or sys.stderr
        self.tty = is_tty(self.file) if tty is None else tty
        self.start = time.monotonic()
        self.bar = tqdm(total=total, desc="trials:", unit="done", bar_format=BAR, file=self.file, dynamic_ncols=True,
                        leave=False) if self.tty and total else None

    def finished(self, record: dict) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        left = "" if self.done == self.total or self.bar is not None else (  # the bar shows it on a terminal
            f"; {time_left(elapsed / self.done * (self.total - self.done))}")
        outcome = (f"done in {record['seconds']:.1f}s{headline(record.get('summary') or {})}"
                   if record["status"] == "done" else f"FAILED: {record['error']}")
        text = f"  [{self.done}/{self.total}] {record['id']} {outcome}{left}"
        if self.bar is None:
            self.log(text)
            return
        with tqdm.external_write_mode(file=self.file):  # clears the bar, prints, redraws it below
            self.log(text)
        self.bar.update(1)
        self.bar.refresh()  # at once, not after tqdm's minimum interval: trials end seconds apart

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def headline(summary: dict) -> str:
    """": FID 45.2, lone pixels 0.03 [0.01, 0.05] per image" of the first view of a trial's model (of each model,
    named, when it has several) in its summary (compare.results.summary_from_metrics); "" when it has none."""
    parts = []
    for label, entry in summary.items():
        views = entry.get("views") or {}
        if not views:
            continue
        view, numbers = next(iter(views.items()))
        quality, pixels = numbers.get("quality", {}), numbers.get("continuity", {})
        lone = fmt(pixels.get("lone_pixels_per_image"), pixels.get("lone_pixels_per_image_ci95"))
        parts.append(("" if len(summary) == 1 else f"{view} ") + f"FID {fmt(quality.get('fid'))}, lone "
                                                                 f"pixels {lone} per image")
    return ": " + "; ".join(parts) if parts else ""
