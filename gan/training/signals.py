"""Ctrl-C and SIGTERM during training: finish the step, save, then stop."""

from __future__ import annotations

import signal
import sys
import threading


class StopSignals:
    """Turns the first Ctrl-C or SIGTERM into a request to stop after the current step,
    with a checkpoint. After it the signals' default action is back, so a second one
    ends the process at once, even inside a long TensorFlow call (Python handlers only
    run between steps); the atomic saves keep the previous checkpoint whole."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        self.received = signum
        for other in self.SIGNALS:
            signal.signal(other, signal.SIG_DFL)
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint after this step "
              "(press Ctrl-C again to quit at once)", file=sys.stderr)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
