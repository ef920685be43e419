"""Atomic file writes (a reader or a crash never sees half a file, and an old file survives a failed write),
and the one reader of a run's JSON files."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

import torch

from compare.errors import UserError


_UMASK = os.umask(0)
os.umask(_UMASK)  # reading the umask means setting it: put it straight back


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through `write(file)` to a temp file beside `path`, then rename it over `path`.
    An OSError names `path`, not the temp file, which the user never sees."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private; give it an ordinary file's mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def write_json(path: Path, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def save_torch(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


def read_run_json(run_dir: Path, name: str) -> dict:
    """`name` (config.json, metrics.json) of a run directory, checked to have the layout `compare run`
    writes as far as every reader relies on it: an object whose "models" maps labels to objects."""
    run_dir = Path(run_dir)
    path = run_dir / name
    if not run_dir.exists():
        raise UserError(f"no such run directory {run_dir}; pass a directory made by `compare run`")
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a run directory; pass a directory made by `compare run`")
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a run directory (no {name}); pass a directory made by `compare run`") from None
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path} ({e}); rerun or restore it") from None
    models = obj.get("models", {}) if isinstance(obj, dict) else None
    if not isinstance(models, dict) or not all(isinstance(m, dict) for m in models.values()):
        raise UserError(f"{path} does not have the layout `compare run` writes; rerun or restore it")
    return obj
