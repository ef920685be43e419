import pytest

import compare.models as models_registry
from compare.models import ModelEntry
from gan import GANConfig
from helpers import SETTINGS, FaultyGAN, run_cli

# In the shared run's directory name: the report must escape it (tests/test_report.py).
EVIL = "<script>alert(1)</script>"


# Fixtures that train and evaluate real runs (or a calibration, a study, a sweep): every test that reads one is
# marked slow, so `pytest -m "not slow"` is a quick check of everything else. None: the fixture of that name in
# any module; a module name: only that module's fixture of that name.
SLOW_FIXTURES = {"tiny_run": None, "interrupted_run": None, "quick": "test_calibrate", "results": "test_coverage",
                 "tiny": "test_study", "local_sweep": "test_sweep", "finished": "test_run_safety"}


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


@pytest.fixture(scope="session")
def tiny_run(_hermetic_cache, tmp_path_factory):
    """One finished `compare run --models gan vae` on digits (helpers.SETTINGS), made once per session and
    shared by every test that reads a run: the uninterrupted reference of the resume tests, the CLI's
    outputs, the report. Never write into it; copy it first (shutil.copytree)."""
    out = tmp_path_factory.mktemp("runs") / f"tiny{EVIL.replace('/', '_')}"
    result = run_cli("run", "--models", "gan", "vae", *SETTINGS, "--out", out)
    assert result.exit_code == 0, result.output
    (out.parent / "output.txt").write_text(result.output)  # what the terminal showed: tiny_run_output
    return out


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
def faulty(monkeypatch):
    """Registers `faulty` (helpers.FaultyGAN) and returns a setter for its fault."""
    monkeypatch.setitem(models_registry.MODELS, "faulty", ModelEntry("test-only GAN with an injected fault", GANConfig, FaultyGAN, "generator"))
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
