"""One training at a time per run folder.

Two train.py processes on one folder (a second `--resume` while the first still trains)
would cut each other's log and interleave their checkpoints. The training holds an
exclusive lock on a file in the folder for as long as it runs; the operating system
drops it when the process ends, however it ends, so no stale lock outlives a crash.
Windows has no `flock`; there the folder is not locked.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from gan.errors import UserError

LOCK_FILE = ".training.lock"  # holds the training process's id, for the message


class TrainingLock:
    """The lock a training holds on its run folder, from `take` until `release`."""

    def __init__(self, handle):
        self._handle = handle

    @classmethod
    def take(cls, run_root: Path) -> "TrainingLock":
        """Lock `run_root`, or raise UserError naming the process that trains it now."""
        handle = open(run_root / LOCK_FILE, "a+")
        if fcntl is None:
            return cls(handle)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip()
            handle.close()
            raise UserError(
                f"{run_root} is being trained now by another process (pid {owner or '?'}); "
                "let it finish, or stop it with Ctrl-C (it saves a checkpoint), then resume"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return cls(handle)

    def release(self) -> None:
        self._handle.close()

    def __enter__(self) -> "TrainingLock":
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
