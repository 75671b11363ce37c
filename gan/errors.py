"""The one exception type the command-line shells turn into a one-line message."""


class UserError(Exception):
    """Bad input from the user (flags, paths, data): reported as `error: ...`, exit 2."""
