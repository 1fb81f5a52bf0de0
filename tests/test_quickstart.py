"""quickstart: each optimizer steps alike in torch.optim and optax, and Adam learns Fashion-MNIST in both."""
import numpy as np
import optax
import pytest
import torch

from jax_impl import quickstart as jx
from shared import specs
from shared.data import load_images
from shared.errors import DataError
from torch_impl import quickstart as tx

SPEC = specs.get("quickstart")
IMPLS = {"torch": tx, "jax": jx}


@pytest.fixture(scope="module")
def fashion_mnist():
    """The lesson needs the real 60,000 / 10,000 Fashion-MNIST images (no embedded copy)."""
    try:
        load_images("fashion_mnist", "full", download=False)
    except DataError as e:
        pytest.skip(f"full Fashion-MNIST not available offline: {e}")


@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_optimizer_steps_like_torch_optim(variant):
    """The same parameters and gradients through torch.optim and optax, step by step.

    Gradient magnitudes span 1e-5..1, so eps inside vs outside the square root (RMSprop, Adam)
    shows, as do RMSprop's decay, momentum's first step and Adam's bias correction.
    """
    hp, p = SPEC.hp(variant), SPEC.parity
    rng = np.random.default_rng(SPEC.seed)
    params = {"weight": rng.uniform(-1, 1, (32, 16)), "bias": rng.uniform(-1, 1, 32)}
    params = {k: v.astype(np.float32) for k, v in params.items()}
    grads = [{k: (rng.normal(size=v.shape) * 10.0 ** rng.uniform(-5, 0, v.shape)).astype(np.float32)
              for k, v in params.items()} for _ in range(p["optimizer_steps"])]

    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    torch_opt = tx.make_optimizer(hp, list(tensors.values()))
    optax_opt = jx.make_optimizer(hp)
    jparams = {k: jx.jnp.asarray(v) for k, v in params.items()}
    state = optax_opt.init(jparams)
    for step, g in enumerate(grads, 1):
        for k, t in tensors.items():
            t.grad = torch.as_tensor(g[k])
        torch_opt.step()
        updates, state = optax_opt.update({k: jx.jnp.asarray(v) for k, v in g.items()}, state, jparams)
        jparams = optax.apply_updates(jparams, updates)
        for k, t in tensors.items():
            want = t.detach().numpy()
            assert not np.array_equal(want, params[k]), (variant, k)  # the step moved something
            np.testing.assert_allclose(np.asarray(jparams[k]), want, rtol=p["optimizer_rel"],
                                       atol=p["optimizer_rel"] * np.abs(want).max(), err_msg=f"{variant} step {step} {k}")


@pytest.mark.slow
@pytest.mark.parametrize("variant", SPEC.parity["first_steps_variants"])
def test_first_steps_match_from_torch_weights(fashion_mnist, cfg, variant):
    p = SPEC.parity
    weights = tx.init_weights(SPEC, SPEC.seed, variant=variant)
    t, j = (impl.parity_trace(SPEC, cfg, weights, p["steps"], variant=variant)["losses"] for impl in IMPLS.values())
    assert t.shape == j.shape and len(t) >= p["first_steps"]
    np.testing.assert_allclose(j[:p["first_steps"]], t[:p["first_steps"]], rtol=p["loss_rel"], atol=0)


@pytest.mark.slow
def test_adam_learns_fashion_mnist_in_both_frameworks(fashion_mnist, cfg):
    """The spec's Adam run (its epochs) from torch's initial weights on the same batches in both."""
    target = SPEC.targets["adam"]
    weights = tx.init_weights(SPEC, SPEC.seed, variant="adam")
    values = {fw: impl.parity_trace(SPEC, cfg, weights, None, variant="adam")[target.metric]
              for fw, impl in IMPLS.items()}
    assert all(target.check(v) for v in values.values()), values
    assert abs(values["torch"] - values["jax"]) <= target.framework_tol, values
