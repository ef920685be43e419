"""The one exception type for bad input: the CLI prints its message as one line and exits 2."""


class UserError(Exception):
    """Something the user gave (a name, a budget, a path) is wrong; the message says what to do."""
