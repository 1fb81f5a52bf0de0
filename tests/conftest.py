"""The device parametrisation (CPU always, GPU when both frameworks see one) and the run configs.
Fixtures of tests/support/ load as plugins: the lessons' shared runs, the broken mirrors, and the
processes the interrupt and launcher tests start."""
from __future__ import annotations

import functools

import pytest

from shared.harness.config import LOOP_FAST, RunConfig

pytest_plugins = ("support.runs", "support.mirrors", "support.procs")


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
def gpu() -> str:
    """A test that runs only on a GPU: skipped, with the reason, where torch or JAX sees none."""
    reason = gpu_reason()
    if reason:
        pytest.skip(reason)
    return "gpu"


@pytest.fixture
def no_gpu() -> str:
    """A test of what happens without a GPU: skipped where torch and JAX both see one; why there is none."""
    reason = gpu_reason()
    if reason is None:
        pytest.skip("a GPU is visible here")
    return reason


@pytest.fixture
def cfg(device) -> RunConfig:
    """Strict precision (TF32 off), no progress bars, the fast path (the lessons' own loops: the battery's
    train-loop test), on each available device."""
    return RunConfig(device=device, progress=False, loop=LOOP_FAST)
