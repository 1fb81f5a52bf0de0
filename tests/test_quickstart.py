"""quickstart: each optimizer steps alike in torch.optim and optax, every optimizer learns the embedded
digits (and Fashion-MNIST, where it is on disk) in both frameworks, and they step alike from the same weights."""
import numpy as np
import pytest
import torch
from conftest import assert_target_in_both, run_both, trace_both
from flax import nnx

from jax_impl import quickstart as jx
from shared import parity, runner, specs
from shared.config import RunConfig
from shared.data import DataSource, load_images
from shared.errors import DataError
from torch_impl import quickstart as tx

SPEC = specs.get("quickstart")
DATA = ["embedded", pytest.param("full", marks=pytest.mark.slow)]


@pytest.fixture(params=DATA)
def data_cfg(request, cfg):
    """The run config on the embedded MNIST digits, and on full Fashion-MNIST where it is available offline."""
    if request.param == "full":
        try:
            load_images("fashion_mnist", DataSource("fullsize"))
        except DataError as e:
            pytest.skip(f"full Fashion-MNIST not available offline: {e}")
    return cfg.replace(data=request.param)


@pytest.fixture
def records(cfg, memo):
    return run_both(memo, SPEC, cfg)


@pytest.mark.parametrize("variant", SPEC.variants)
def test_spec_seed_reaches_target_in_both_frameworks(records, variant):
    assert_target_in_both(SPEC, records, variant)


def test_records_name_the_dataset_they_used(records):
    """--data embedded is the embedded MNIST digits on every machine; --data full is Fashion-MNIST."""
    assert runner.settings(SPEC, None, "full")["dataset"] == "fashion_mnist"
    for recs in records.values():
        for r in recs.values():
            assert r.data == "embedded" and r.extras["dataset"] == "mnist", (r.framework, r.variant)


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_optimizer_steps_like_torch_optim(variant):
    """The same parameters and gradients through each twin's make_optimizer, step by step.

    Gradient magnitudes span 1e-5..1, so eps inside vs outside the square root (RMSprop, Adam)
    shows, as do RMSprop's decay, momentum's first step and Adam's bias correction.
    """
    hp, p = SPEC.hp(variant), SPEC.parity
    rng = np.random.default_rng(SPEC.seed)
    params = {"weight": rng.uniform(-1, 1, (32, 16)), "bias": rng.uniform(-1, 1, 32)}
    params = {k: v.astype(np.float32) for k, v in params.items()}
    grads = [{k: (rng.normal(size=v.shape) * 10.0 ** rng.uniform(-5, 0, v.shape)).astype(np.float32)
              for k, v in params.items()} for _ in range(p["optimizer_steps"])]

    tmodel, jmodel = torch.nn.Linear(16, 32), nnx.Linear(16, 32, rngs=nnx.Rngs(0))
    runner.harness("torch").import_weights(tmodel, params)
    runner.harness("jax").import_weights(jmodel, params)
    torch_opt, jax_opt = tx.make_optimizer(tmodel, hp), jx.make_optimizer(jmodel, hp)
    for step, g in enumerate(grads, 1):
        tmodel.weight.grad, tmodel.bias.grad = torch.as_tensor(g["weight"]), torch.as_tensor(g["bias"])
        torch_opt.step()
        # d/dp sum(p * g) is g exactly: nnx's gradient of a linear form hands optax the very same numbers
        linear_form = lambda m: (m.kernel[...] * g["weight"].T).sum() + (m.bias[...] * g["bias"]).sum()
        jax_opt.update(jmodel, nnx.grad(linear_form)(jmodel))
        want, got = runner.harness("torch").export_weights(tmodel), runner.harness("jax").export_weights(jmodel)
        for k in params:
            assert not np.array_equal(want[k], params[k]), (variant, k)  # the step moved something
            np.testing.assert_allclose(got[k], want[k], rtol=p["optimizer_rel"],
                                       atol=p["optimizer_rel"] * np.abs(want[k]).max(),
                                       err_msg=f"{variant} step {step} {k}")


@pytest.mark.parametrize("variant", SPEC.parity["first_steps_variants"])
def test_first_steps_match_from_torch_weights(data_cfg, memo, variant):
    p = SPEC.parity
    t, j = (trace_both(memo, SPEC, data_cfg, variant)[fw]["losses"] for fw in ("torch", "jax"))
    assert t.shape == j.shape and len(t) >= p["first_steps"]
    np.testing.assert_allclose(j[:p["first_steps"]], t[:p["first_steps"]], rtol=p["loss_rel"], atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_float64_losses_match_at_every_step(cfg, memo, variant):
    """`lessons parity quickstart --dtype float64`: the whole run within parity.FLOAT64_BOUND per step,
    Adam included (its float32 sensitivity is rounding, which float64 leaves far below the bound)."""
    pair = trace_both(memo, SPEC, cfg.replace(dtype="float64"), variant, steps=None)
    t, j = pair["torch"]["losses"], pair["jax"]["losses"]
    assert t.dtype == j.dtype == np.float64
    rel = parity.rel_diff(t, j)
    assert rel.max() <= parity.FLOAT64_BOUND, (int(rel.argmax()) + 1, float(rel.max()))


def test_adam_learns_in_both_frameworks_from_torch_weights(data_cfg, memo):
    """The spec's Adam run (its epochs) from torch's initial weights on the same batches in both."""
    target = SPEC.target("adam", data_cfg.data)
    pair = trace_both(memo, SPEC, data_cfg, "adam", steps=None)
    values = {fw: pair[fw]["metrics"][target.metric] for fw in ("torch", "jax")}
    assert all(target.check(v) for v in values.values()), values
    assert abs(values["torch"] - values["jax"]) <= target.framework_tol, values


def test_course_loop_gives_the_fast_paths_numbers(memo):
    """`--loop course` (the lesson's own train(): DataLoader / an nnx.jit step per batch) trains on the
    same batches as the fast path, so each framework's losses and accuracy agree across the two forms."""
    cfg = RunConfig(progress=False, epochs=1)
    fast, course = run_both(memo, SPEC, cfg), run_both(memo, SPEC, cfg.replace(loop="course"))
    for fw in ("torch", "jax"):
        f, c = fast[fw]["momentum"], course[fw]["momentum"]
        np.testing.assert_allclose(c.history["loss"], f.history["loss"], rtol=1e-5)
        assert abs(c.metrics["test_accuracy"] - f.metrics["test_accuracy"]) <= 1e-3
