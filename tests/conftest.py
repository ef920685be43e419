import contextlib
import os
import shutil
from pathlib import Path

import pytest

import compare.models as models_registry
from compare.models import ModelEntry
from gan import GANConfig
from helpers import SETTINGS, FaultyGAN, run_cli, unrendered_figures

# In the shared run's directory name: the report must escape it (tests/test_report.py).
EVIL = "<script>alert(1)</script>"


# Fixtures that train and evaluate real runs (or a calibration, a study, a sweep): every test that reads one is
# marked slow, so `pytest -m "not slow"` is a quick check of everything else. None: the fixture of that name in
# any module; a module name: only that module's fixture of that name.
SLOW_FIXTURES = {"tiny_run": None, "interrupted_run": None, "quick_coverage": None, "quick": "test_calibrate",
                 "results": "test_coverage", "tiny": "test_study", "local_sweep": "test_sweep",
                 "finished": "test_run_safety", "seeds_dir": "test_report_layout",
                 "sweep_dir": "test_report_layout", "study_dir": "test_report_layout"}


def pytest_configure(config):
    """The packages' bytecode, compiled once before the tests start: where the environment sets
    PYTHONDONTWRITEBYTECODE (CI's does), each of the suite's many subprocesses (CLI runs, spawn and Ray workers, the
    forked imports of test_layout) would otherwise compile every module from source again (0.15 s a module).
    Written where Python always puts it, the ignored __pycache__ folders; Python checks each against its source."""
    import compileall

    if not hasattr(config, "workerinput"):  # the controller, not an xdist worker
        root = Path(__file__).resolve().parents[1]
        for package in ("compare", "gan", "vae", "examples"):
            compileall.compile_dir(root / package, quiet=1)


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__ if item.module else None
        if any(SLOW_FIXTURES.get(name, "-") in (None, module) for name in item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="session")
def _hermetic_cache(tmp_path_factory):
    """Every test session gets its own cache dir: no test reads or writes the user's ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COMPARE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@contextlib.contextmanager
def made_once(tmp_path_factory, name: str, done: str):
    """The path `name` in a folder every worker of this session sees (under pytest-xdist the parent of the workers'
    own temp roots), held under a file lock: the first worker to ask finds no `done` file there and makes it,
    writing `done` last; the others wait, then read what it made. Yields (path, whether it must be made now)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    with FileLock(str(shared / f"{name}.lock")):
        yield shared / name, not (shared / name / done).exists()


@pytest.fixture(scope="session")
def tiny_run(_hermetic_cache, tmp_path_factory):
    """One finished `compare run --models gan vae` on digits (helpers.SETTINGS), made once per session (the first
    xdist worker to ask makes it under a file lock, the others wait for it and read it) and shared by every test
    that reads a run: the uninterrupted reference of the resume tests, the CLI's outputs, the report. Never write
    into it; copy it first (shutil.copytree)."""
    with made_once(tmp_path_factory, "shared-runs", "output.txt") as (runs, make):
        out = runs / f"tiny{EVIL.replace('/', '_')}"
        if make:  # output.txt is written last: a run that failed half way is made again
            shutil.rmtree(runs, ignore_errors=True)
            runs.mkdir(parents=True)
            result = run_cli("run", "--models", "gan", "vae", *SETTINGS, "--out", out)
            assert result.exit_code == 0, result.output
            (runs / "output.txt").write_text(result.output)  # what the terminal showed: tiny_run_output
    return out


@pytest.fixture(scope="session")
def quick_coverage(tmp_path_factory):
    """compare.calibrate.coverage.interval_coverage(quick=True) at seed 0 on one torch thread, as `compare calibrate
    --quick` runs it: computed once per session under a file lock (seeded, so every call gives these results) and
    read by tests/test_coverage.py and by the quick calibration of tests/test_calibrate.py."""
    import pickle

    import torch

    from compare.calibrate.coverage import interval_coverage

    with made_once(tmp_path_factory, "quick-coverage", "results.pickle") as (folder, make):
        if make:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                results = pickle.dumps(interval_coverage(quick=True, seed=0, jobs=1))
            finally:
                torch.set_num_threads(threads)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "results.pickle").write_bytes(results)
        return pickle.loads((folder / "results.pickle").read_bytes())


@pytest.fixture(scope="session")
def tiny_run_output(tiny_run) -> str:
    """What `compare run` printed while making tiny_run (its summary, ending in the report's path)."""
    return (tiny_run.parent / "output.txt").read_text()


@pytest.fixture(autouse=True)
def _torch_threads():
    """A test that sets torch's thread count (to compare with one-thread workers) leaves it as it was."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def quick_figures():
    """helpers.unrendered_figures for one test: the set of figure names it still renders (a test adds a name)."""
    with unrendered_figures() as rendered:
        yield rendered


@pytest.fixture
def cheap_evaluator(monkeypatch):
    """5 training steps instead of the recipe's 800 for an evaluator a run trains (a dataset that ships none: mnist,
    folder:PATH), for tests of what options reached a run rather than of the evaluator. The cache key holds the
    steps (compare.metrics.evaluator.evaluator_key), so the cheap one is never read for the real one."""
    from compare.metrics import evaluator

    monkeypatch.setattr(evaluator, "TRAIN_STEPS", 5)
    return evaluator


@pytest.fixture
def faulty(monkeypatch):
    """Registers `faulty` (helpers.FaultyGAN) and returns a setter for its fault."""
    monkeypatch.setitem(models_registry.MODELS, "faulty",
                        ModelEntry("test-only GAN with an injected fault", GANConfig, FaultyGAN, "generator"))
    monkeypatch.setattr(FaultyGAN, "fired", False, raising=False)

    def set_fault(kind: str, at: int = 30) -> None:
        monkeypatch.setattr(FaultyGAN, "fault", kind)
        monkeypatch.setattr(FaultyGAN, "at", at)

    return set_fault


@pytest.fixture
def interrupted_run(faulty, tmp_path):
    """A run of the faulty GAN stopped by Ctrl-C at step 5: a checkpoint, a partial metrics.json."""
    import signal

    faulty("sigint", at=5)
    out = tmp_path / "run"
    assert run_cli("run", "--models", "faulty", *SETTINGS, "--out", out).exit_code == 128 + signal.SIGINT
    return out
