"""MNIST and Fashion-MNIST as the original IDX files: found locally, or downloaded, verified, cached.

Where a file comes from, in order (a DataSource says which of these are allowed):
1. a local directory holding the four files (Debian's ``dataset-fashion-mnist`` installs them in
   /usr/share/datasets/fashion-mnist; ``TJL_LOCAL_DATA`` adds a directory of your own), unless
   ``source.local`` is off (--no-local-data);
2. the cache (``TJL_DATA_DIR``, default ``$XDG_CACHE_HOME/torch-jax-lessons`` or ~/.cache/...);
3. a download, only for ``--data full``: ``--mirror`` / ``TJL_MIRROR`` first, then the built-in
   mirror list.

A file is used only when its checksum matches the published one, or when its decompressed
payload's checksum does (so a recompressed copy with the same content is accepted, as Debian's
is). Anything else is never used: a bad cache entry is deleted (and fetched again when downloads
are on), a bad download moves on to the next mirror (a wrong checksum, an HTTP error, a response
that ends early, an answer that is not HTTP, a stall past the timeout), and when nothing is left a
one-line DataError names the fix that works. A cache that cannot be written is a one-line
DataError before any download. Downloads reach the cache atomically (temporary file, then rename).
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import http.client
import os
import stat
import sys
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.atomic import atomic_write_bytes, unwritable_reason
from shared.data.source import DataSource
from shared.errors import DataError
from shared.progress import bar

_MAGIC = {3: 0x00000803, 1: 0x00000801}   # unsigned byte data, 3 or 1 dimensions


@dataclass(frozen=True)
class IdxFile:
    name: str                      # e.g. "train-images-idx3-ubyte.gz"
    md5: str                       # of the published .gz
    payload_sha256: str | None     # of the decompressed IDX bytes; None where not known
    shape: tuple[int, ...]         # (60000, 28, 28) or (60000,)


@dataclass(frozen=True)
class IdxSet:
    name: str
    files: tuple[IdxFile, IdxFile, IdxFile, IdxFile]   # train images, train labels, test images, test labels
    mirrors: tuple[str, ...]
    local_dirs: tuple[str, ...] = ()


def _files(md5s, sha256s, n_train=60000, n_test=10000):
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    shapes = ((n_train, 28, 28), (n_train,), (n_test, 28, 28), (n_test,))
    return tuple(IdxFile(*f) for f in zip(names, md5s, sha256s, shapes))


SETS = {
    "mnist": IdxSet(
        "mnist",
        # The payload checksums of MNIST are not published with it; only the original .gz files
        # are accepted, so a recompressed MNIST copy is refused (with a message), never trusted.
        _files(("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
               (None, None, None, None)),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/",
         "http://yann.lecun.com/exdb/mnist/"),
        ("/usr/share/datasets/mnist",),
    ),
    "fashion_mnist": IdxSet(
        "fashion_mnist",
        _files(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
               ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")),
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
         "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"),
        ("/usr/share/datasets/fashion-mnist",),
    ),
}


def cache_dir() -> Path:
    """Where downloads and parsed arrays are kept: TJL_DATA_DIR, else the user cache dir."""
    if os.environ.get("TJL_DATA_DIR"):
        return Path(os.environ["TJL_DATA_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "torch-jax-lessons"


def parse_idx(payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """Decompressed IDX bytes -> uint8 array of ``shape``; ValueError if the header or size is wrong."""
    ndim = len(shape)
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise ValueError("shorter than its header")
    magic = int.from_bytes(payload[:4], "big")
    dims = tuple(int.from_bytes(payload[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if magic != _MAGIC[ndim] or dims != tuple(shape):
        raise ValueError(f"header says magic {magic:#x} dims {dims}, expected {_MAGIC[ndim]:#x} {shape}")
    if len(payload) != header + int(np.prod(shape)):
        raise ValueError(f"{len(payload) - header} data bytes, expected {int(np.prod(shape))}")
    return np.frombuffer(payload, np.uint8, offset=header).reshape(shape)


def verified_payload(blob: bytes, f: IdxFile) -> bytes:
    """The IDX payload of ``blob`` (a .gz or a plain IDX file) if it is the published data.

    Accepted: the published .gz (md5), or any file whose decompressed payload has the published
    sha256. Raises ValueError saying what is wrong otherwise.
    """
    original = hashlib.md5(blob).hexdigest() == f.md5
    try:
        payload = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"not a readable gzip file ({e})") from None
    if not original:
        if f.payload_sha256 is None:
            raise ValueError("checksum mismatch (and no payload checksum is known to accept a recompressed copy)")
        if hashlib.sha256(payload).hexdigest() != f.payload_sha256:
            raise ValueError("checksum mismatch (neither the file nor its payload is the published data)")
    parse_idx(payload, f.shape)
    return payload


def _download(url: str, timeout: float, progress: bool) -> bytes:
    """The body at ``url``, with a progress bar in bytes unless ``progress`` is off."""
    chunks = []
    with urllib.request.urlopen(url, timeout=timeout) as r, \
            bar(int(r.headers.get("Content-Length") or 0) or None, url.rsplit("/", 1)[-1], unit="B",
                enabled=progress) as pbar:
        while chunk := r.read(1 << 16):
            chunks.append(chunk)
            pbar.update(len(chunk))
    return b"".join(chunks)


def _why(e: Exception) -> str:
    """What went wrong with one mirror, in a few words."""
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    if isinstance(e, http.client.IncompleteRead):
        return f"the response ended early ({len(e.partial)} bytes read)"
    if isinstance(e, http.client.HTTPException):
        return f"not an HTTP answer ({type(e).__name__})"
    if isinstance(e, TimeoutError):
        return "timed out"
    return str(e)


def _mirrors(s: IdxSet, mirror: str | None) -> list[str]:
    first = [m for m in (mirror, os.environ.get("TJL_MIRROR")) if m]
    return [m if m.endswith("/") else m + "/" for m in first] + list(s.mirrors)


def _local_dirs(s: IdxSet) -> list[Path]:
    extra = os.environ.get("TJL_LOCAL_DATA")
    return [Path(d) for d in ([extra] if extra else []) + list(s.local_dirs)]


def warn_missing_local_dir() -> None:
    """One line on stderr when TJL_LOCAL_DATA names no directory (it is then ignored)."""
    extra = os.environ.get("TJL_LOCAL_DATA")
    if extra and not Path(extra).is_dir():
        print(f"warning: TJL_LOCAL_DATA={extra} is not a directory; ignored", file=sys.stderr)


def _cache_unusable(why: str) -> DataError:
    return DataError(f"the data cache is unusable ({why}); set TJL_DATA_DIR to a writable directory with free space")


def _cache_problem(path: Path) -> str | None:
    """Why no cache file can be written at ``path``, or None."""
    if path.is_dir():
        return f"{path} is a directory, where a cache file goes"
    return unwritable_reason(path.parent)


def _check_cache_writable(path: Path) -> None:
    """DataError unless a cache file can be written at ``path`` (checked before a download)."""
    why = _cache_problem(path)
    if why:
        raise _cache_unusable(why)


def read_cached(path: Path) -> bytes:
    """The bytes of the cache file at ``path``; ValueError for something else in its place that is
    not a directory (a FIFO or a device, where reading could wait forever): a bad entry."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)   # a FIFO opens at once, without a writer
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise ValueError("not a regular file")
        return f.read()


def write_cache(path: Path, data: bytes) -> None:
    """Write a cache file atomically; DataError, with nothing left behind, if that fails."""
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise _cache_unusable(_cache_problem(path) or f"{path}: {e.strerror or e}") from None


def _from_cache(cached: Path, f: IdxFile, source: DataSource, problems: list[str]) -> bytes | None:
    """The verified payload of the cache entry, or None; a bad entry is deleted."""
    try:
        return verified_payload(read_cached(cached), f)
    except FileNotFoundError:           # not cached, or deleted by another process meanwhile
        return None
    except OSError as e:                # a directory in its place, TJL_DATA_DIR a file, no permission
        raise _cache_unusable(_cache_problem(cached) or f"{cached}: {e.strerror or e}") from None
    except ValueError as e:             # corrupt, or a FIFO or a device in its place
        why = e
    try:
        cached.unlink(missing_ok=True)  # another process that met the same bad entry may be first
    except OSError as e:
        raise _cache_unusable(f"cannot delete the bad {cached}: {e.strerror or e}") from None
    if source.downloads:
        print(f"{cached}: {why}; deleted, fetching again", file=sys.stderr)
    else:
        problems.append(f"the cached copy was bad ({why}) and is deleted")
    return None


def fetch_payload(s: IdxSet, f: IdxFile, source: DataSource, *, timeout: float = 30.0) -> bytes:
    """One verified IDX payload, from a local dir, the cache or a mirror (in that order).

    Only ``source.kind == "full"`` downloads; ``source.local`` off skips the local directories.
    """
    problems = []
    for d in _local_dirs(s) if source.local else ():
        for path in (d / f.name, d / f.name.removesuffix(".gz")):
            if path.is_file():
                try:
                    return verified_payload(path.read_bytes(), f)
                except (OSError, ValueError) as e:  # not ours to delete: skip it, say so if all else fails
                    problems.append(f"{path}: {e}")
    if not source.local:
        problems.append("local directories are off")
    cached = cache_dir() / s.name / f.name
    payload = _from_cache(cached, f, source, problems)
    if payload is not None:
        return payload
    if source.downloads:
        _check_cache_writable(cached)
        for base in _mirrors(s, source.mirror):
            try:
                blob = _download(base + f.name, timeout, source.progress)
                payload = verified_payload(blob, f)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
                problems.append(f"{base}: {_why(e)}")
                continue
            write_cache(cached, blob)
            return payload
    else:
        problems.append(f"not cached, and --data {source.kind} does not download")
    fixes = []
    if source.local:
        debian = "apt-get install dataset-fashion-mnist, " if s.name == "fashion_mnist" else ""
        fixes.append(f"{debian}put the four IDX files in a directory named by TJL_LOCAL_DATA")
    fixes.append("pass --mirror URL (or set TJL_MIRROR)" if source.downloads
                 else "run the lesson once with --data full, which downloads it into the cache")
    raise DataError(f"{s.name}: no valid {f.name} ({'; '.join(problems)}); {', or '.join(fixes)}")


def load_idx(name: str, source: DataSource, *, sets: dict[str, IdxSet] | None = None, timeout: float = 30.0):
    """(x_train uint8 (N, 28, 28), y_train int64 (N,), x_test, y_test) of an IDX dataset."""
    s = (sets or SETS)[name]
    arrays = [parse_idx(fetch_payload(s, f, source, timeout=timeout), f.shape) for f in s.files]
    x, y, xt, yt = arrays
    return x, y.astype(np.int64), xt, yt.astype(np.int64)
