"""What every top-level script shares: one-line errors and their exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from gan.errors import RunStopped, UserError


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one `error:` line (and exit 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")


def run(main: Callable[[], int | None]) -> int:
    """Call `main` and return its exit code (None: 0); turn the failures a user can cause
    into one line and an exit code.

    UserError (bad flags, paths, data): exit 2. OSError (disk full, permissions): exit 1.
    RunStopped: its own message and code. A Ctrl-C that reaches here: exit 130 without a
    traceback. Output is line-buffered so that progress lines reach a log file (nohup,
    CI) as they are printed.
    """
    sys.stdout.reconfigure(line_buffering=True)
    try:
        code = main()
    except RunStopped as stop:
        print(stop, file=sys.stderr)
        return stop.exit_code
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return code or 0


def check_suffix(path: Path, suffix: str) -> None:
    """Refuse an -o name that does not end in `suffix`: the file would hold another
    format than its name says (a PNG named grid.jpg), or the writer would fail late."""
    if path.suffix.lower() != suffix:
        raise UserError(f"-o {path}: this writes {suffix} files; give a name that ends in {suffix}")


def output_file(path: Path, suffix: str) -> Path:
    """`path`, checked by `check_suffix`, with its folder created: `-o new/folder/out.png`
    should just work."""
    check_suffix(path, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
