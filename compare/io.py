"""Atomic file writes (a reader or a crash never sees half a file, and an old file survives a failed write),
and the one reader of the toolkit's JSON files.

Every JSON file written here carries CONTENT_FIELD, the SHA-256 of the rest of its content, inside the
same atomically written file (so a crash can never leave the two disagreeing); the reader refuses a file
whose content no longer matches it. A file without the field (an older run, or one edited on purpose
with the field deleted) is read unchecked.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, IO, Iterator

import torch

from compare.errors import UserError
from compare.layouts import LAYOUTS, first_mismatch

CONTENT_FIELD = "content_sha256"
# The temp files atomic_write leaves only when killed mid-write: .<name>.<8 mkstemp characters>.tmp
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
# What torch's zip writer raises when the file under it stops taking bytes (a full disk): it does not
# pass on the OSError, so this is the only sign of it.
TORCH_WRITE_FAILED = ("unexpected pos", "file write failed")


_UMASK = os.umask(0)
os.umask(_UMASK)  # reading the umask means setting it: put it straight back


def atomic_write(path: Path, write: Callable[[IO[bytes]], None], exclusive: bool = False) -> None:
    """Write through `write(file)` to a temp file beside `path`, then rename it over `path`; with `exclusive`,
    link it there instead, which fails (FileExistsError) rather than replace a file that appeared meanwhile.
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
        if exclusive:
            os.link(tmp, path)  # atomic, and never over an existing file
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def check_new_file(path: Path, overwrite: bool) -> None:
    """A file the user named to be written: refused (a UserError, nothing touched) where something is already there,
    unless `overwrite` and it is a file; then the atomic write replaces it."""
    path = Path(path)
    if os.path.lexists(path) and not (overwrite and path.is_file()):
        raise UserError(f"{path} already exists; give another --out, move it away, or pass --overwrite" if not overwrite
                        else f"{path} exists and is not a file; give another --out")


def check_new_directory(path: Path, overwrite: bool, ours: Callable[[str], bool]) -> None:
    """new_directory's refusals, before any work: see there."""
    if os.path.lexists(path):
        if not path.is_dir():
            raise UserError(f"{path} exists and is not a folder; give another --out")
        names = sorted(p.name for p in path.iterdir())
        if names and not overwrite:
            raise UserError(f"{path} already exists; give another --out, move it away, or pass --overwrite")
        if foreign := [n for n in names if not ours(n)]:
            raise UserError(f"{path} holds {foreign[0]}, which this command does not write; it is not "
                            "replaced: give another --out")


@contextlib.contextmanager
def new_directory(path: Path, overwrite: bool, ours: Callable[[str], bool]) -> Iterator[Path]:
    """A temp folder beside `path` to fill; renamed to `path` once the block ends without error, so a failed or
    interrupted command leaves no half-written folder and keeps the one that was there. An existing non-empty
    `path` is refused unless `overwrite`, and even then when it holds a name `ours` rejects: a folder of someone
    else's files is never replaced."""
    path = Path(path)
    check_new_directory(path, overwrite, ours)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        # --overwrite: the old folder goes only once the new one is complete
        if os.path.lexists(path) and any(path.iterdir()):
            aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
            os.replace(path, aside / "old")
            os.replace(tmp, path)
            shutil.rmtree(aside)
        else:
            os.replace(tmp, path)  # over an empty folder too
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def is_temp_name(name: str) -> bool:
    return TEMP_NAME.match(name) is not None


def write_bytes(path: Path, data: bytes, exclusive: bool = False) -> None:
    atomic_write(path, lambda f: f.write(data), exclusive)


def json_digest(obj: Any) -> str:
    """SHA-256 of JSON content as it reads back (int keys become strings, tuples lists), canonically ordered."""
    canonical = json.dumps(json.loads(json.dumps(obj)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def write_json(path: Path, obj: Any, exclusive: bool = False) -> None:
    """`obj` as indented JSON; a dict gets CONTENT_FIELD (any earlier one is replaced)."""
    if isinstance(obj, dict):
        body = {k: v for k, v in obj.items() if k != CONTENT_FIELD}
        obj = {**body, CONTENT_FIELD: json_digest(body)}
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode(), exclusive)


def save_torch(path: Path, obj: Any, exclusive: bool = False) -> None:
    def write(f: IO[bytes]) -> None:
        try:
            torch.save(obj, f)
        except RuntimeError as e:
            if not any(sign in str(e) for sign in TORCH_WRITE_FAILED):
                raise
            raise OSError(errno.ENOSPC, "the write failed part-way (is the disk full?)", str(path)) from None

    atomic_write(path, write, exclusive)


def content_sha256(obj: Any) -> str:
    """SHA-256 over plain data (a checkpoint, a cache entry): every tensor's dtype, shape and bytes, every other value's
    type and repr, in the order torch.save keeps (dict insertion order), so a load gives the saved hash."""
    h = hashlib.sha256()

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            if x.layout != torch.strided or x.is_meta or x.is_quantized:  # .numpy() has no bytes for these
                raise ValueError(f"a {x.layout} {x.dtype} tensor is not plain data this toolkit writes")
            t = x.detach().cpu().contiguous().reshape(-1)
            h.update(f"T{t.dtype}{tuple(x.shape)}:".encode())
            h.update(t.view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            h.update(f"D{len(x)}:".encode())
            for key, value in x.items():
                walk(key)
                walk(value)
        elif isinstance(x, (list, tuple)):
            h.update(f"{type(x).__name__}{len(x)}:".encode())
            for item in x:
                walk(item)
        else:
            h.update(f"{type(x).__name__}:{x!r};".encode())

    walk(obj)
    return h.hexdigest()


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over every tensor of the state dict in name order: the same weights give the same hash on any machine."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def save_checked(path: Path, body: dict) -> None:
    """torch.save of `body` with "sha256": content_sha256(body), inside the same atomically written file:
    a crash can never leave the two disagreeing. load_checked reads it back."""
    save_torch(path, {**body, "sha256": content_sha256(body)})


def load_checked(path: Path) -> dict:
    """The body save_checked wrote at `path`, on the CPU, tensors only (weights_only: nothing in it can run);
    ValueError when the content does not hash to the sha256 saved in it. torch itself checks no checksum,
    so flipped bytes inside a tensor would otherwise load as plausible numbers."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict):
        raise ValueError(f"{path} holds a {type(saved).__name__}, not a dict")
    body = {k: v for k, v in saved.items() if k != "sha256"}
    if saved.get("sha256") != content_sha256(body):
        raise ValueError(f"{path} does not match the sha256 saved in it")
    return body


def read_json(path: Path, layout: str, then: str) -> dict:
    """The JSON file `path`, checked against its recorded hash and against LAYOUTS[layout] (the fields
    its readers rely on); anything else is one UserError naming the file (and field) and ending in `then`."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise UserError(f"cannot read {path} ({e}); {then}") from None
    if isinstance(obj, dict) and CONTENT_FIELD in obj:
        body = {k: v for k, v in obj.items() if k != CONTENT_FIELD}
        if obj[CONTENT_FIELD] != json_digest(body):
            raise UserError(f"{path} does not match the sha256 recorded in it (damaged or edited); {then} "
                            f"(after an edit on purpose, delete its {CONTENT_FIELD!r} field)")
        obj = body
    if (where := first_mismatch(obj, LAYOUTS[layout])) is not None:
        raise UserError(f"{path} does not have the layout the toolkit writes ({where}); {then}")
    return obj


def read_run_json(run_dir: Path, name: str) -> dict:
    """`name` (config.json, metrics.json) of a run directory, checked by read_json."""
    run_dir = Path(run_dir)
    path = run_dir / name
    if not run_dir.exists():
        raise UserError(f"no such run directory {run_dir}; pass a directory made by `compare run`")
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a run directory; pass a directory made by `compare run`")
    try:
        return read_json(path, name, "rerun or restore it")
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a run directory (no {name}); pass a "
                        "directory made by `compare run`") from None
