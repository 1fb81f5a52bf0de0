"""multiclass: MNIST 0/1/2 reaches the spec's accuracy in both frameworks, and steps alike from the same weights."""
import numpy as np
import pytest
from conftest import assert_target_in_both, run_both, trace_both

from jax_impl import multiclass as jx
from shared import parity, specs
from torch_impl import multiclass as tx

SPEC = specs.get("multiclass")
IMPLS = {"torch": tx, "jax": jx}


@pytest.fixture
def records(cfg, memo):
    return run_both(memo, SPEC, IMPLS, cfg)


@pytest.mark.parametrize("variant", SPEC.variants)
def test_spec_seed_reaches_target_in_both_frameworks(records, variant):
    assert_target_in_both(SPEC, records, variant)


def test_cross_entropy_is_torchs():
    """The JAX loss is nn.CrossEntropyLoss: the same value on the same logits and integer labels."""
    rng = np.random.default_rng(SPEC.seed)
    classes = len(SPEC.hp("mlp")["classes"])
    logits, labels = rng.normal(size=(64, classes)).astype(np.float32) * 5, rng.integers(0, classes, 64)
    t = float(tx.nn.CrossEntropyLoss()(tx.torch.as_tensor(logits), tx.torch.as_tensor(labels)))
    j = float(jx.cross_entropy(jx.jnp.asarray(logits), jx.jnp.asarray(labels)))
    np.testing.assert_allclose(j, t, rtol=SPEC.parity["loss_rel"])


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_losses_match_from_torch_weights(cfg, memo, variant):
    p = SPEC.parity
    t, j = (trace_both(memo, SPEC, IMPLS, cfg, variant)[fw]["losses"] for fw in ("torch", "jax"))
    assert t.shape == j.shape and len(t) >= p["first_steps"]
    np.testing.assert_allclose(j[:p["first_steps"]], t[:p["first_steps"]], rtol=p["loss_rel"], atol=0)
    np.testing.assert_allclose(j[-1], t[-1], rtol=p["final_rel"], atol=0)


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_float64_losses_match_at_every_step(cfg, memo, variant):
    """`lessons parity multiclass --dtype float64`: the whole run within parity.FLOAT64_BOUND per step."""
    pair = trace_both(memo, SPEC, IMPLS, cfg.replace(dtype="float64"), variant)
    t, j = pair["torch"]["losses"], pair["jax"]["losses"]
    assert t.dtype == j.dtype == np.float64
    rel = parity.rel_diff(t, j)
    assert rel.max() <= parity.FLOAT64_BOUND, (int(rel.argmax()) + 1, float(rel.max()))
