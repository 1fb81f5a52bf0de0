"""batchnorm: own layers per model, train/eval mode, per-epoch curves, BatchNorm's running statistics,
and the hazards bn_momentum, bn_running_var and adam_bias_correction (targets over seeds, the
train() loop and parity: test_every_lesson.py)."""
import numpy as np
import pytest
import torch

from shared import specs
from shared.batches import epoch_order
from shared.data import DataSource, load_images
from shared.harness import runner
from shared.harness.config import FRAMEWORKS, RunConfig
from shared.harness.session import Session
from shared.tools import parity, plots

SPEC = specs.get("batchnorm")
HP = SPEC.settings(None, "embedded")
MODELS = HP["models"]
HISTORY = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
STATS = ("bn.bn1.running_mean", "bn.bn1.running_var", "bn.bn2.running_mean", "bn.bn2.running_var")


def test_history_has_the_four_curves_per_epoch_and_is_plotted(runs, cfg, tmp_path):
    epochs = HP["epochs"]
    records = runs.both(SPEC, cfg)
    for fw, recs in records.items():
        assert set(recs) == set(MODELS)
        for v, r in recs.items():
            assert all(len(r.history[k]) == epochs for k in HISTORY), (fw, v, {k: len(x) for k, x in r.history.items()})
            assert r.history["test_accuracy"][-1] == r.metrics["test_accuracy"]
            assert r.history["train_loss"][-1] < r.history["train_loss"][0], (fw, v)
            assert len(r.history["loss"]) == r.steps and r.extras["trained_with"] == list(MODELS)
    all_records = [r for recs in records.values() for r in recs.values()]
    paths = plots.plot_lesson(SPEC, all_records, tmp_path)
    assert paths and all(p.stat().st_size > 0 for p in paths)


def params_of(fw: str, model) -> dict[str, set]:
    """{model name: ids of its parameter arrays}."""
    if fw == "torch":
        return {k: {id(p) for p in m.parameters()} for k, m in model.items()}
    from flax import nnx
    return {k: {id(v) for _, v in nnx.to_flat_state(nnx.state(m, nnx.Param))} for k, m in model.items()}


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_each_model_has_its_own_layers(fw):
    """The course shares Linear layers between its BN and Dropout models; here no parameter is
    shared, and every model starts from the same Linear weights."""
    s = Session(SPEC, fw, RunConfig(progress=False))
    with s.placed():
        model = s.model(HP)
        ids = params_of(fw, model)
        weights = s.side.export_weights(model)
    assert all(not (ids[a] & ids[b]) for a in MODELS for b in MODELS if a != b)
    for name in ("fc1.weight", "fc2.bias", "fc3.weight"):
        for v in ("bn", "dropout"):
            np.testing.assert_array_equal(weights[f"{v}.{name}"], weights[f"plain.{name}"])


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_training_together_is_training_each_alone(fw):
    """Trained together (one step trains the three on each batch), plain and bn end where each
    ends trained alone, and the three models' weights all differ: no layer, statistic or optimizer
    state is shared (shared layers would leave two models with equal weights)."""
    steps, cfg = 5, RunConfig(progress=False)
    s = Session(SPEC, fw, cfg)
    with s.placed():
        model, losses, _, _ = s.train(HP, steps=steps)
        together = s.side.export_weights(model)
    assert losses.shape == (steps, len(MODELS))
    for v in ("plain", "bn"):
        alone = runner.trace(SPEC, fw, cfg, None, steps, v)
        np.testing.assert_allclose(losses[:, MODELS.index(v)], alone["losses"], rtol=1e-6)
        for name, w in alone["weights"].items():
            np.testing.assert_allclose(together[name], w, rtol=1e-5, atol=1e-7, err_msg=name)
    fc1 = {v: together[f"{v}.fc1.weight"] for v in MODELS}
    assert all(not np.allclose(fc1[a], fc1[b]) for a in MODELS for b in MODELS if a != b)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_train_and_eval_mode_reach_every_model(fw):
    """model.train() / model.eval() on the container switch every BatchNorm and Dropout in it: in
    eval mode evaluation is deterministic and leaves the running statistics alone; in train mode
    the same call normalises with the batch's statistics, draws masks and moves the statistics."""
    s = Session(SPEC, fw, RunConfig(progress=False))
    with s.placed(), torch.random.fork_rng(devices=[]):
        model = s.model(HP)
        (x, y, _, _), _ = s.data(HP)
        x, y = s.side.to_device((x[:256], y[:256]), s.device, "float32")
        before = s.side.export_weights(model)
        model.eval()
        if fw == "torch":
            assert not any(m.training for m in model.modules())
        else:
            assert model["bn"].bn1.use_running_average and model["bn"].bn2.use_running_average
            assert model["dropout"].dropout.deterministic
        scores = [s.lesson.evaluate(model, x, y) for _ in range(2)]
        unchanged = s.side.export_weights(model)
        model.train()
        trained = s.lesson.evaluate(model, x, y)
        moved = s.side.export_weights(model)
    loss = lambda m, v: float(m[v]["loss"])
    for v in MODELS:
        assert loss(scores[0], v) == loss(scores[1], v), v
    assert all(np.array_equal(unchanged[k], before[k]) for k in before)
    assert loss(trained, "bn") != loss(scores[0], "bn") and loss(trained, "dropout") != loss(scores[0], "dropout")
    assert loss(trained, "plain") == pytest.approx(loss(scores[0], "plain"), rel=1e-6)
    assert not np.array_equal(moved["bn.bn1.running_mean"], before["bn.bn1.running_mean"])


def expected_running_stats(weights: dict, hp: dict) -> dict[str, np.ndarray]:
    """torch's BatchNorm1d after one train-mode step on the first batch, in float64 numpy:
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance."""
    x, _, _, _ = load_images(SPEC.dataset, DataSource()).flat()
    xb = x[epoch_order(len(x), shuffle=hp["shuffle"], seed=SPEC.seed, epoch=0)[:hp["batch_size"]]].astype(np.float64)
    w = {k.removeprefix("bn."): v.astype(np.float64) for k, v in weights.items()}
    m, out, h = hp["bn_momentum"], {}, xb
    for i in (1, 2):
        z = h @ w[f"fc{i}.weight"].T + w[f"fc{i}.bias"]
        mean, var = z.mean(0), z.var(0)
        out[f"bn.bn{i}.running_mean"] = (1 - m) * w[f"bn{i}.running_mean"] + m * mean
        out[f"bn.bn{i}.running_var"] = (1 - m) * w[f"bn{i}.running_var"] + m * z.var(0, ddof=1)
        h = np.maximum((z - mean) / np.sqrt(var + hp["bn_eps"]) * w[f"bn{i}.weight"] + w[f"bn{i}.bias"], 0)
    return out


def test_running_statistics_after_one_step_match_torch(runs, cfg):
    """Same weights, same batch: momentum 0.1 (Flax 0.9) and the unbiased running variance."""
    tol, hp = SPEC.parity.extras["stats_tol"], SPEC.settings("bn", "embedded")
    expected = expected_running_stats(runner.initial_weights(SPEC, "bn", cfg), hp)
    got = {fw: trace["weights"] for fw, trace in runs.traces(SPEC, cfg, "bn", steps=1).items()}
    for name, want in expected.items():
        for fw in FRAMEWORKS:
            np.testing.assert_allclose(got[fw][name], want, rtol=0, atol=tol, err_msg=f"{fw} {name}")
        np.testing.assert_allclose(got["jax"][name], got["torch"][name], rtol=0, atol=tol, err_msg=name)
    # The test can tell the conventions apart: Flax's biased variance misses torch's by far more than tol.
    n, keep = hp["batch_size"], 1 - hp["bn_momentum"]
    biased = keep + (expected["bn.bn1.running_var"] - keep) * (n - 1) / n
    assert np.abs(biased - got["torch"]["bn.bn1.running_var"]).max() > 10 * tol


def stats_gap(a: dict, b: dict, names) -> float:
    return max(float(np.abs(a["weights"][k].astype(np.float64) - b["weights"][k]).max()) for k in names)


@pytest.mark.parametrize("hazard,names", [
    ("bn_momentum", STATS),                                          # Flax's momentum weights the old value
    ("bn_running_var", ("bn.bn1.running_var", "bn.bn2.running_var")),  # nnx.BatchNorm stores the biased variance
])
def test_bn_hazard_shows_in_the_running_statistics(runs, cfg, hazard, names):
    """Train-mode losses do not read the running statistics, so the BatchNorm hazards are shown on
    the statistics after one step from torch's weights: without the fix JAX's differ from torch's
    by over 100 times what one ulp of the initial weights moves them; with it, by no more than that."""
    torch_trace, removed = (runs.traces(SPEC, cfg, "bn", steps=1, hazard=hazard)[fw] for fw in FRAMEWORKS)
    fixed = runs.traces(SPEC, cfg, "bn", steps=1)["jax"]
    control = stats_gap(torch_trace, runs.control(SPEC, cfg, "bn", 1), names)
    floor = max(control, parity.EPS[cfg.dtype])
    assert stats_gap(torch_trace, removed, names) > 100 * floor, (stats_gap(torch_trace, removed, names), control)
    assert stats_gap(torch_trace, fixed, names) <= floor, (stats_gap(torch_trace, fixed, names), control)


def test_adam_bias_correction_matters_on_plain(runs, cfg):
    """optax.adam's float32 1 - 0.999**t: over the first steps of plain the loss gap without the fix
    is over 100 times the one-ulp control's (it passes 1e-3 at step ~29, not ~142); with the fix it
    stays within a few times the control's."""
    steps = SPEC.parity.extras["hazard_steps"]
    torch_trace, removed = (runs.traces(SPEC, cfg, "plain", steps=steps, hazard="adam_bias_correction")[fw]
                            for fw in FRAMEWORKS)
    fixed = runs.traces(SPEC, cfg, "plain", steps=steps)["jax"]
    gap = lambda tr: float(parity.rel_diff(torch_trace["losses"], tr["losses"]).max())
    floor = max(gap(runs.control(SPEC, cfg, "plain", steps)), parity.EPS[cfg.dtype])
    assert gap(removed) > 100 * floor, (gap(removed), floor)
    assert gap(fixed) <= 10 * floor, (gap(fixed), floor)


def test_unbiased_var_batchnorm_keeps_torchs_statistics_on_nhwc_input():
    """as_torch.UnbiasedVarBatchNorm reduces over every axis but the features: on NHWC images it keeps
    BatchNorm2d's running statistics (n = batch x height x width values per channel), in train mode
    and in eval mode's output."""
    from flax import nnx
    from jax_impl import _as_torch as as_torch

    x = np.random.default_rng(0).normal(2.0, 3.0, (4, 3, 5, 5)).astype(np.float32)  # NCHW
    t = torch.nn.BatchNorm2d(3, momentum=0.1)
    j = as_torch.UnbiasedVarBatchNorm(3, momentum=as_torch.bn_momentum(0.1), rngs=nnx.Rngs(0))
    for _ in range(2):
        t(torch.as_tensor(x))
        j(x.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(np.asarray(j.mean[...]), t.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(j.var[...]), t.running_var.numpy(), rtol=1e-6)
    biased = 0.81 + 0.19 * x.transpose(1, 0, 2, 3).reshape(3, -1).var(1)  # what stock nnx.BatchNorm keeps
    assert np.abs(biased - t.running_var.numpy()).max() > 1e3 * 1e-6 * t.running_var.numpy().max()
    t.eval()
    j.eval()
    with torch.no_grad():
        want = t(torch.as_tensor(x)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(j(x.transpose(0, 2, 3, 1))), want, rtol=1e-5, atol=1e-5)


def test_unbiased_var_batchnorm_refuses_one_value_per_feature_as_torch_does():
    from flax import nnx
    from jax_impl import _as_torch as as_torch

    one = np.ones((1, 4), np.float32)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.BatchNorm1d(4)(torch.as_tensor(one))
    j = as_torch.UnbiasedVarBatchNorm(4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size \(1, 4\)"):
        j(one)
    j(np.ones((1, 2, 1, 4), np.float32))  # one image, two values per channel: allowed, as BatchNorm2d allows it
    j.eval()
    assert np.asarray(j(one)).shape == (1, 4)  # eval mode reads the running statistics: one row is fine
