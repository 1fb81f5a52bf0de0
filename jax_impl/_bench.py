"""JAX's part of `lessons bench`: the machine's matmul rate as XLA sees it."""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp


def matmul_rate(device: jax.Device, n: int = 2048, seconds: float = 1.0) -> float:
    """float32 FLOP/s of a large square matmul under the current precision settings."""
    keys = jax.random.split(jax.random.key(0), 2)
    a, b = (jax.device_put(jax.random.normal(k, (n, n), jnp.float32), device) for k in keys)
    matmul = jax.jit(jnp.matmul)
    matmul(a, b).block_until_ready()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        matmul(a, b).block_until_ready()
        count += 1
    return 2 * n ** 3 * count / (time.perf_counter() - start)
