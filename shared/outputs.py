"""An output directory (``--out``): the tool replaces or deletes only the files it wrote there.

Every file the tool writes into ``--out`` is listed, with its SHA-256, in ``--out``'s manifest
(``.lessons-written.json``). A later run may replace a file only if the manifest lists it and the
file is still what was written (or already holds the new bytes); it deletes only such files. Any
other file in the way (the user's own, or one edited since) stops the run with one line naming it
and ``--force``, which replaces it (never a directory, never a deletion). Nothing is written
through a symbolic link that leads out of ``--out``. A group of files is written all or none
(shared/atomic.py), the manifest with it, under a lock on the directory, so two runs writing into
one directory do not lose each other's entries.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
from pathlib import Path

from shared.atomic import atomic_write_group, unwritable_reason
from shared.errors import LessonError

MANIFEST = ".lessons-written.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _regular_bytes(path: Path) -> bytes | None:
    """The bytes of the regular file at ``path`` (not through a link); None for anything else (a
    FIFO there is not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read() if stat.S_ISREG(os.fstat(fd).st_mode) else None


def _file_sha256(path: Path) -> str | None:
    data = _regular_bytes(path)
    return None if data is None else _sha256(data)


class OutputDir:
    """``root`` as the tool's output directory; ``force``: replace files it did not write."""

    def __init__(self, root: Path, force: bool = False, option: str = "--out"):
        self.root, self.force, self.option = Path(root), force, option

    # -- checks, before anything runs ---------------------------------------------------------

    def check(self, paths=()) -> None:
        """One line (LessonError) if files cannot be written into the directory, or if one of
        ``paths`` (files a run will write) is in the way; nothing is created."""
        why = unwritable_reason(self.root)
        if why:
            raise LessonError(f"{self.option} {self.root}: {why}; name a directory you can write to")
        self._check_targets({Path(p): None for p in paths}, self._manifest())

    def _inside(self, path: Path) -> Path:
        """``path`` relative to the root; LessonError if it is not below it, or if a directory on the
        way is a link that leads out of the root, or a file."""
        try:
            rel = Path(path).relative_to(self.root)
        except ValueError:
            raise LessonError(f"{path} is outside {self.option} {self.root}") from None
        real_root = self.root.resolve()
        d = self.root
        for part in rel.parts[:-1]:
            d = d / part
            if d.is_symlink() and not d.resolve().is_relative_to(real_root):
                raise LessonError(f"{d} is a link to {os.readlink(d)}, outside {self.option} {self.root}; "
                                  f"nothing is written through it: remove the link or pass another {self.option}")
            if os.path.lexists(d) and not d.is_dir():
                raise LessonError(f"{d} is a file where a directory goes; move it away or pass another "
                                  f"{self.option}")
        return rel

    def _check_targets(self, files: dict[Path, bytes | None], manifest: dict[str, str]) -> None:
        """Every file may be (re)written: absent, or listed and unchanged, or already holding the new
        bytes; with --force, anything but a directory. Else one line naming the first in the way."""
        blocked = []
        for path, data in files.items():
            rel = self._inside(path).as_posix()
            if not os.path.lexists(path):
                continue
            if path.is_dir() and not path.is_symlink():
                raise LessonError(f"{path} is a directory, where a file is written; move it away or pass "
                                  f"another {self.option}")
            have = None if path.is_symlink() else _file_sha256(path)
            if have is not None and (manifest.get(rel) == have or (data is not None and have == _sha256(data))):
                continue
            blocked.append(path)
        if blocked and not self.force:
            more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
            raise LessonError(f"{blocked[0]}{more} was not written by lessons, or was changed since; move it "
                              "away, or pass --force to replace it")

    # -- writing -------------------------------------------------------------------------------

    def _manifest(self) -> dict[str, str]:
        data = _regular_bytes(self.root / MANIFEST)
        try:
            files = json.loads(data).get("files", {}) if data is not None else {}
        except (ValueError, AttributeError):
            return {}   # none yet (or unreadable): every existing file counts as the user's
        return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)} \
            if isinstance(files, dict) else {}

    def _manifest_bytes(self, files: dict[str, str]) -> bytes:
        return (json.dumps({"written_by": "lessons (torch-jax-lessons)", "files": dict(sorted(files.items()))},
                           indent=1) + "\n").encode()

    @contextlib.contextmanager
    def _failing_in_one_line(self):
        """An OSError while writing (each group is all or none) becomes one line naming its cause."""
        try:
            yield
        except OSError as e:
            fix = {errno.ENOSPC: "free some space or pass another", errno.EDQUOT: "free some space or pass another",
                   errno.EISDIR: "move that directory away or pass another"}.get(e.errno, "pass another")
            where = f"write {e.filename}" if e.filename else f"write into {self.root}"
            raise LessonError(f"cannot {where}: {e.strerror or e}; {fix} {self.option} "
                              "(nothing was half-written)") from None

    @contextlib.contextmanager
    def _locked(self):
        """The directory locked against other runs writing into it (flock on the directory)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def write(self, files: dict[Path, bytes]) -> list[Path]:
        """Write every file (and the manifest), or none; returns their paths."""
        files = {Path(p): data for p, data in files.items()}
        if not files:
            return []
        with self._failing_in_one_line(), self._locked():
            manifest = self._manifest()
            self._check_targets(files, manifest)
            for path, data in files.items():
                manifest[self._inside(path).as_posix()] = _sha256(data)
            for path in files:
                path.parent.mkdir(parents=True, exist_ok=True)
            written = atomic_write_group({**files, self.root / MANIFEST: self._manifest_bytes(manifest)})
        return written[:-1]

    def write_text(self, path: Path, text: str) -> Path:
        return self.write({Path(path): text.encode()})[0]

    def remove_stale(self, folder: Path, keep) -> list[Path]:
        """Delete the files under ``folder`` that this tool wrote, that are unchanged since and that
        are not in ``keep``; a file the user changed is left (and is the user's from now on)."""
        keep = {Path(p) for p in keep}
        where = self._inside(Path(folder) / "-").parent   # checks the way to the folder, too
        prefix = "" if where == Path(".") else where.as_posix() + "/"
        removed, changed = [], False
        with self._failing_in_one_line(), self._locked():
            manifest = self._manifest()
            for rel in [r for r in manifest if r.startswith(prefix)]:
                path = self.root / rel
                if path in keep:
                    continue
                self._inside(path)
                if not path.is_symlink() and _file_sha256(path) == manifest[rel]:
                    try:
                        path.unlink()
                    except FileNotFoundError:
                        pass
                    removed.append(path)
                del manifest[rel]
                changed = True
            if changed:
                atomic_write_group({self.root / MANIFEST: self._manifest_bytes(manifest)})
        return removed
