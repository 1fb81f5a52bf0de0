"""dropout: the train-mode mask invariants, eval mode as the identity, and accuracy in both frameworks."""
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jax_impl import _common as jc
from jax_impl import dropout as jd
from shared import specs
from shared.config import RunConfig
from torch_impl import _common as tc
from torch_impl import dropout as td

SPEC = specs.get("dropout")
HP = SPEC.hp("dropout")
ROWS = 256  # Dropout(ones((ROWS, hidden))): ROWS * hidden mask draws


def dropout_layer(fw: str, seed: int):
    """The lesson model's Dropout layer and a function applying it to a numpy array."""
    if fw == "torch":
        model = td.build_model(HP)
        return model, lambda x: model.dropout(torch.as_tensor(x)).numpy()
    model = jd.build_model(HP, seed)
    return model, lambda x: np.asarray(model.dropout(jnp.asarray(x)))


def mask_outputs(fw: str, seed: int) -> np.ndarray:
    with tc.seeded(seed):  # torch's masks come from its global generator
        model, apply = dropout_layer(fw, seed)
        model.train()
        return apply(np.ones((ROWS, HP["hidden"]), np.float32))


@pytest.mark.parametrize("fw", ["torch", "jax"])
def test_train_mode_outputs_are_zero_or_scaled_and_keep_the_mean(fw):
    p, out = HP["p"], mask_outputs(fw, SPEC.seed)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)
    # Each output is Bernoulli(1-p)/(1-p): mean 1, variance p/(1-p). The mean of N of them has
    # standard deviation sqrt(p / ((1-p) N)); the spec says how many of those to allow.
    sd = np.sqrt(p / ((1 - p) * out.size))
    assert abs(out.mean() - 1) <= SPEC.parity["mask_sigmas"] * sd, (out.mean(), sd)
    assert abs((~kept).mean() - p) <= SPEC.parity["mask_sigmas"] * np.sqrt(p * (1 - p) / out.size)


@pytest.mark.parametrize("fw", ["torch", "jax"])
def test_masks_advance_and_follow_the_seed(fw):
    """A second call draws a new mask (the JAX stream advances in the model's state); a seed repeats it."""
    with tc.seeded(SPEC.seed):
        model, apply = dropout_layer(fw, SPEC.seed)
        model.train()
        x = np.ones((ROWS, HP["hidden"]), np.float32)
        first, second = apply(x), apply(x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(mask_outputs(fw, SPEC.seed), first)
    assert not np.array_equal(mask_outputs(fw, SPEC.seed + 1), first)


@pytest.mark.parametrize("fw", ["torch", "jax"])
def test_eval_mode_is_the_identity(fw):
    with tc.seeded(SPEC.seed):
        model, apply = dropout_layer(fw, SPEC.seed)
    model.eval()
    x = np.random.default_rng(0).random((ROWS, HP["hidden"]), np.float32)
    np.testing.assert_array_equal(apply(x), x)


def manual_forward(fw: str, model, x: np.ndarray) -> np.ndarray:
    """fc2(relu(fc1(x))): the network without its Dropout layer."""
    w = (tc if fw == "torch" else jc).export_weights(model)
    h = np.maximum(x.astype(np.float64) @ w["fc1.weight"].T + w["fc1.bias"], 0)
    return h @ w["fc2.weight"].T + w["fc2.bias"]


@pytest.mark.parametrize("fw", ["torch", "jax"])
def test_evaluation_runs_in_eval_mode(fw):
    """predict (what accuracy uses) twice gives identical outputs equal to the dropout-free forward,
    and leaves the model in train mode, where the same inputs give other outputs."""
    x = load_test_inputs()[:ROWS]
    with tc.seeded(SPEC.seed):
        if fw == "torch":
            model = td.build_model(HP)
            model.train()
            xs = torch.as_tensor(x)
            first, second = (tc.predict(model, xs).numpy() for _ in range(2))
            with torch.no_grad():
                train_out = model(xs).numpy()
            assert model.training
        else:
            model = jd.build_model(HP, SPEC.seed)
            first, second = (np.asarray(jc.predict(model, jnp.asarray(x))) for _ in range(2))
            train_out = np.asarray(model(jnp.asarray(x)))
            assert not model.dropout.deterministic
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, manual_forward(fw, model, x), rtol=1e-4, atol=1e-5)
    assert not np.allclose(train_out, first, rtol=1e-2, atol=1e-3)


def load_test_inputs() -> np.ndarray:
    from shared.data import load_images

    return load_images(SPEC.dataset, "embedded").flat()[2]


@pytest.fixture(scope="module")
def records():
    cfg = RunConfig(progress=False)
    return {"torch": td.run(SPEC, cfg)[0], "jax": jd.run(SPEC, cfg)[0]}


def test_spec_seed_reaches_target_in_both_frameworks(records):
    target = SPEC.targets["dropout"]
    values = {fw: r.metrics[target.metric] for fw, r in records.items()}
    assert all(target.check(v) for v in values.values()), values
    assert abs(values["torch"] - values["jax"]) <= target.framework_tol, values
    assert all(r.history["test_accuracy"][-1] == r.metrics["test_accuracy"] for r in records.values())

