"""The one exception type for bad input (the CLI prints its message as one line and exits 2), and the
"did you mean" hint every unknown-name message shares."""

from __future__ import annotations

import difflib
from typing import Iterable


class UserError(Exception):
    """Something the user gave (a name, a budget, a path) is wrong; the message says what to do."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """" (did you mean 'vae'?)" for the closest registered name, compared case-insensitively (`GAN`, `vea`);
    "" when nothing is close. Appended to an unknown-name message, so the valid names still follow it."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def out_of_memory(e: BaseException) -> bool:
    """Python's MemoryError, torch's CUDA OutOfMemoryError, or the RuntimeError torch's CPU allocator raises."""
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or "can't allocate memory" in str(e)
