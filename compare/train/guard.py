"""What keeps a run directory safe: one writer at a time, no silent overwrite, interrupts that save,
and write failures (full disk, no permission) reported as one line with the files already there intact.

Exit codes of `compare run` (the CLI documents them): 0 done; 2 bad input or unwritable output;
EXIT_DIVERGED (3) a model diverged, the others finished; 128 + signal number (130 for Ctrl-C, 143
for SIGTERM) interrupted, resumable.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Callable, Iterator

from compare.errors import UserError

EXIT_DIVERGED = 3
LOCK_NAME = ".lock"
# Errors of the disk rather than of the program: turned into one line naming the file.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EFBIG}


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped the run with every model at a checkpoint; `where` says where it stopped."""

    def __init__(self, signum: int, out: Path, where: str):
        self.exit_code = 128 + signum
        super().__init__(f"{signal.Signals(signum).name} {where}; continue with: compare run --resume {out}")


class StopSignals:
    """While active, SIGINT and SIGTERM only set `requested` (the signal number): the training loop
    reads it between steps and stops at a checkpoint (after training, see stop_at_once). A second signal acts as if this were not
    installed (Ctrl-C twice still quits at once; atomic writes keep every file whole)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

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


class RunLock:
    """An exclusive flock on `<run>/.lock`, which holds the owner's pid.

    The kernel releases a flock when its process ends, however it ends (SIGKILL included), so a
    lock file left behind by a dead process is stale by construction and is simply taken over.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise UserError(f"run directory {self.path.parent} is in use by process {holder}; "
                                f"wait for it to finish or stop it, then try again") from None
            # The previous holder may have unlinked the file between our open and flock: then this
            # lock guards nothing, and we lock the file now at the path instead.
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # unlink before unlocking, so no one locks a doomed file unseen
            os.close(self.fd)
            self.fd = None


def is_run_dir(path: Path) -> bool:
    return (Path(path) / "config.json").is_file()


def new_directory(out: Path) -> Path:
    """`out` created empty for a multi-run command (sweep, seeds); one with anything in it is refused."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"directory {out} already exists and is not empty; pass another --out or remove it")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create directory {out}: {e.strerror}") from None
    return out


@contextlib.contextmanager
def claimed_run_dir(out: Path, resume: bool = False, overwrite: bool = False) -> Iterator[Path]:
    """`out` locked for this process: new and empty, a run being resumed, or (with `overwrite`, which
    a resume ignores) a previous run emptied. Anything else already there is refused, never touched."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"run directory {out} exists and is not a directory; pass another --out")
    if resume and not is_run_dir(out):
        raise UserError(f"cannot resume {out}: it is not a run directory (no config.json)")
    if not resume:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory {out}: {e.strerror}") from None
    with write_errors(out), RunLock(out):
        # Checked under the lock: another process may have filled the directory since we looked.
        contents = [p for p in out.iterdir() if p.name != LOCK_NAME]
        if contents and not resume:
            if not overwrite:
                raise UserError(f"run directory {out} already exists and is not empty; pass another --out, "
                                f"--resume {out} to continue it, or --overwrite to replace it")
            if not is_run_dir(out):
                raise UserError(f"refusing to --overwrite {out}: it is not a run directory (no config.json)")
            for p in contents:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        yield out


@contextlib.contextmanager
def write_errors(out: Path) -> Iterator[None]:
    """A disk that is full or not writable becomes one line; compare.io's atomic writes leave every
    earlier file whole, so the run can continue with --resume once there is room."""
    try:
        yield
    except OSError as e:
        if e.errno not in WRITE_ERRNOS:
            raise
        then = f"continue with: compare run --resume {out}" if is_run_dir(out) else "run again"
        raise UserError(f"cannot write {e.filename or out}: {e.strerror}; files written before are intact: "
                        f"make room or fix permissions, then {then}") from None
