"""softmax_regression: the five cost forms agree, MNIST is evaluated on the pixels it was trained on,
both frameworks reach the spec's accuracy, and they step alike from the same weights."""
import numpy as np
import pytest
from conftest import assert_target_in_both, cached, run_both

from jax_impl import softmax_regression as jx
from shared import parity, specs
from shared.data import load_images
from torch_impl import softmax_regression as tx

SPEC = specs.get("softmax_regression")
IMPLS = {"torch": tx, "jax": jx}
FORMS = [f.__name__ for f in tx.COST_FORMS]


@pytest.fixture
def records(cfg, memo):
    return run_both(memo, SPEC, IMPLS, cfg)


def trace_pair(cfg, memo, init="torch"):
    """Both frameworks' whole MNIST run from torch's initial weights, or ("own") each from its own."""
    return cached(memo, ("trace", cfg.device, cfg.dtype, init), lambda: {
        fw: impl.parity_trace(SPEC, cfg, IMPLS[fw if init == "own" else init].init_weights(SPEC, SPEC.seed),
                              SPEC.parity["steps"]) for fw, impl in IMPLS.items()})


def reference_cost(z: np.ndarray, y: np.ndarray) -> float:
    """-mean_i log softmax(z_i)[y_i] in float64 numpy."""
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    log_p = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def test_jax_twin_has_the_same_cost_forms():
    assert [f.__name__ for f in jx.COST_FORMS] == FORMS


def test_five_cost_forms_agree_within_and_across_frameworks():
    tol = SPEC.parity["forms_tol"]
    z, y = tx.cost_inputs(SPEC.hp("cost_forms"), SPEC.seed)
    np.testing.assert_array_equal(jx.cost_inputs(SPEC.hp("cost_forms"), SPEC.seed)[0], z)
    ref = reference_cost(z, y)
    values = {fw: impl.cost_forms(z, y) for fw, impl in IMPLS.items()}
    for fw, forms in values.items():
        assert list(forms) == FORMS
        for name, v in forms.items():
            assert abs(v - forms["cost_cross_entropy"]) <= tol, (fw, name, v)
            assert abs(v - ref) <= tol, (fw, name, v, ref)
    for name in FORMS:
        assert abs(values["torch"][name] - values["jax"][name]) <= SPEC.targets["cost_forms"].framework_tol, name


def test_cost_forms_record_in_both_frameworks(records):
    target = SPEC.targets["cost_forms"]
    costs = {fw: recs["cost_forms"].metrics[target.metric] for fw, recs in records.items()}
    assert abs(costs["torch"] - costs["jax"]) <= target.framework_tol, costs
    assert all(recs["cost_forms"].metrics["form_spread"] <= SPEC.parity["forms_tol"] for recs in records.values())


def test_mnist_reaches_target_in_both_frameworks(records):
    assert_target_in_both(SPEC, records, "mnist")


def test_test_set_is_evaluated_on_0_1_pixels_like_training(cfg, records, memo):
    """The reported test metrics are the final model's on x_test / 255, the course's bug's on raw x_test.

    Each framework's run is replayed from its own initial weights (parity_trace), which gives the
    same model as the run; its weights are then evaluated here in numpy.
    """
    split = load_images("mnist", cfg.data)
    raw = split.x_test.reshape(len(split.y_test), -1).astype(np.float64)
    for fw, trace in trace_pair(cfg, memo, init="own").items():
        metrics = records[fw]["mnist"].metrics
        assert trace["test_accuracy"] == metrics["test_accuracy"], fw  # the replay is the run
        w, b = trace["weights"]["weight"].astype(np.float64), trace["weights"]["bias"].astype(np.float64)
        for x, suffix in ((raw / 255.0, ""), (raw, "_raw_pixels")):
            logits = x @ w.T + b
            accuracy = np.mean(logits.argmax(axis=1) == split.y_test)
            assert abs(metrics[f"test_accuracy{suffix}"] - accuracy) <= 0.5 / len(raw), (fw, suffix, accuracy)
            np.testing.assert_allclose(metrics[f"test_loss{suffix}"], reference_cost(logits, split.y_test),
                                       rtol=SPEC.parity["loss_rel"], err_msg=f"{fw} test_loss{suffix}")


def test_losses_match_from_torch_weights(cfg, memo):
    p = SPEC.parity
    t, j = (trace_pair(cfg, memo)[fw]["losses"] for fw in ("torch", "jax"))
    assert t.shape == j.shape and len(t) >= p["first_steps"]
    np.testing.assert_allclose(j[:p["first_steps"]], t[:p["first_steps"]], rtol=p["loss_rel"], atol=0)
    np.testing.assert_allclose(j[-1], t[-1], rtol=p["final_rel"], atol=0)


def test_float64_losses_match_at_every_step(cfg, memo):
    """`lessons parity softmax_regression --dtype float64`: the whole run within parity.FLOAT64_BOUND per step."""
    pair = trace_pair(cfg.replace(dtype="float64"), memo)
    t, j = pair["torch"]["losses"], pair["jax"]["losses"]
    assert t.dtype == j.dtype == np.float64
    rel = parity.rel_diff(t, j)
    assert rel.max() <= parity.FLOAT64_BOUND, (int(rel.argmax()) + 1, float(rel.max()))
