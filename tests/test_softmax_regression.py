"""softmax_regression: the five cost forms agree, and MNIST is evaluated on the pixels it was trained
on (targets and parity: test_every_lesson.py)."""
import numpy as np
import pytest
import torch

from jax_impl import softmax_regression as jx
from shared import specs
from shared.data import load_images
from shared.harness import runner
from torch_impl import softmax_regression as tx

SPEC = specs.get("softmax_regression")
IMPLS = {"torch": tx, "jax": jx}
FORMS = [f.__name__ for f in tx.COST_FORMS]


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
    tol = SPEC.parity.extras["forms_tol"]
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


def test_cost_forms_record_their_spread_in_both_frameworks(runs, cfg):
    records = runs.both(SPEC, cfg)
    assert all(recs["cost_forms"].metrics["form_spread"] <= SPEC.parity.extras["forms_tol"]
               for recs in records.values())


def test_test_set_is_evaluated_on_0_1_pixels_like_training(runs, cfg):
    """The reported test metrics are the final model's on x_test / 255, the course's bug's on raw x_test.

    Each framework's run is replayed from its own initial weights (runner.trace), which gives the
    same model as the run; its weights are then evaluated here in numpy.
    """
    split = load_images("mnist", cfg.source())
    raw = split.x_test.reshape(len(split.y_test), -1).astype(np.float64)
    for fw in IMPLS:
        trace = runs.cached(("own", SPEC.name, cfg, fw), lambda: runner.trace(SPEC, fw, cfg, None, None, "mnist"))
        metrics = runs.both(SPEC, cfg)[fw]["mnist"].metrics
        assert trace["metrics"]["test_accuracy"] == metrics["test_accuracy"], fw  # the replay is the run
        w, b = trace["weights"]["weight"].astype(np.float64), trace["weights"]["bias"].astype(np.float64)
        for x, suffix in ((raw / 255.0, ""), (raw, "_raw_pixels")):
            logits = x @ w.T + b
            accuracy = np.mean(logits.argmax(axis=1) == split.y_test)
            assert abs(metrics[f"test_accuracy{suffix}"] - accuracy) <= 0.5 / len(raw), (fw, suffix, accuracy)
            np.testing.assert_allclose(metrics[f"test_loss{suffix}"], reference_cost(logits, split.y_test),
                                       rtol=SPEC.parity.loss_rel, err_msg=f"{fw} test_loss{suffix}")
