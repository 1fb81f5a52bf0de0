"""quickstart: each optimizer steps alike in torch.optim and optax, the records name their data, and
Adam learns from torch's weights in both frameworks (targets, the train() loop and per-step parity:
test_every_lesson.py)."""
import numpy as np
import pytest
import torch
from flax import nnx

from jax_impl import quickstart as jx
from shared import specs
from shared.data import DataSource, load_images
from shared.errors import DataError
from shared.harness import sides
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


def test_records_name_the_dataset_they_used(runs, cfg):
    """--data embedded is the embedded MNIST digits on every machine; --data full is Fashion-MNIST."""
    assert SPEC.settings(None, "full")["dataset"] == "fashion_mnist"
    for recs in runs.both(SPEC, cfg).values():
        for r in recs.values():
            assert r.data == "embedded" and r.extras["dataset"] == "mnist", (r.framework, r.variant)


@pytest.mark.parametrize("variant", SPEC.parity.variants)
def test_optimizer_steps_like_torch_optim(variant):
    """The same parameters and gradients through each twin's make_optimizer, step by step.

    Gradient magnitudes span 1e-5..1, so eps inside vs outside the square root (RMSprop, Adam)
    shows, as do RMSprop's decay, momentum's first step and Adam's bias correction.
    """
    hp, p = SPEC.hp(variant), SPEC.parity.extras
    rng = np.random.default_rng(SPEC.seed)
    params = {"weight": rng.uniform(-1, 1, (32, 16)), "bias": rng.uniform(-1, 1, 32)}
    params = {k: v.astype(np.float32) for k, v in params.items()}
    grads = [{k: (rng.normal(size=v.shape) * 10.0 ** rng.uniform(-5, 0, v.shape)).astype(np.float32)
              for k, v in params.items()} for _ in range(p["optimizer_steps"])]

    tmodel, jmodel = torch.nn.Linear(16, 32), nnx.Linear(16, 32, rngs=nnx.Rngs(0))
    sides.harness("torch").import_weights(tmodel, params)
    sides.harness("jax").import_weights(jmodel, params)
    torch_opt, jax_opt = tx.make_optimizer(tmodel, hp), jx.make_optimizer(jmodel, hp)
    for step, g in enumerate(grads, 1):
        tmodel.weight.grad, tmodel.bias.grad = torch.as_tensor(g["weight"]), torch.as_tensor(g["bias"])
        torch_opt.step()
        # d/dp sum(p * g) is g exactly: nnx's gradient of a linear form hands optax the very same numbers
        linear_form = lambda m: (m.kernel[...] * g["weight"].T).sum() + (m.bias[...] * g["bias"]).sum()
        jax_opt.update(jmodel, nnx.grad(linear_form)(jmodel))
        want, got = sides.harness("torch").export_weights(tmodel), sides.harness("jax").export_weights(jmodel)
        for k in params:
            assert not np.array_equal(want[k], params[k]), (variant, k)  # the step moved something
            np.testing.assert_allclose(got[k], want[k], rtol=p["optimizer_rel"],
                                       atol=p["optimizer_rel"] * np.abs(want[k]).max(),
                                       err_msg=f"{variant} step {step} {k}")


def test_adam_learns_in_both_frameworks_from_torch_weights(runs, data_cfg):
    """The spec's Adam run (its epochs) from torch's initial weights on the same batches in both."""
    target = SPEC.target("adam", data_cfg.data)
    pair = runs.traces(SPEC, data_cfg, "adam", steps=None)
    values = {fw: pair[fw]["metrics"][target.metric] for fw in ("torch", "jax")}
    assert all(target.check(v) for v in values.values()), values
    assert abs(values["torch"] - values["jax"]) <= target.framework_tol, values
