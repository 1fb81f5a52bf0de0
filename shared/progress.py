"""Progress on stderr: a bar (tqdm) for anything that takes more than a few seconds, and a status
line that says what is running now."""
from __future__ import annotations

import sys
import warnings

from shared import terminal

with warnings.catch_warnings():
    # In a Jupyter kernel without ipywidgets, tqdm.auto falls back to text bars and says so with a
    # TqdmWarning on import; the text bars are what we want there, so the warning is noise.
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm


def bar(total: int, desc: str, *, enabled: bool = True, unit: str = "step"):
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False,
                mininterval=0.5, file=sys.stderr, dynamic_ncols=True)


class Status:
    """One line on stderr, rewritten in place, that says what is running; cleared before results are
    printed. Only on a terminal: in a log it would be noise between the results."""

    def __init__(self, enabled: bool = True, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.on = enabled and getattr(self.stream, "isatty", lambda: False)()

    def show(self, text: str) -> None:
        if self.on:
            columns = terminal.width(self.stream) or 80
            self.stream.write("\r\x1b[K" + text[:columns - 1])
            self.stream.flush()

    def clear(self) -> None:
        if self.on:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
