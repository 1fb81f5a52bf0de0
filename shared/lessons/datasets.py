"""datasets, framework-neutral: the toy batches' checksum, and the images the exercises read.

Both twins (torch_impl/datasets.py, jax_impl/datasets.py) and the spec use these, so the checksum
and the items spread over a split are defined once.
"""
from __future__ import annotations

import numpy as np

from shared.batches import batch_plan
from shared.data import ImageSplit, toy_data

TOY_CASES = ((False, False), (False, True), (True, False), (True, True))  # (shuffle, drop_last)


def batch_checksum(batches) -> float:
    """sum over batches b and slots i of (1000 b + i + 1) * (x + 100 y): moves if any item changes
    batch or slot, so equal checksums mean equal batches (for the toy set's small integers)."""
    return float(sum((1000 * b + i + 1) * (float(x) + 100 * float(y))
                     for b, (xb, yb) in enumerate(batches) for i, (x, y) in enumerate(zip(xb, yb))))


def plan_checksum(batch_size: int, seed: int) -> float:
    """The checksum of shared.batches' own plan over the toy set, summed over TOY_CASES: the target."""
    x, y = toy_data()
    return sum(batch_checksum([(x[idx], y[idx]) for idx in batch_plan(len(x), batch_size, shuffle=s, drop_last=d,
                                                                        seed=seed, epoch=0)])
               for s, d in TOY_CASES)


def spread(split: ImageSplit, items: int) -> ImageSplit:
    """``items`` images of each part, evenly spaced through it: every class shows up (the embedded
    digits are sorted by class, so the first 64 would all be zeros)."""
    pick = lambda n: np.linspace(0, n - 1, items).astype(np.int64)
    train, test = pick(len(split.x_train)), pick(len(split.x_test))
    return ImageSplit(split.x_train[train], split.y_train[train], split.x_test[test], split.y_test[test])
