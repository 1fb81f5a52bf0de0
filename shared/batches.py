"""The batch plan: which sample indices form each batch, for both frameworks.

It follows ``torch.utils.data.DataLoader`` semantics: batches of ``batch_size`` in order (or in a
per-epoch permutation when ``shuffle``), and the last partial batch is kept unless ``drop_last``.
The permutation comes from numpy, seeded by ``(seed, epoch)``, so torch and JAX consume the very
same batches (torch through a sampler over these indices, JAX by indexing device arrays).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def epoch_order(n: int, *, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    """The sample order of one epoch: ``arange(n)`` or a permutation seeded by (seed, epoch)."""
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)


def num_batches(n: int, batch_size: int, *, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def batch_plan(n: int, batch_size: int, *, shuffle: bool, drop_last: bool, seed: int, epoch: int) -> list[np.ndarray]:
    """Index arrays of one epoch's batches, like iterating a DataLoader once."""
    if n < 0 or batch_size < 1:
        raise ValueError(f"need n >= 0 and batch_size >= 1, got n={n}, batch_size={batch_size}")
    order = epoch_order(n, shuffle=shuffle, seed=seed, epoch=epoch)
    count = num_batches(n, batch_size, drop_last=drop_last)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(count)]


def full_batches(n: int, batch_size: int, *, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    """The epoch's full batches as one (num_full_batches, batch_size) array: what a compiled
    ``lax.scan`` over an epoch consumes. With drop_last=True this is the whole epoch; otherwise
    pair it with :func:`batch_plan` for the last partial batch."""
    order = epoch_order(n, shuffle=shuffle, seed=seed, epoch=epoch)
    k = n // batch_size
    return order[:k * batch_size].reshape(k, batch_size)


def epoch_means(step_losses: np.ndarray, n: int, batch_size: int, *, drop_last: bool) -> np.ndarray:
    """Each epoch's loss over the samples it saw, from the per-step batch-mean losses.

    A batch's loss is its mean, so the epoch's is the batch-size-weighted mean (a smaller last
    batch counts less). ``step_losses`` is (epochs * batches per epoch,); returns (epochs,).
    """
    sizes = np.full(n // batch_size, batch_size)
    if not drop_last and n % batch_size:
        sizes = np.append(sizes, n % batch_size)
    per_epoch = np.asarray(step_losses, np.float64).reshape(-1, len(sizes))
    return per_epoch @ sizes / sizes.sum()


def epochs_for(steps: int | None, n: int, batch_size: int, *, drop_last: bool) -> int | None:
    """The whole epochs that cover ``steps`` optimizer steps (a parity trace's length); None stays None."""
    return None if steps is None else -(-steps // num_batches(n, batch_size, drop_last=drop_last))


@dataclass(frozen=True)
class BatchPlan:
    """Every epoch's batches for one training run: ``DataLoader(dataset, batch_size, shuffle,
    drop_last)`` with the shuffle drawn from ``(seed, epoch)``. ``batch_size=None`` is the whole set.

    ``plan.epoch(e)`` is a list of index arrays, which a torch DataLoader takes as its
    ``batch_sampler``; JAX indexes its arrays with them.
    """

    n: int
    batch_size: int | None = None
    shuffle: bool = False
    drop_last: bool = False
    seed: int = 0

    @property
    def size(self) -> int:
        return self.n if self.batch_size is None else self.batch_size

    @property
    def per_epoch(self) -> int:
        return num_batches(self.n, self.size, drop_last=self.drop_last)

    @property
    def whole(self) -> bool:
        """Full-batch gradient descent: every step sees the whole set, in order (no gather needed)."""
        return not self.shuffle and self.size >= self.n

    def order(self, epoch: int) -> np.ndarray:
        return epoch_order(self.n, shuffle=self.shuffle, seed=self.seed, epoch=epoch)

    def epoch(self, epoch: int) -> list[np.ndarray]:
        return batch_plan(self.n, self.size, shuffle=self.shuffle, drop_last=self.drop_last, seed=self.seed,
                          epoch=epoch)

    def by_shape(self, epoch: int) -> list[np.ndarray]:
        """The epoch's batches as index matrices of one batch size each: (k, size) for the full
        batches, then (1, rest) for a last, smaller one (drop_last off). What a compiled scan over
        the epoch takes: one program per shape."""
        batches = self.epoch(epoch)
        full = [b for b in batches if len(b) == self.size]
        rest = [b for b in batches if len(b) != self.size]
        return [np.stack(group) for group in (full, rest) if group]

    def epochs_for(self, steps: int) -> int:
        """The whole epochs that cover ``steps`` steps."""
        return -(-steps // self.per_epoch)
