"""An export's folder appears whole or not at all.

Everything is written into a hidden temporary folder beside the target and renamed into
place only after every file is written and has passed its parity check; any failure,
Ctrl-C included, removes the temporary folder (only a SIGKILL can leave one behind,
hidden as .NAME.partial-*). A rename within one parent folder is
atomic, so a reader (or a later export) never finds half a model at the target.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from gan.runs.folder import check_new_folder


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; on success it becomes `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()  # unlike tempfile.mkdtemp's 0700, the user's umask decides who may read the export
    try:
        yield staging
        check_new_folder(target, "-o")  # still new: nothing else wrote there meanwhile
        if target.is_dir():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
