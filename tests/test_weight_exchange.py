"""The weight exchange: torch layout numpy dicts in and out of both frameworks."""
import numpy as np

from jax_impl import xor as jx
from shared import specs
from torch_impl import xor as tx


def test_torch_weights_round_trip_through_flax():
    hp = specs.get("xor").hp("mlp")
    weights = tx.init_weights(specs.get("xor"), seed=1)
    model = jx.build_model(hp, seed=2)
    jx._common.import_weights(model, weights)
    back = jx._common.export_weights(model)
    assert set(back) == set(weights)
    for name, value in weights.items():
        assert back[name].shape == value.shape  # torch layout: Linear weight is (out, in)
        np.testing.assert_array_equal(back[name], value)
    np.testing.assert_array_equal(np.asarray(model.fc1.kernel[...]), weights["fc1.weight"].T)


def test_both_frameworks_use_torch_default_init_distribution():
    hp = specs.get("xor").hp("mlp")
    for init in (tx.init_weights, jx.init_weights):
        w = init(specs.get("xor"), seed=0)
        for name in ("fc2.weight", "fc2.bias"):
            bound = 1 / np.sqrt(hp["hidden"][0])
            assert np.abs(w[name]).max() <= bound and np.abs(w[name]).max() > 0.5 * bound
