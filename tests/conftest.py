"""Shared fixtures and helpers: run configs, the device parametrisation (CPU always, GPU when both
frameworks see one), and each lesson's runs and parity traces, computed once per test module."""
from __future__ import annotations

import functools

import pytest

from shared import runner
from shared.config import FRAMEWORKS, RunConfig


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


def run_both(memo: dict, spec, cfg: RunConfig) -> dict:
    """{framework: {variant: Record}}: the lesson's run in each framework, once per config."""
    return cached(memo, ("run", cfg), lambda: {fw: {r.variant: r for r in runner.run(spec, fw, cfg)}
                                               for fw in FRAMEWORKS})


def assert_target_in_both(spec, records: dict, variant: str) -> None:
    """Both frameworks meet the variant's target on the records' data source, and differ by at most
    its framework tolerance."""
    (data,) = {recs[variant].data for recs in records.values()}
    target = spec.target(variant, data)
    values = {fw: recs[variant].metrics[target.metric] for fw, recs in records.items()}
    assert all(target.check(v) for v in values.values()), values
    assert abs(values["torch"] - values["jax"]) <= target.framework_tol, values


def trace_both(memo: dict, spec, cfg: RunConfig, variant: str, steps="spec", hazard: str | None = None) -> dict:
    """{framework: parity trace} from torch's initial weights, once per (config, variant, steps).

    ``steps`` "spec": the spec's parity steps; None: the whole run. ``hazard``: the JAX trace
    runs with that fix removed.
    """
    steps = spec.parity["steps"] if steps == "spec" else steps

    def compute():
        weights = runner.initial_weights(spec, variant, cfg)
        return {"torch": runner.trace(spec, "torch", cfg, weights, steps, variant),
                "jax": runner.trace(spec, "jax", cfg, weights, steps, variant, hazard=hazard)}

    return cached(memo, ("trace", cfg, variant, steps, hazard), compute)
