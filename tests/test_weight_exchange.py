"""The weight exchange: torch-layout numpy dicts in and out of both frameworks."""
import numpy as np

from jax_impl import _harness as jh
from jax_impl import xor as jx
from shared.harness import runner
from shared import specs
from shared.harness.config import RunConfig

SPEC = specs.get("xor")


def test_torch_weights_round_trip_through_flax():
    weights = runner.initial_weights(SPEC, "mlp", RunConfig(seed=1))
    model = jx.build_model(SPEC.hp("mlp"), seed=2)
    jh.import_weights(model, weights)
    back = jh.export_weights(model)
    assert set(back) == set(weights)
    for name, value in weights.items():
        assert back[name].shape == value.shape  # torch layout: Linear weight is (out, in)
        np.testing.assert_array_equal(back[name], value)
    np.testing.assert_array_equal(np.asarray(model.layers[0].kernel[...]), weights["0.weight"].T)


def test_both_frameworks_use_torch_default_init_distribution():
    hp = SPEC.hp("mlp")
    for framework in ("torch", "jax"):
        w = runner.initial_weights(SPEC, "mlp", RunConfig(seed=0), framework=framework)
        for name in ("2.weight", "2.bias"):
            bound = 1 / np.sqrt(hp["hidden"][0])
            assert np.abs(w[name]).max() <= bound and np.abs(w[name]).max() > 0.5 * bound


CNN = specs.get("cnn")


def test_conv_kernels_cross_between_torch_and_flax_layouts():
    """A Conv2d's weight is (out, in, kh, kw) in torch and nnx.Conv's kernel (kh, kw, in, out): torch's
    weights go into the JAX LeNet and come back unchanged, and both models give the same logits
    on the same images (NCHW in torch, NHWC in JAX)."""
    import torch
    from jax_impl import cnn as jc
    from torch_impl import cnn as tc

    hp = CNN.hp()
    weights = runner.initial_weights(CNN, "lenet", RunConfig())
    assert weights["conv1.weight"].shape == (6, 1, 5, 5) and weights["conv2.weight"].shape == (16, 6, 5, 5)
    model = jc.build_model(hp, seed=1)
    jh.import_weights(model, weights)
    np.testing.assert_array_equal(np.asarray(model.conv2.kernel[...]), weights["conv2.weight"].transpose(2, 3, 1, 0))
    back = jh.export_weights(model)
    assert {k: v.shape for k, v in back.items()} == {k: v.shape for k, v in weights.items()}
    for name, value in weights.items():
        np.testing.assert_array_equal(back[name], value, err_msg=name)
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    t = tc.build_model(hp, seed=0)
    t.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    with torch.no_grad():
        want = t(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(np.asarray(model(x.transpose(0, 2, 3, 1))), want, rtol=1e-5, atol=1e-6)


def test_weights_of_the_wrong_shape_are_one_clear_error():
    import pytest
    from torch_impl import _harness as th
    from torch_impl import cnn as tc

    weights = runner.initial_weights(CNN, "lenet", RunConfig())
    wrong = {**weights, "fc1.weight": weights["fc1.weight"][:, :100]}
    with pytest.raises(ValueError, match=r"fc1.weight \(120, 100\) for \(120, 400\)"):
        th.import_weights(tc.build_model(CNN.hp(), 0), wrong)
    from jax_impl import cnn as jc
    with pytest.raises(ValueError, match=r"fc1.weight \(120, 100\) for \(400, 120\)"):
        jh.import_weights(jc.build_model(CNN.hp(), 0), wrong)
