"""The one exception type for bad input (the CLI prints its message as one line and exits 2), the
"did you mean" hint every unknown-name message shares, and the one place that turns any expected failure
into that line and its exit code (compare.cli)."""

from __future__ import annotations

import difflib
from typing import Iterable

import click

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader closed the pipe (`| head`)
OUT_OF_MEMORY = ("Error: out of memory for these networks and batches; lower --width, --batch-size or --eval-samples "
                 "(or use a machine with more memory)")


class UserError(Exception):
    """Something the user gave (a name, a budget, a path) is wrong; the message says what to do."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """" (did you mean 'vae'?)" for the closest registered name, compared case-insensitively (`GAN`, `vea`);
    "" when nothing is close. Appended to an unknown-name message, so the valid names still follow it."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


class ReaderGone(Exception):
    """stdout's reader closed the pipe (`compare datasets | head -c 5`). Not an OSError, so click's own
    handler of a broken pipe (a silent exit 1) lets it through to the CLI's."""


def out_of_memory(e: BaseException) -> bool:
    """Python's MemoryError, torch's CUDA OutOfMemoryError, or the RuntimeError torch's CPU allocator raises."""
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or "can't allocate memory" in str(e)


def one_line(e: BaseException) -> tuple[str | None, int] | None:
    """(the line for stderr, or None for silence; the exit code) of an expected failure; None for a bug,
    whose traceback is worth more than a line."""
    if isinstance(e, UserError):
        return f"Error: {e}", 2
    if isinstance(e, click.ClickException):  # a malformed flag, as click words it
        return f"Error: {e.format_message()}", e.exit_code
    if isinstance(e, click.Abort):
        return "Aborted.", 130
    if isinstance(e, ReaderGone):  # it wants no more: no message, the code of a tool stopped by SIGPIPE
        return None, EXIT_BROKEN_PIPE
    # an exclusive write (compare.io) found a file that appeared meanwhile
    if isinstance(e, FileExistsError) and e.filename:
        return (f"Error: {e.filename} appeared while the command ran and was left as it is; pass another path or "
                "move it away", 2)
    # a path the user gave that cannot be read or written (a run's own writes say more: compare.rundir)
    if isinstance(e, OSError):
        return (f"Error: {e.strerror or e}: {e.filename}; check the path and its permissions" if e.filename
                else f"Error: {e}"), 2
    if isinstance(e, (MemoryError, RuntimeError)) and out_of_memory(e):
        return OUT_OF_MEMORY, 2
    return None
