"""Atomic writes: each file goes to a temporary file beside it and is then renamed into place, so
a reader never sees half a file (results, reports, plots, downloads and caches all go through
here). A group of files appears together or not at all: every temporary is written first, and
only then are they renamed, so a full disk leaves the previous set, not half of a new one; a
rename that fails (a directory in the way) puts back the files the group had already replaced.

Temporary names are unique, so two runs writing into one directory never collide, and files get
the permissions any new file gets (0666 less the umask).
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
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


def _backup(path: Path) -> Path | None:
    """A second name for the file at ``path`` (a hard link), so a replaced file can be put back;
    None when there is nothing there. A directory in the way is an error before anything moves."""
    if not os.path.lexists(path):
        return None
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    while True:
        spare = path.with_name(f".{path.name}.{secrets.token_hex(4)}.old")
        try:
            os.link(path, spare, follow_symlinks=False)
            return spare
        except FileExistsError:
            continue
        except OSError:               # a file system without hard links: a copy
            shutil.copy2(path, spare, follow_symlinks=False)
            return spare


def atomic_write_group(files: dict[Path, bytes]) -> list[Path]:
    """Write every file, or (on any error or interrupt, re-raised) none of them; returns their paths.

    Every new file is staged first; then each is renamed into place after its old version (if any)
    got a second name. If a rename fails, the files already replaced get their old versions back,
    the new ones are removed, and no temporary is left behind.
    """
    staged: list[tuple[Path, Path]] = []
    done: list[tuple[Path, Path | None]] = []   # (path, its old version's second name, or None: it was new)
    spares: list[Path] = []
    try:
        for path, data in files.items():
            staged.append((_stage(Path(path), data), Path(path)))
        for tmp, path in staged:
            spare = _backup(path)
            if spare is not None:
                spares.append(spare)
            os.replace(tmp, path)
            done.append((path, spare))
    except BaseException:
        for path, spare in reversed(done):   # put back what was there
            try:
                if spare is None:
                    path.unlink(missing_ok=True)
                else:
                    os.replace(spare, path)
            except OSError:
                pass
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        for spare in spares:
            spare.unlink(missing_ok=True)
        raise
    for spare in spares:
        spare.unlink(missing_ok=True)
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
