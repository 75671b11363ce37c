"""One training at a time per run folder.

Two train.py processes on one folder (a second `--resume` while the first still trains)
would cut each other's log and interleave their checkpoints. The training holds an
exclusive lock on a file in the folder for as long as it runs; the operating system
drops it when the process ends, however it ends, so no stale lock outlives a crash.
POSIX systems lock the whole file with `flock`. Windows locks byte ranges, and a locked
byte cannot be read by another process, so there the lock covers one byte past the
process id the file holds, which the refused process can still read for its message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

from gan.errors import UserError

LOCK_FILE = ".training.lock"  # holds the training process's id, for the message
WINDOWS_LOCKED_BYTE = 4096  # past any process id; Windows may lock bytes beyond the end


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False if another process holds it."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    os.lseek(fd, WINDOWS_LOCKED_BYTE, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    """Windows asks for byte locks to be undone before the file closes; flock needs nothing."""
    if fcntl is None:
        os.lseek(fd, WINDOWS_LOCKED_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


class TrainingLock:
    """The lock a training holds on its run folder, from `take` until `release`."""

    def __init__(self, handle: TextIO):
        self._handle = handle

    @classmethod
    def take(cls, run_root: Path) -> "TrainingLock":
        """Lock `run_root`, or raise UserError naming the process that trains it now."""
        handle = open(run_root / LOCK_FILE, "a+")
        if not _try_lock(handle.fileno()):
            handle.seek(0)
            owner = handle.read().strip()
            handle.close()
            raise UserError(
                f"{run_root} is being trained now by another process (pid {owner or '?'}); "
                "let it finish, or stop it with Ctrl-C (it saves a checkpoint), then resume"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return cls(handle)

    def release(self) -> None:
        _unlock(self._handle.fileno())
        self._handle.close()

    def __enter__(self) -> "TrainingLock":
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
