"""What a run writes as it trains, for a person to open meanwhile: progress/ in the run directory and,
with `--log tensorboard`, TensorBoard event files.

    progress/curve.jsonl                    one JSON line per curve point (the final evaluation included):
                                            {"model", "steps", "images", "epochs", "s", "flops", "views":
                                            {view: scalars}}
    progress/samples_<view>_step<N>.png     that view's first GRID_SAMPLES samples at step N (the point's own draw)
    tensorboard/<model>/events.out.tfevents.*   the same scalars ("<view>/<key>") and grids ("<view>/samples") by step

None of it is read back: the results live in the checkpoints and metrics.json. A model's first point in a
process replaces the lines (and TensorBoard events) it finds of that model at its step or later: a resumed
run computes again the points its checkpoint did not hold, and none appears twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import Tensor

from compare.errors import UserError
from compare.io import write_bytes
from compare.report.figures.common import grid_array, save_grid
from compare.sample import GRID_SAMPLES
from compare.watch import CURVE_LINES, PROGRESS_DIR, TENSORBOARD_DIR



def summary_writer_class():
    """torch's TensorBoard SummaryWriter; without the tensorboard package a one-line UserError."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("--log tensorboard needs the tensorboard package, which is not installed: "
                        "pip install tensorboard") from None
    return SummaryWriter


class Watch:
    """The files of one run's curve points under run directory `out`; TensorBoard event files too with `tensorboard`."""

    def __init__(self, out: Path, tensorboard: bool = False):
        self.dir = Path(out) / PROGRESS_DIR
        self.tensorboard_dir = Path(out) / TENSORBOARD_DIR
        self.writer_class = summary_writer_class() if tensorboard else None
        self.writers: dict[str, Any] = {}  # by model folder
        self.started: set[str] = set()  # models with a point from this process

    def point(self, label: str, dirname: str, consumed: dict[str, float], views: dict[str, Tensor],
              scalars: dict[str, dict]) -> None:
        """One curve point of `label`: its grids, its line in curve.jsonl and, with TensorBoard, both there."""
        step = int(consumed["steps"])
        # points come in step order: an earlier process's at this step or later are replaced
        if label not in self.started:
            self._drop(label, step)
            self.started.add(label)
        for view, images in views.items():
            save_grid(images[:GRID_SAMPLES], self.dir / f"samples_{view}_step{step:06d}.png", nrow=8)
        line = json.dumps({"model": label, **consumed, "views": scalars}) + "\n"
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / CURVE_LINES, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # one O_APPEND write: a line is never split by another writer
        finally:
            os.close(fd)
        if self.writer_class is not None:
            if dirname not in self.writers:  # purge_step: TensorBoard hides the earlier events from this step on
                self.writers[dirname] = self.writer_class(log_dir=str(self.tensorboard_dir / dirname), purge_step=step)
            writer = self.writers[dirname]
            for view, values in scalars.items():
                for key, value in values.items():
                    if value is not None:
                        writer.add_scalar(f"{view}/{key}", value, step)
                writer.add_image(f"{view}/samples", grid_array(views[view][:GRID_SAMPLES], nrow=8), step,
                                 dataformats="HWC")
            writer.flush()

    def _drop(self, label: str, from_step: int) -> None:
        path = self.dir / CURVE_LINES
        if path.is_file():
            lines = path.read_text().splitlines(keepends=True)
            kept = [line for line in lines if _kept(line, label, from_step)]
            if kept != lines:
                write_bytes(path, "".join(kept).encode())

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


def _kept(line: str, label: str, from_step: int) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        return False  # a line cut short by a kill: dropped
    if not isinstance(entry, dict) or entry.get("model") != label:
        return True
    return isinstance(entry.get("steps"), int) and entry["steps"] < from_step
