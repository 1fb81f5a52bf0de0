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
