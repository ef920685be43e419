import pytest


@pytest.fixture(autouse=True, scope="session")
def _hermetic_cache(tmp_path_factory):
    """Every test session gets its own cache dir: no test reads or writes the user's ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COMPARE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()
