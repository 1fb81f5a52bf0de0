"""What the `lessons` command prints survives the terminal it prints to.

- A stream that cannot encode a character (``PYTHONIOENCODING=ascii``, a C locale) gets an ASCII
  stand-in for it (``Δ`` as ``d``, ``±`` as ``+/-``), or ``?``, instead of a crash.
- A closed pipe (``lessons compare ... | head -1``) ends the printing quietly; the command goes on
  and writes its files, as it would have.
"""
from __future__ import annotations

import codecs
import contextlib
import os
import sys

ERRORS = "lessons-ascii"
STAND_INS = {"Δ": "d", "±": "+/-", "·": "-", "→": "->", "←": "<-", "≤": "<=", "≥": ">=", "×": "x", "…": "...",
             "—": "--", "–": "-", "│": "|", "─": "-", "┼": "+", "↪": ">", "⚠": "!", "µ": "u", "≈": "~",
             "‘": "'", "’": "'", "“": '"', "”": '"'}


def _stand_in(error: UnicodeEncodeError):
    bad = error.object[error.start:error.end]
    return "".join(STAND_INS.get(c, "?") for c in bad), error.end


codecs.register_error(ERRORS, _stand_in)


class _Guarded:
    """A text stream whose writes fall back to ASCII stand-ins and stop quietly on a closed pipe."""

    def __init__(self, stream):
        self._stream, self.closed_pipe = stream, False

    def write(self, text: str) -> int:
        if self.closed_pipe:
            return len(text)
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:
                enc = getattr(self._stream, "encoding", None) or "ascii"
                return self._stream.write(text.encode(enc, ERRORS).decode(enc))
        except BrokenPipeError:
            self._closed()
            return len(text)

    def flush(self) -> None:
        if self.closed_pipe:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._closed()

    def _closed(self) -> None:
        """The reader went away: later output goes nowhere, also what Python flushes at exit."""
        self.closed_pipe = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (AttributeError, OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def guarded():
    """sys.stdout and sys.stderr guarded for the block (see the module docstring)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Guarded(sys.stdout), _Guarded(sys.stderr)
    try:
        yield
    finally:
        for s in (sys.stdout, sys.stderr):
            if isinstance(s, _Guarded):
                s.flush()
        sys.stdout, sys.stderr = saved
