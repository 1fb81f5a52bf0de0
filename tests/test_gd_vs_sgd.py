"""gd_vs_sgd: both variants reach the spec's accuracy in both frameworks, and step alike from the same weights."""
import numpy as np
import pytest
from conftest import assert_target_in_both, run_both, trace_both

from shared.data import DataSource
from shared import parity, runner, specs
from shared.config import RunConfig
from torch_impl import gd_vs_sgd as tx

SPEC = specs.get("gd_vs_sgd")


@pytest.fixture
def records(cfg, memo):
    return run_both(memo, SPEC, cfg)


@pytest.mark.parametrize("variant", SPEC.variants)
def test_spec_seed_reaches_target_in_both_frameworks(records, variant):
    assert_target_in_both(SPEC, records, variant)


def test_sgd_takes_several_steps_per_pass_gd_one(records):
    for fw, recs in records.items():
        gd, sgd = recs["gd"], recs["sgd"]
        assert gd.steps == SPEC.hp("gd")["epochs"], fw
        n = gd.samples // gd.steps
        batch_size = runner.settings(SPEC, "sgd", sgd.data)["batch_size"]
        assert 1 < batch_size < n, fw
        assert sgd.steps == SPEC.hp("sgd")["epochs"] * -(-n // batch_size), fw


def test_sgd_batches_are_the_courses_unshuffled_dataloader_order():
    """The course's DataLoader(ds, batch_size=2048) does not shuffle, and its data are zeros then ones."""
    hp = runner.settings(SPEC, "sgd", "embedded")
    assert hp["shuffle"] is False
    y = tx.load_data(hp, DataSource())[1][:, 0]
    assert len(y) == 800 and (np.diff(y) >= 0).all() and y[0] == 0 and y[-1] == 1
    plan = runner.plan_for(hp, 800, SPEC.seed)
    np.testing.assert_array_equal(np.concatenate(plan.epoch(0)), np.arange(800))
    np.testing.assert_array_equal(np.concatenate(plan.epoch(3)), np.arange(800))


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_losses_match_from_torch_weights(cfg, memo, variant):
    p = SPEC.parity
    t, j = (trace_both(memo, SPEC, cfg, variant)[fw]["losses"] for fw in ("torch", "jax"))
    assert t.shape == j.shape and len(t) >= p["first_steps"]
    np.testing.assert_allclose(j[:p["first_steps"]], t[:p["first_steps"]], rtol=p["loss_rel"], atol=0)
    np.testing.assert_allclose(j[-1], t[-1], rtol=p["final_rel"], atol=0)


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_float64_losses_match_at_every_step(cfg, memo, variant):
    """`lessons parity gd_vs_sgd --dtype float64`: the whole run within parity.FLOAT64_BOUND per step."""
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
        f, c = fast[fw]["sgd"], course[fw]["sgd"]
        np.testing.assert_allclose(c.history["loss"], f.history["loss"], rtol=1e-5)
        assert abs(c.metrics["test_accuracy"] - f.metrics["test_accuracy"]) <= 1e-3
