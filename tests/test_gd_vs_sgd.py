"""gd_vs_sgd: both variants reach the spec's accuracy in both frameworks, and step alike from the same weights."""
import numpy as np
import pytest
from conftest import assert_target_in_both, run_both, trace_both

from jax_impl import gd_vs_sgd as jx
from shared import parity, specs
from torch_impl import gd_vs_sgd as tx

SPEC = specs.get("gd_vs_sgd")
IMPLS = {"torch": tx, "jax": jx}


@pytest.fixture
def records(cfg, memo):
    return run_both(memo, SPEC, IMPLS, cfg)


@pytest.mark.parametrize("variant", SPEC.variants)
def test_spec_seed_reaches_target_in_both_frameworks(records, variant):
    assert_target_in_both(SPEC, records, variant)


def test_sgd_takes_several_steps_per_pass_gd_one(records):
    for fw, recs in records.items():
        gd, sgd = recs["gd"], recs["sgd"]
        assert gd.steps == SPEC.hp("gd")["epochs"], fw
        n = gd.samples // gd.steps
        assert sgd.steps == SPEC.hp("sgd")["epochs"] * -(-n // SPEC.hp("sgd")["batch_size"][sgd.data]), fw


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_losses_match_from_torch_weights(cfg, memo, variant):
    p = SPEC.parity
    t, j = (trace_both(memo, SPEC, IMPLS, cfg, variant)[fw]["losses"] for fw in ("torch", "jax"))
    assert t.shape == j.shape and len(t) >= p["first_steps"]
    np.testing.assert_allclose(j[:p["first_steps"]], t[:p["first_steps"]], rtol=p["loss_rel"], atol=0)
    np.testing.assert_allclose(j[-1], t[-1], rtol=p["final_rel"], atol=0)


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_float64_losses_match_at_every_step(cfg, memo, variant):
    """`lessons parity gd_vs_sgd --dtype float64`: the whole run within parity.FLOAT64_BOUND per step."""
    pair = trace_both(memo, SPEC, IMPLS, cfg.replace(dtype="float64"), variant)
    t, j = pair["torch"]["losses"], pair["jax"]["losses"]
    assert t.dtype == j.dtype == np.float64
    rel = parity.rel_diff(t, j)
    assert rel.max() <= parity.FLOAT64_BOUND, (int(rel.argmax()) + 1, float(rel.max()))
