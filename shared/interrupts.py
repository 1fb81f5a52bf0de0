"""Ctrl-C, SIGTERM and SIGHUP end the `lessons` command with one line, and nothing left behind.

SIGINT raises KeyboardInterrupt, as Python's own handler does; :func:`handled` makes SIGTERM and
SIGHUP raise :class:`Stopped` the same way, so every ``finally`` runs: worker processes are
stopped, temporary directories removed, and a group of files being written is put back
(shared/atomic.py). A second signal while that cleanup runs is ignored, and cleanup that must
finish holds signals until it has (:func:`deferred`). While the command's
modules are still being imported (the first second), :func:`quiet_while_importing` ends the
process at once with the same one line instead of a traceback: nothing has been written yet.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """The process was asked to stop by ``signum`` (SIGTERM or SIGHUP)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def message(e: KeyboardInterrupt) -> tuple[str, int]:
    """(the one line, the exit code) for an interrupt."""
    if isinstance(e, Stopped):
        return f"lessons: stopped by {e.name}", e.exit_code
    return "lessons: interrupted", 128 + signal.SIGINT


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def handled():
    """SIGTERM and SIGHUP raise Stopped in the block (the first; later ones are ignored while the
    cleanup runs); the previous handlers come back after it."""
    if not _in_main_thread():
        yield
        return

    def stop(signum, frame):
        for s in (*SIGNALS, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {s: signal.signal(s, stop) for s in SIGNALS}
    previous_int = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        signal.signal(signal.SIGINT, previous_int)


@contextlib.contextmanager
def deferred():
    """Cleanup that must finish (stopping workers, removing their directory): a signal that arrives
    in the block is held until the block ends."""
    if not _in_main_thread():
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, *SIGNALS})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _quit(signum, frame):
    line = "lessons: interrupted" if signum == signal.SIGINT else f"lessons: stopped by {signal.Signals(signum).name}"
    os.write(2, (line + "\n").encode())
    os._exit(128 + signum)


@contextlib.contextmanager
def quiet_while_importing():
    """A signal in the block ends the process at once with one line (the imports before the command
    runs: nothing to clean up); the previous handlers come back after it."""
    if not _in_main_thread():
        yield
        return
    previous = {s: signal.signal(s, _quit) for s in (signal.SIGINT, *SIGNALS)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
