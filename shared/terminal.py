"""The terminal the output goes to: its width, and prose wrapped to it.

``width()`` is ``COLUMNS`` when set, else the width of the terminal on stdout, else None: output
to a pipe or a file, where tables keep their full width and prose its full lines (a file is read
in an editor or a pager, not at one fixed width).
"""
from __future__ import annotations

import os
import sys
import textwrap


def width(stream=None) -> int | None:
    """COLUMNS, else the size of the terminal on ``stream`` (stdout), else None (not a terminal)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stdout if stream is None else stream
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        pass
    return None


def wrap(text: str, columns: int | None = None, indent: str = "") -> str:
    """``text`` wrapped at ``columns`` (default: the terminal's; not at all without one), each
    paragraph on its own; continuation lines get ``indent``."""
    columns = width() if columns is None else columns
    if not columns:
        return text
    return "\n".join(textwrap.fill(line, columns, subsequent_indent=indent, break_on_hyphens=False) if line else ""
                     for line in text.split("\n"))
