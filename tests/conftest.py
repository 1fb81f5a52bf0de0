"""Shared fixtures: run configs and the device parametrisation (CPU always, GPU when both see one)."""
from __future__ import annotations

import functools

import pytest

from shared.config import RunConfig


@functools.cache
def gpu_reason() -> str | None:
    """None when torch and JAX both see a GPU, else why the GPU tests are skipped."""
    import jax
    import torch

    if not torch.cuda.is_available():
        return "no GPU visible to torch"
    try:
        jax.devices("gpu")
    except RuntimeError:
        return "no GPU visible to JAX"
    return None


DEVICES = [
    "cpu",
    pytest.param("gpu", marks=pytest.mark.gpu),  # the fixture skips it, with the reason, when absent
]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    reason = gpu_reason() if request.param == "gpu" else None
    if reason:
        pytest.skip(reason)
    return request.param


@pytest.fixture
def cfg(device) -> RunConfig:
    """Strict precision (TF32 off), no progress bars, on each available device."""
    return RunConfig(device=device, progress=False)
