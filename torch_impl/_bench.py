"""torch's part of `lessons bench`: the machine's matmul rate, and the course's own loop as written."""
from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from torch_impl import _common


def matmul_rate(device: torch.device, n: int = 2048, seconds: float = 1.0) -> float:
    """float32 FLOP/s of a large square matmul under the current precision settings."""
    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    a @ b
    _common.sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
        _common.sync(device)
    return 2 * n ** 3 * count / (time.perf_counter() - start)


def course_fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn, x, y, *,
               batch_size: int, shuffle: bool, drop_last: bool, epochs: int, device: torch.device) -> float:
    """The course's training loop as written; returns its wall time in seconds.

    ``TensorDataset`` + ``DataLoader`` (per-sample indexing, then collation into a batch), each
    batch moved to the device, and ``loss.item()`` every step (a device sync, as the course
    prints or accumulates it).
    """
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
    _common.sync(device)
    return time.perf_counter() - start
