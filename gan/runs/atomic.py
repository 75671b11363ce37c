"""Writing a file so that no reader, and no crash, ever leaves half of it in place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary name beside `path` to write to; it replaces `path` (atomically,
    by rename) only if the block completes, so no reader ever sees half a file."""
    partial = path.with_name(path.name + ".partial")
    yield partial
    partial.replace(path)
