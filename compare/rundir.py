"""What keeps a run directory safe: one writer at a time, no silent overwrite, interrupts that save,
and write failures (full disk, no permission) reported as one line with the files already there intact.

Exit codes of `compare run` (the CLI documents them): 0 done; 2 bad input or unwritable output;
EXIT_DIVERGED (3) a model diverged, the others finished; 128 + signal number (130 for Ctrl-C, 143
for SIGTERM, 129 for SIGHUP) interrupted, resumable.

A directory the toolkit made (a run, a sweep, a --seeds directory) holds MARKER_NAME, written when
it is claimed: only such a directory is ever emptied by --overwrite, and then only of files the
toolkit writes (OWNED_NAMES, OWNED_SUFFIXES, model folders of a checkpoint, progress/ and tensorboard/): anything else
there is the user's, and the overwrite is refused with nothing deleted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Callable, Iterator

from compare.errors import UserError
from compare.io import is_temp_name
from compare.watch import CURVE_LINES, PROGRESS_DIR, TENSORBOARD_DIR, TENSORBOARD_PREFIX

EXIT_DIVERGED = 3
LOCK_NAME = ".lock"
MARKER_NAME = ".compare-run"
TOOLKIT = "gan-vae-compare"
MARKER_FORMAT = 1
# What --overwrite may delete in a run directory: the files `compare run` writes, and nothing else.
OWNED_NAMES = {"config.json", "metrics.json", "metrics.md", "report.html", "report.md", LOCK_NAME, MARKER_NAME}
OWNED_SUFFIXES = (".png", ".npz")  # the figures and samples_<view>.npz
# `compare export`'s default folders, in the run
EXPORT_PREFIX, EXPORT_SUFFIXES = "export-", (".json", ".safetensors", ".pt")
CHECKPOINT_NAME = "ckpt.pt"
# Errors of the disk rather than of the program: turned into one line naming the file.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EFBIG}


class Interrupted(Exception):
    """A signal stopped the command with everything at a checkpoint; `where` says where it stopped,
    `resume` the command that continues it (by default resuming the run directory `out`)."""

    def __init__(self, signum: int, out: Path, where: str, resume: str | None = None):
        self.signum, self.exit_code, self.out, self._args = (signum, 128 + signum, Path(out),
                                                              (signum, out, where, resume))
        super().__init__(f"{signal.Signals(signum).name} {where}; continue with: "
                         f"{resume or f'compare run --resume {out}'}")

    def __reduce__(self):  # back from a worker process whole, not rebuilt from its message
        return Interrupted, self._args


class StopSignals:
    """While active, SIGINT, SIGTERM and SIGHUP (a closed terminal) only set `requested` (the signal
    number): the training loop reads it between steps and stops at a checkpoint (after training, see
    stop_at_once). A second signal acts as if this were not installed (Ctrl-C twice still quits at
    once; atomic writes keep every file whole)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, object] = {}
        self._at_once: Callable[[int], Interrupted] | None = None

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = signum
        self._restore()
        if self._at_once is not None:
            raise self._at_once(signum)

    def stop_at_once(self, interrupted: Callable[[int], Interrupted]) -> None:
        """From here on there is no step to finish (training is over and checkpointed): a signal, or
        one already received, raises `interrupted(signum)` at once instead of waiting to be read."""
        if self.requested is not None:
            raise interrupted(self.requested)
        self._at_once = interrupted

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():  # Python only lets the main thread set handlers
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()


_HELD: set[Path] = set()  # lock files this process holds: a nested RunLock of the same directory is a no-op


def held_locks() -> list[str]:
    """The lock files this process holds (for its worker processes to join, see join_locks)."""
    return sorted(str(p) for p in _HELD)


def join_locks(paths: list[str]) -> None:
    """Add this process's pid to the lock files `paths` its parent holds: a worker that outlives a killed
    parent then keeps the directory from being taken over (RunLock) until it has stopped too."""
    for path in paths:
        with contextlib.suppress(OSError):  # gone already: the parent has released it
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, f"{os.getpid()}\n".encode())  # one small O_APPEND write: never interleaved
            finally:
                os.close(fd)


def process_running(pid: str) -> bool:
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    with contextlib.suppress(OSError, IndexError):  # Linux: a zombie (exited, not yet reaped) holds nothing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    return True


class RunLock:
    """An exclusive flock on `<dir>/.lock`, which holds the owner's pid (then the pids of its worker
    processes, join_locks); every command that writes into a run, sweep or --seeds directory holds it
    while it does.

    The kernel releases a flock when its process ends, however it ends (SIGKILL included), so a
    lock file left behind by a dead process is stale by construction and is taken over, unless one
    of the workers it names still runs: a killed study's workers stop within seconds of their parent
    (compare.experiments.executors), and until then a resume would train beside them.
    Taking the lock also removes the temp files a killed writer left in the directory and its
    folders (only names of compare.io's temp pattern): no one else can be writing them now.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        if self.path.resolve() in _HELD:  # this process holds it already: fd stays None, so __exit__ leaves it
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = (os.pread(fd, 32, 0).decode(errors="replace").split() or ["unknown"])[0]
                os.close(fd)
                raise UserError(f"run directory {self.path.parent} is in use by process {holder}; "
                                f"wait for it to finish or stop it, then try again") from None
            # The previous holder may have unlinked the file between our open and flock: then this
            # lock guards nothing, and we lock the file now at the path instead.
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)
        owner, *workers = os.pread(fd, 4096, 0).decode(errors="replace").split() or ["unknown"]
        if running := [pid for pid in workers if process_running(pid)]:
            os.close(fd)
            raise UserError(f"run directory {self.path.parent} is still in use by process {running[0]}, a worker of "
                            f"the stopped process {owner}; workers stop within seconds of their parent: try again then")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        _HELD.add(self.path.resolve())
        remove_stale_temps(self.path.parent)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            _HELD.discard(self.path.resolve())
            self.path.unlink(missing_ok=True)  # unlink before unlocking, so no one locks a doomed file unseen
            os.close(self.fd)
            self.fd = None


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete the atomic-write temp files (compare.io.TEMP_NAME) in `directory` and its folders; returns them."""
    stale = [p for d in (directory, *(p for p in directory.iterdir() if p.is_dir() and not p.is_symlink()))
             for p in d.iterdir() if is_temp_name(p.name) and p.is_file() and not p.is_symlink()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def marker_kind(path: Path) -> str | None:
    """"run", "sweep", "seeds", "study" or "studies" for a directory the toolkit made (its marker says so), else None:
    never guessed from the file names alone."""
    try:
        marker = json.loads((Path(path) / MARKER_NAME).read_text())
        if isinstance(marker, dict) and marker.get("toolkit") == TOOLKIT:
            return str(marker.get("kind", "run"))
    except (OSError, ValueError):
        pass
    return None


def is_run_dir(path: Path) -> bool:
    return marker_kind(path) == "run"


def write_marker(out: Path, kind: str, **extra: object) -> None:
    from compare.io import write_json  # here, not at the top: compare.io's writer is the one that owns JSON

    write_json(Path(out) / MARKER_NAME, {"toolkit": TOOLKIT, "format": MARKER_FORMAT, "kind": kind, **extra})


def read_marker(out: Path) -> dict:
    try:
        marker = json.loads((Path(out) / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _contents(out: Path) -> list[Path]:
    """What a directory holds besides the lock, the marker and stale temp files: nothing means "empty"."""
    return [p for p in out.iterdir() if p.name not in (LOCK_NAME, MARKER_NAME) and not is_temp_name(p.name)]


def claimed_directory(out: Path, kind: str, resume: bool = False) -> tuple[Path, bool]:
    """`out` for a multi-run command (kind "sweep", "seeds", "study", ...): created and marked when new or empty;
    with `resume`, an earlier one of the same kind is continued; anything else is refused.
    Returns (out, whether it held an earlier one)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (_contents(out) and not (resume and marker_kind(out) == kind))):
        raise UserError(f"directory {out} already exists and is not empty (nor a {kind} directory to continue); "
                        f"pass another --out or remove it")
    earlier = out.is_dir() and bool(_contents(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not earlier:
            write_marker(out, kind)
    except OSError as e:
        raise UserError(f"cannot create directory {out}: {e.strerror}") from None
    return out, earlier


def foreign_files(out: Path) -> list[Path]:
    """Files in run directory `out` that `compare run` does not write (--overwrite must not delete them)."""
    foreign = []
    for p in sorted(out.iterdir()):
        if p.is_symlink() or not (p.is_dir() or p.is_file()):
            foreign.append(p)
        elif p.is_file():
            if not (p.name in OWNED_NAMES or p.suffix in OWNED_SUFFIXES or is_temp_name(p.name)):
                foreign.append(p)
        elif p.name == PROGRESS_DIR:  # compare.watch.files: the curve points' grids and lines
            foreign += [q for q in sorted(p.rglob("*"))
                        if not (q.parent == p and q.is_file() and not q.is_symlink()
                                and (q.suffix in OWNED_SUFFIXES or q.name == CURVE_LINES or is_temp_name(q.name)))]
        elif p.name == TENSORBOARD_DIR:  # a folder of event files per model
            foreign += [q for q in sorted(p.rglob("*"))
                        if q.is_symlink() or not ((q.parent == p and q.is_dir())
                                                  or (q.parent.parent == p and q.is_file()
                                                      and q.name.startswith(TENSORBOARD_PREFIX)))]
        else:  # a model folder holds its checkpoint only, an export folder its weights and cards
            exported = p.name.startswith(EXPORT_PREFIX)
            foreign += [q for q in sorted(p.rglob("*"))
                        if not (q.parent == p and q.is_file() and not q.is_symlink()
                                and (q.name.endswith(EXPORT_SUFFIXES) if exported
                                     else q.name == CHECKPOINT_NAME or is_temp_name(q.name)))]
    return foreign


@contextlib.contextmanager
def claimed_run_dir(out: Path, resume: bool = False, overwrite: bool = False) -> Iterator[Path]:
    """`out` locked for this process: new and empty, a run being resumed, or (with `overwrite`, which
    a resume ignores) a previous run emptied. Anything else already there is refused, never touched."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"run directory {out} exists and is not a directory; pass another --out")
    if resume and not (out / "config.json").is_file():
        raise UserError(f"cannot resume {out}: it is not a run directory (no config.json)")
    if not resume:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory {out}: {e.strerror}") from None
    with write_errors(out), RunLock(out):
        # Checked under the lock: another process may have filled the directory since we looked.
        contents = _contents(out)
        if contents and not resume:
            if not overwrite:
                raise UserError(f"run directory {out} already exists and is not empty; pass another --out, "
                                f"--resume {out} to continue it, or --overwrite to replace it")
            if not is_run_dir(out):
                raise UserError(f"refusing to --overwrite {out}: it is not a run directory (no {MARKER_NAME} "
                                f"written by compare); nothing was deleted")
            if foreign := foreign_files(out):
                raise UserError(f"refusing to --overwrite {out}: {foreign[0].relative_to(out)} was not written "
                                f"by compare ({len(foreign)} such file(s)); nothing was deleted: move them "
                                "away, or pass another --out")
            for p in contents:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        if not resume or not (out / MARKER_NAME).exists():
            write_marker(out, "run")
        yield out


class WriteFailed(UserError):
    """A disk that is full or not writable. Unlike other failures of one trial it stops a whole sweep or
    study (compare.experiments.executors): every later trial would only fail the same way."""

    def __init__(self, filename: object, strerror: str, then: str):
        self.filename, self.strerror, self._args = filename, strerror, (filename, strerror, then)
        super().__init__(f"cannot write {filename}: {strerror}; files written before are intact: "
                         f"make room or fix permissions, then {then}")

    def __reduce__(self):  # back from a worker process whole
        return WriteFailed, self._args


@contextlib.contextmanager
def write_errors(out: Path, then: str | None = None) -> Iterator[None]:
    """A disk that is full or not writable becomes one line; compare.io's atomic writes leave every
    earlier file whole, so the run can continue with --resume once there is room. `then` says how
    (default: resume the run `out`); a trial's WriteFailed inside is reworded with it."""
    try:
        yield
    except WriteFailed as e:
        if then is None:
            raise
        raise WriteFailed(e.filename, e.strerror, then) from None
    except OSError as e:
        if e.errno not in WRITE_ERRNOS:
            raise
        then = then or (f"continue with: compare run --resume {out}" if is_run_dir(out) else "run again")
        raise WriteFailed(e.filename or out, e.strerror, then) from None


@contextlib.contextmanager
def trials_session(out: Path, what: str, resume: str, unit: str = "trial") -> Iterator[StopSignals]:
    """The skeleton of every command that runs many runs into `out` (a sweep, a study, `run --seeds`): write errors
    as one line that says to `resume`, one writer at a time (the lock), and any signal stops the whole command, at
    once between runs, after its checkpoint during one; the Interrupted it raises names `out`, the run it stopped
    in and `resume`. An Interrupted the command raised for `out` itself passes through as it is."""
    stopped_here = f"every {unit} is done or checkpointed"
    with write_errors(out, f"continue with: {resume}"), RunLock(out), StopSignals() as stop:
        stop.stop_at_once(lambda signum: Interrupted(signum, out, f"between {unit}s: {stopped_here}", resume))
        try:
            yield stop
        except Interrupted as e:
            if e.out == Path(out):
                raise
            raise Interrupted(e.signum, out, f"during the {what}, in {e.out.name}: {stopped_here}", resume) from None
