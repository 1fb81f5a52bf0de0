"""multiclass: MNIST 0/1/2 reaches the spec's accuracy in both frameworks, and steps alike from the same weights."""
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from conftest import assert_target_in_both, run_both, trace_both

from jax_impl import multiclass as jx
from shared import parity, specs
from shared.config import RunConfig
from torch_impl import multiclass as tx

SPEC = specs.get("multiclass")


@pytest.fixture
def records(cfg, memo):
    return run_both(memo, SPEC, cfg)


@pytest.mark.parametrize("variant", SPEC.variants)
def test_spec_seed_reaches_target_in_both_frameworks(records, variant):
    assert_target_in_both(SPEC, records, variant)


def test_loss_is_torchs_cross_entropy():
    """The JAX loss_fn is nn.CrossEntropyLoss: the same value on the same logits and integer labels."""
    rng = np.random.default_rng(SPEC.seed)
    classes = len(SPEC.hp("mlp")["classes"])
    logits, labels = rng.normal(size=(64, classes)).astype(np.float32) * 5, rng.integers(0, classes, 64)
    t = float(tx.loss_fn(lambda x: x, torch.as_tensor(logits), torch.as_tensor(labels)))
    j = float(jx.loss_fn(lambda x: x, jnp.asarray(logits), jnp.asarray(labels)))
    np.testing.assert_allclose(j, t, rtol=SPEC.parity["loss_rel"])


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_losses_match_from_torch_weights(cfg, memo, variant):
    p = SPEC.parity
    t, j = (trace_both(memo, SPEC, cfg, variant)[fw]["losses"] for fw in ("torch", "jax"))
    assert t.shape == j.shape and len(t) >= p["first_steps"]
    np.testing.assert_allclose(j[:p["first_steps"]], t[:p["first_steps"]], rtol=p["loss_rel"], atol=0)
    np.testing.assert_allclose(j[-1], t[-1], rtol=p["final_rel"], atol=0)


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_float64_losses_match_at_every_step(cfg, memo, variant):
    """`lessons parity multiclass --dtype float64`: the whole run within parity.FLOAT64_BOUND per step."""
    pair = trace_both(memo, SPEC, cfg.replace(dtype="float64"), variant)
    t, j = pair["torch"]["losses"], pair["jax"]["losses"]
    assert t.dtype == j.dtype == np.float64
    rel = parity.rel_diff(t, j)
    assert rel.max() <= parity.FLOAT64_BOUND, (int(rel.argmax()) + 1, float(rel.max()))


def test_course_loop_gives_the_fast_paths_numbers(memo):
    """`--loop course` (the lesson's own train(): DataLoader / an nnx.jit step per batch) trains on the
    same batches as the fast path, so each framework's losses and accuracy agree across the two forms."""
    cfg = RunConfig(progress=False, epochs=5)
    fast, course = run_both(memo, SPEC, cfg), run_both(memo, SPEC, cfg.replace(loop="course"))
    for fw in ("torch", "jax"):
        f, c = fast[fw]["mlp"], course[fw]["mlp"]
        np.testing.assert_allclose(c.history["loss"], f.history["loss"], rtol=1e-5)
        assert abs(c.metrics["test_accuracy"] - f.metrics["test_accuracy"]) <= 1e-3
