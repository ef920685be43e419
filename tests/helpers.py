"""Helpers shared by the test modules (not a test module itself: pytest collects nothing here)."""

import contextlib
import os
import signal
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from compare.cli import main
from compare.settings import MIN_RESAMPLES
from compare.train.checkpoint import load_checkpoint
from gan import GAN

ROOT = Path(__file__).resolve().parents[1]
# The shared small run (conftest.tiny_run) and every run compared with it: 120 steps of 32 on 1,617
# training digits are 50 steps an epoch, so a resume at step 20, 40 or 60 lands mid-epoch and the
# run crosses two epoch boundaries after it.
#
# FAST: the fewest bootstrap resamples a run takes (compare.settings.MIN_RESAMPLES) instead of the default
# 1,000, for test runs that do not test their intervals: the 1,000-resample FIDs are most of a small run's
# time (a 40-step digits run: 43 s with them, 8 s with 100 and --curve-points 1). The values do not depend
# on it (tests/test_evaluate.py); the tests of intervals (test_evaluate, test_cli_quality, test_coverage)
# keep 1,000. FAST_FIELDS is the same for RunSettings.
FAST = ["--resamples", str(MIN_RESAMPLES)]
FAST_FIELDS = {"resamples": MIN_RESAMPLES}
# Every test run's base: digits (8x8, embedded, 180 held-out images) in batches of 32.
DIGITS = ["--dataset", "digits", "--batch-size", "32"]


def tiny_options(steps: int, *more: str) -> list[str]:
    """The options of a tiny run on DIGITS trained for `steps` steps, then `more`."""
    return [*DIGITS, "--budget", f"{steps}steps", *more]


# The session's shared run (conftest.tiny_run), and the same as compare.run's keyword arguments.
SETTINGS = tiny_options(120, "--width", "0.25", "--checkpoint-every", "20", "--quiet", *FAST)
SETTINGS_FIELDS = dict(dataset="digits", budget="120steps", batch_size=32, width=0.25, checkpoint_every=20,
                       **FAST_FIELDS)
PNGS = ["samples_gan.png", "samples_vae-mean.png", "samples_vae-pixels.png", "samples_vae-gmm.png"]
# A valid 1x1 grey PNG: what unrendered_figures saves in place of each rendered matplotlib figure.
ONE_PIXEL_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010800000000"
                              "3a7e9b550000000a49444154789c63680000008200815b7f7ec60000000049454e44ae426082")


@contextlib.contextmanager
def unrendered_figures():
    """For runs, sweeps and studies whose matplotlib figures no test reads (loss curves, side by side, curves, artifact
    maps, sweep and claim plots): each figure is built as always, then saved as ONE_PIXEL_PNG instead of rendered,
    which was most of a small run's time (a 120-step digits run: 20 s of its 29 s, profiled). Every number,
    checkpoint and JSON file, the sample grids (PIL, not matplotlib) and the report's HTML are unchanged; the
    figures' names too. Yields the set of file names still rendered: a test that reads one figure adds its name.
    conftest.quick_figures is this for one test; a module's shared fixture wraps its command in it."""
    import compare.report.figures.artifacts
    import compare.report.figures.claims
    import compare.report.figures.common
    import compare.report.figures.run
    from compare.io import write_bytes

    rendered, real = set(), compare.report.figures.common.save_figure

    def save_figure(fig, path, dpi=100):
        if Path(path).name in rendered:
            return real(fig, path, dpi)
        compare.report.figures.common.plt.close(fig)
        write_bytes(path, ONE_PIXEL_PNG)

    with pytest.MonkeyPatch.context() as mp:
        for module in (compare.report.figures.common, compare.report.figures.run, compare.report.figures.artifacts,
                       compare.report.figures.claims):
            mp.setattr(module, "save_figure", save_figure)
        yield rendered


def run_cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, code: int = 2) -> str:
    """The one line a refused command prints (a "Warning:" line before it aside), after checking the exit code."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.strip().splitlines() if not line.startswith("Warning:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def same_state(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    return a == b


def assert_same_run(run: Path, reference: Path, gan_label: str = "gan") -> None:
    """Bit-identical weights, optimiser and RNG states, the VAE's fitted prior, loss histories and sample grids."""
    for label, ref_label in [(gan_label, "gan"), ("vae", "vae")]:
        got, want = load_checkpoint(run / label / "ckpt.pt"), load_checkpoint(reference / ref_label / "ckpt.pt")
        assert got["status"] == want["status"] == "finished" and got["steps"] == want["steps"]
        assert same_state(got["state"], want["state"]), label
        assert got["history"] == want["history"], label
    for png in PNGS:
        assert (run / png.replace("gan", gan_label)).read_bytes() == (reference / png).read_bytes(), png


def snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def write_idx(path: Path, array: np.ndarray) -> None:
    """The idx-ubyte format of LeCun's MNIST files: magic 0x0000 08 ndim, big-endian sizes, then uint8 data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist_like(root: Path, folder: str, n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images, labels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(root / folder / "raw" / f"{prefix}-images-idx3-ubyte", images)
        write_idx(root / folder / "raw" / f"{prefix}-labels-idx1-ubyte", labels)
        arrays[prefix], arrays[prefix + "_labels"] = images, labels
    return arrays


class FaultyGAN(GAN):
    """The registry's GAN, plus one injected fault at step `at` (counted per instance)."""

    fault = "nan"
    at = 30

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.step = 0

    def train_step(self, batch):
        self.step += 1
        if self.step == self.at and self.fault == "nan":
            batch = torch.full_like(batch, float("nan"))  # poisons the losses, then the weights
        if self.step == self.at and self.fault == "sigint" and not FaultyGAN.fired:
            FaultyGAN.fired = True
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered mid-step
        losses = super().train_step(batch)
        if self.step == self.at and self.fault == "weights":  # after the losses: they stay finite
            with torch.no_grad():
                next(self.generator.parameters()).view(-1)[0] = float("inf")
        return losses

    def sample(self, n, generator=None):
        if self.fault == "collapse":  # every noise vector gives the first one's image
            return super().sample(1, generator).expand(n, -1, -1, -1)
        return super().sample(n, generator)


def open_chromium():
    """A headless Chromium (tests/browser.py), or the test skipped where none is installed (failed
    under REQUIRE_BROWSER)."""
    import pytest
    from browser import Chromium, find_chromium

    exe = find_chromium()
    if exe is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but no chromium was found")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return Chromium(exe)
