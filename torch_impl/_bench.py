"""torch's part of `lessons bench`: the machine's matmul rate (the course's loop is _common.course_fit)."""
from __future__ import annotations

import time

import torch

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
