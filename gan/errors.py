"""The exceptions the command-line shells turn into a message and an exit code."""


class UserError(Exception):
    """Bad input from the user (flags, paths, data): reported as `error: ...`, exit 2."""


class RunStopped(Exception):
    """Training ended early on purpose (a signal, a non-finite loss, a failed save), with
    its state on disk consistent; the message says what happened and how to go on."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
