"""The one exception type for bad input: the CLI prints its message as one line and exits 2."""


class UserError(Exception):
    """Something the user gave (a name, a budget, a path) is wrong; the message says what to do."""


def out_of_memory(e: BaseException) -> bool:
    """Python's MemoryError, torch's CUDA OutOfMemoryError, or the RuntimeError torch's CPU allocator raises: the CLI's one line, not a traceback."""
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or "can't allocate memory" in str(e)
