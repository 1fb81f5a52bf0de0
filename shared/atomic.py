"""Atomic writes: each file goes to a temporary file beside it and is then renamed into place, so
a reader never sees half a file (results, reports, plots, downloads and caches all go through
here). A group of files appears together or not at all: every temporary is written first, and
only then are they renamed, so a full disk leaves the previous set, not half of a new one.

Temporary names are unique, so two runs writing into one directory never collide, and files get
the permissions any new file gets (0666 less the umask).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _stage(path: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``path``; the temporary is removed if that fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # the umask applies
            break
        except FileExistsError:
            continue
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def atomic_write_group(files: dict[Path, bytes]) -> list[Path]:
    """Write every file, or (on any error, re-raised) none of them; returns their paths."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            staged.append((_stage(Path(path), data), Path(path)))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
    return [path for _, path in staged]


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write_group({Path(path): data})[0]


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def unwritable_reason(directory: Path) -> str | None:
    """Why files cannot be created in ``directory`` (which need not exist yet), or None if they can.

    The nearest existing ancestor must be a directory in which a file can be created (tried with
    a temporary file that is removed at once), so nothing is created for a directory that is
    missing.
    """
    d = Path(directory).absolute()
    while not d.exists() and d != d.parent:
        d = d.parent
    if not d.is_dir():
        return f"{d} is not a directory"
    try:
        _stage(d / ".write-test", b"").unlink()
    except OSError as e:
        return f"{d} is not writable ({e.strerror})"
    return None
