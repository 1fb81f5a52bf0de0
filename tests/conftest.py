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


@pytest.fixture(scope="module")
def memo() -> dict:
    """A per-module cache: a test module runs its lesson once per device (or per key)."""
    return {}


def cached(memo: dict, key, compute):
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def run_both(memo: dict, spec, impls: dict, cfg: RunConfig) -> dict:
    """{framework: {variant: Record}}: the lesson's run in each framework, once per device."""
    return cached(memo, ("run", cfg.device),
                  lambda: {fw: {r.variant: r for r in impl.run(spec, cfg)} for fw, impl in impls.items()})


def assert_target_in_both(spec, records: dict, variant: str) -> None:
    """Both frameworks meet the variant's target, and differ by at most its framework tolerance."""
    target = spec.targets[variant]
    values = {fw: recs[variant].metrics[target.metric] for fw, recs in records.items()}
    assert all(target.check(v) for v in values.values()), values
    assert abs(values["torch"] - values["jax"]) <= target.framework_tol, values


def trace_both(memo: dict, spec, impls: dict, cfg: RunConfig, variant: str) -> dict:
    """{framework: parity trace} from torch's initial weights, once per (device, dtype, variant)."""
    weights = lambda: impls["torch"].init_weights(spec, spec.seed, variant=variant)
    return cached(memo, ("trace", cfg.device, cfg.dtype, variant), lambda: {
        fw: impl.parity_trace(spec, cfg, weights(), spec.parity["steps"], variant=variant) for fw, impl in impls.items()})
