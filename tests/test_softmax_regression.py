"""softmax_regression: the five cost forms agree, MNIST is evaluated on the pixels it was trained on,
both frameworks reach the spec's accuracy, and they step alike from the same weights."""
import numpy as np
import pytest
import torch
from conftest import assert_target_in_both, cached, run_both, trace_both

from jax_impl import softmax_regression as jx
from shared import parity, runner, specs
from shared.config import RunConfig
from shared.data import load_images
from torch_impl import softmax_regression as tx

SPEC = specs.get("softmax_regression")
IMPLS = {"torch": tx, "jax": jx}
FORMS = [f.__name__ for f in tx.COST_FORMS]


@pytest.fixture
def records(cfg, memo):
    return run_both(memo, SPEC, cfg)


def reference_cost(z: np.ndarray, y: np.ndarray) -> float:
    """-mean_i log softmax(z_i)[y_i] in float64 numpy."""
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    log_p = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def test_jax_twin_has_the_same_cost_forms():
    assert [f.__name__ for f in jx.COST_FORMS] == FORMS


def test_cost_inputs_are_the_courses():
    """The spec's logits and labels are what the course's torch.manual_seed(1) draws (labels [0, 2, 1])."""
    hp = SPEC.hp("cost_forms")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        z = torch.rand(3, 5, requires_grad=True)
        y = torch.randint(5, (3,)).long()
    np.testing.assert_array_equal(np.asarray(hp["logits"], np.float32), z.detach().numpy())
    assert tuple(y.tolist()) == hp["labels"] == (0, 2, 1)


def test_five_cost_forms_agree_within_and_across_frameworks():
    tol = SPEC.parity["forms_tol"]
    hp = SPEC.hp("cost_forms")
    ref = reference_cost(np.asarray(hp["logits"], np.float32), np.asarray(hp["labels"]))
    values = {fw: impl.cost_forms(hp, "embedded", SPEC.seed) for fw, impl in IMPLS.items()}
    for fw, metrics in values.items():
        forms = {k: v for k, v in metrics.items() if k in FORMS}
        assert list(forms) == FORMS
        for name, v in forms.items():
            assert abs(v - metrics["cost"]) <= tol, (fw, name, v)
            assert abs(v - ref) <= tol, (fw, name, v, ref)
    for name in FORMS:
        assert abs(values["torch"][name] - values["jax"][name]) <= SPEC.targets["cost_forms"].framework_tol, name


@pytest.mark.parametrize("fw", IMPLS)
def test_cost_forms_agree_on_wide_logits(fw):
    """Away from the course's [0, 1) logits too: N(0, 8^2) logits, where softmax probabilities go far below 1e-10."""
    import jax.numpy as jnp

    rng = np.random.default_rng(SPEC.seed)
    z, y = (rng.normal(size=(64, 10)) * 8).astype(np.float32), rng.integers(0, 10, 64)
    as_array = {"torch": torch.as_tensor, "jax": jnp.asarray}[fw]
    ref = reference_cost(z, y)
    for form in IMPLS[fw].COST_FORMS:
        np.testing.assert_allclose(float(form(as_array(z), as_array(y))), ref, rtol=1e-5, err_msg=form.__name__)


def test_cost_forms_record_in_both_frameworks(records):
    target = SPEC.targets["cost_forms"]
    costs = {fw: recs["cost_forms"].metrics[target.metric] for fw, recs in records.items()}
    assert abs(costs["torch"] - costs["jax"]) <= target.framework_tol, costs
    assert all(recs["cost_forms"].metrics["form_spread"] <= SPEC.parity["forms_tol"] for recs in records.values())


def test_mnist_reaches_target_in_both_frameworks(records):
    assert_target_in_both(SPEC, records, "mnist")


def test_test_set_is_evaluated_on_0_1_pixels_like_training(cfg, records, memo):
    """The reported test metrics are the final model's on x_test / 255, the course's bug's on raw x_test.

    Each framework's run is replayed from its own initial weights (runner.trace), which gives the
    same model as the run; its weights are then evaluated here in numpy.
    """
    split = load_images("mnist", cfg.source())
    raw = split.x_test.reshape(len(split.y_test), -1).astype(np.float64)
    for fw in IMPLS:
        trace = cached(memo, ("own", cfg, fw), lambda: runner.trace(SPEC, fw, cfg, None, None, "mnist"))
        metrics = records[fw]["mnist"].metrics
        assert trace["metrics"]["test_accuracy"] == metrics["test_accuracy"], fw  # the replay is the run
        w, b = trace["weights"]["weight"].astype(np.float64), trace["weights"]["bias"].astype(np.float64)
        for x, suffix in ((raw / 255.0, ""), (raw, "_raw_pixels")):
            logits = x @ w.T + b
            accuracy = np.mean(logits.argmax(axis=1) == split.y_test)
            assert abs(metrics[f"test_accuracy{suffix}"] - accuracy) <= 0.5 / len(raw), (fw, suffix, accuracy)
            np.testing.assert_allclose(metrics[f"test_loss{suffix}"], reference_cost(logits, split.y_test),
                                       rtol=SPEC.parity["loss_rel"], err_msg=f"{fw} test_loss{suffix}")


def test_losses_match_from_torch_weights(cfg, memo):
    p = SPEC.parity
    t, j = (trace_both(memo, SPEC, cfg, "mnist")[fw]["losses"] for fw in ("torch", "jax"))
    assert t.shape == j.shape and len(t) >= p["first_steps"]
    np.testing.assert_allclose(j[:p["first_steps"]], t[:p["first_steps"]], rtol=p["loss_rel"], atol=0)
    np.testing.assert_allclose(j[-1], t[-1], rtol=p["final_rel"], atol=0)


def test_float64_losses_match_at_every_step(cfg, memo):
    """`lessons parity softmax_regression --dtype float64`: the whole run within parity.FLOAT64_BOUND per step."""
    pair = trace_both(memo, SPEC, cfg.replace(dtype="float64"), "mnist")
    t, j = pair["torch"]["losses"], pair["jax"]["losses"]
    assert t.dtype == j.dtype == np.float64
    rel = parity.rel_diff(t, j)
    assert rel.max() <= parity.FLOAT64_BOUND, (int(rel.argmax()) + 1, float(rel.max()))


def test_course_loop_gives_the_fast_paths_numbers(memo):
    """`--loop course` (the lesson's own train(): DataLoader / an nnx.jit step per batch) trains on the
    same batches as the fast path, so each framework's losses and accuracy agree across the two forms."""
    cfg = RunConfig(progress=False, epochs=2)
    fast, course = run_both(memo, SPEC, cfg), run_both(memo, SPEC, cfg.replace(loop="course"))
    for fw in ("torch", "jax"):
        f, c = fast[fw]["mnist"], course[fw]["mnist"]
        np.testing.assert_allclose(c.history["loss"], f.history["loss"], rtol=1e-5)
        assert abs(c.metrics["test_accuracy"] - f.metrics["test_accuracy"]) <= 1e-3
