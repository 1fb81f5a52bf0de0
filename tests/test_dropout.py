"""dropout: the train-mode mask invariants, eval mode as the identity, evaluation in eval mode after
every epoch (masks differ by framework: accuracy is compared by a band over seeds in
test_every_lesson.py, not step by step)."""
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from shared import specs
from shared.data import DataSource, load_images
from shared.harness import sides
from shared.harness.config import FRAMEWORKS, LOOP_FAST, RunConfig
from shared.harness.session import Session

SPEC = specs.get("dropout")
HP = SPEC.settings("dropout", "embedded")
ROWS = 256  # Dropout(ones((ROWS, hidden))): ROWS * hidden mask draws
DROPOUT = 2  # the Dropout layer's index: Linear, ReLU, Dropout, Linear


def lesson(fw: str):
    return sides.lesson(fw, SPEC.name)


def build(fw: str, seed: int):
    """The lesson's model (train mode) and a function applying its Dropout layer to a numpy array.
    torch's masks come from its global generator, which build_model seeds (the caller forks it)."""
    model = lesson(fw).build_model(HP, seed)
    if fw == "torch":
        return model, lambda x: model[DROPOUT](torch.as_tensor(x)).numpy()
    return model, lambda x: np.asarray(model.layers[DROPOUT](jnp.asarray(x)))


def mask_outputs(fw: str, seed: int, calls: int = 1) -> list[np.ndarray]:
    with torch.random.fork_rng(devices=[]):
        model, apply = build(fw, seed)
        model.train()
        return [apply(np.ones((ROWS, HP["hidden"]), np.float32)) for _ in range(calls)]


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_train_mode_outputs_are_zero_or_scaled_and_keep_the_mean(fw):
    p, (out,) = HP["p"], mask_outputs(fw, SPEC.seed)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)
    # Each output is Bernoulli(1-p)/(1-p): mean 1, variance p/(1-p). The mean of N of them has
    # standard deviation sqrt(p / ((1-p) N)); the spec says how many of those to allow.
    sd = np.sqrt(p / ((1 - p) * out.size))
    assert abs(out.mean() - 1) <= SPEC.parity.extras["mask_sigmas"] * sd, (out.mean(), sd)
    assert abs((~kept).mean() - p) <= SPEC.parity.extras["mask_sigmas"] * np.sqrt(p * (1 - p) / out.size)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_masks_advance_and_follow_the_seed(fw):
    """A second call draws a new mask (the JAX stream advances in the model's state); a seed repeats it."""
    first, second = mask_outputs(fw, SPEC.seed, calls=2)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(mask_outputs(fw, SPEC.seed)[0], first)
    assert not np.array_equal(mask_outputs(fw, SPEC.seed + 1)[0], first)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_eval_mode_is_the_identity(fw):
    with torch.random.fork_rng(devices=[]):
        model, apply = build(fw, SPEC.seed)
    model.eval()
    x = np.random.default_rng(0).random((ROWS, HP["hidden"]), np.float32)
    np.testing.assert_array_equal(apply(x), x)


def dropout_free(weights: dict, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, dict]:
    """Logits, loss and accuracy of Linear -> ReLU -> Linear (no Dropout) in float64 numpy."""
    h = np.maximum(x.astype(np.float64) @ weights["0.weight"].T + weights["0.bias"], 0)
    logits = h @ weights["3.weight"].T + weights["3.bias"]
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return logits, {"loss": -log_p[np.arange(len(y)), y].mean(), "accuracy": (logits.argmax(1) == y).mean()}


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_evaluation_runs_in_eval_mode(fw):
    """The harness's evaluate (what every record's metrics come from) twice gives the same metrics,
    those of the network without its Dropout layer, and leaves the model in train mode, where the
    same inputs give other outputs (what forgetting model.eval() scores)."""
    _, _, x, y = load_images(SPEC.dataset, DataSource()).flat()
    x, y = x[:ROWS], y[:ROWS]
    s = Session(SPEC, fw, RunConfig(progress=False))
    with s.placed(), torch.random.fork_rng(devices=[]):
        model = s.model(HP)
        xs, ys = s.side.to_device((x, y), s.device, "float32")
        first, second = (s.side.evaluate(s.lesson, model, xs, ys) for _ in range(2))
        if fw == "torch":
            in_train_mode = model.training
            with torch.no_grad():
                train_out = model(xs).numpy()
        else:
            in_train_mode = not model.layers[DROPOUT].deterministic
            train_out = np.asarray(model(xs))
        logits, want = dropout_free(s.side.export_weights(model), x, y)
    assert first == second
    np.testing.assert_allclose(first["loss"], want["loss"], rtol=1e-5)
    assert first["accuracy"] == pytest.approx(want["accuracy"], abs=1 / ROWS)
    assert in_train_mode
    assert not np.allclose(train_out, logits, rtol=1e-2, atol=1e-3)


def test_every_epoch_is_evaluated_in_eval_mode(runs, cfg):
    for fw, recs in runs.both(SPEC, cfg).items():
        r = recs["dropout"]
        assert len(r.history["test_accuracy"]) == HP["epochs"], fw  # evaluated after every epoch, in eval mode
        assert r.history["test_accuracy"][-1] == r.metrics["test_accuracy"], fw


def test_forgetting_eval_mode_costs_accuracy():
    """After training, the test split scored in train mode (a random sub-network per sample, what
    forgetting model.eval() measures) is less accurate than in eval mode, in both frameworks."""
    cfg = RunConfig(progress=False, epochs=2, loop=LOOP_FAST)
    for fw in FRAMEWORKS:
        s = Session(SPEC, fw, cfg)
        with s.placed():
            model, _, _, _ = s.train(HP)
            _, data = s.data(HP)
            eval_mode = s.side.evaluate(s.lesson, model, data[2], data[3])["accuracy"]
            model.train()
            with torch.random.fork_rng(devices=[]):
                train_mode = float(s.lesson.evaluate(model, data[2], data[3])["accuracy"])
        assert train_mode < eval_mode, (fw, train_mode, eval_mode)
