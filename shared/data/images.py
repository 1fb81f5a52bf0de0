"""Image data sets as one type: ImageSplit, and load_images() that every image lesson calls."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.data.embedded import load_embedded, stratified_split
from shared.data.idx import load_idx, warn_missing_local_dir
from shared.data.source import DataSource
from shared.errors import DataError

DATASETS = ("mnist", "fashion_mnist")
# MNIST's training rows for the class selections the lessons use (the shapes benchmarks need)
MNIST_TRAIN_ROWS = {(0, 1): 12_665, (0, 1, 2): 18_623}


@dataclass(frozen=True)
class ImageSplit:
    x_train: np.ndarray   # uint8 (n, 28, 28)
    y_train: np.ndarray   # int64 (n,)
    x_test: np.ndarray    # uint8 (m, 28, 28)
    y_test: np.ndarray    # int64 (m,)

    def select(self, classes) -> "ImageSplit":
        """Only the images whose label is in ``classes`` (order kept); labels unchanged."""
        keep, keep_t = np.isin(self.y_train, classes), np.isin(self.y_test, classes)
        return ImageSplit(self.x_train[keep], self.y_train[keep], self.x_test[keep_t], self.y_test[keep_t])

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x_train float32 (n, 784) in [0, 1], y_train, x_test (m, 784), y_test): ToTensor's scaling, flattened."""
        scale = lambda x: x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)
        return scale(self.x_train), self.y_train, scale(self.x_test), self.y_test


def load_images(dataset: str, source: DataSource, *, classes=None) -> ImageSplit:
    """MNIST or Fashion-MNIST as an ImageSplit, optionally only some ``classes``.

    source.kind "embedded": MNIST's 5,000 embedded digits, split 4,000 / 1,000, on every machine.
    Fashion-MNIST has no embedded copy: asking for it is a DataError that says to pass --data full.
    "full": the 60,000 / 10,000 IDX files (local directory, cache, then download).
    "fullsize" (benchmarks): MNIST's full shapes without a download. Full MNIST when it is
    local or cached; otherwise Fashion-MNIST's images as a stand-in, cut to MNIST's row count for
    ``classes`` (12,665 for 0/1, 18,623 for 0/1/2) with labels taken mod the class count.
    """
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if source.kind == "embedded":
        if dataset != "mnist":
            raise DataError(f"{dataset} has no embedded copy; pass --data full (a local directory, the cache "
                            "or a download)")
        x, y = load_embedded()
        train, test = stratified_split(y)
        split = ImageSplit(x[train], y[train], x[test], y[test])
        return split if classes is None else split.select(classes)
    if source.local:
        warn_missing_local_dir()
    if source.kind == "fullsize":
        return _fullsize(dataset, source, classes)
    split = ImageSplit(*load_idx(dataset, source))
    return split if classes is None else split.select(classes)


def _fullsize(dataset: str, source: DataSource, classes) -> ImageSplit:
    try:
        split = ImageSplit(*load_idx(dataset, source))
        return split if classes is None else split.select(classes)
    except DataError:
        if dataset != "mnist":
            raise
    stand_in = ImageSplit(*load_idx("fashion_mnist", source))
    k = 10 if classes is None else len(classes)
    if classes is not None and tuple(classes) != tuple(range(k)):
        raise DataError(f"fullsize data needs classes 0..k-1, got {tuple(classes)}")
    rows = MNIST_TRAIN_ROWS.get(tuple(classes), 60_000) if classes is not None else 60_000
    return ImageSplit(stand_in.x_train[:rows], stand_in.y_train[:rows] % k, stand_in.x_test, stand_in.y_test % k)
