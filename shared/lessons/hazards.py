"""The hazard demos, framework-neutral: each demo's inputs as numpy, drawn from the seed.

Both twins (torch_impl/hazards.py, jax_impl/hazards.py) get the same ``case``: the demo's settings
(shared/specs/hazards.py) and its arrays in torch's layout (images NCHW, a Linear's weight
(out, in), a Conv2d's (out, in, kh, kw)). :func:`control_case` is the same case for the control run:
every array's elements nudged by one float32 rounding unit, or, for init, another seed.
"""
from __future__ import annotations

import numpy as np

EPS32 = 2.0 ** -23


def _uniform(rng, bound, shape) -> np.ndarray:
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def _linear(rng, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    """A Linear's (weight (out, in), bias (out,)) from torch's U(+-1/sqrt(fan_in))."""
    bound = 1.0 / np.sqrt(fan_in)
    return _uniform(rng, bound, (fan_out, fan_in)), _uniform(rng, bound, (fan_out,))


def _mlp(rng, hp) -> dict:
    """x (n, features), y (n, outputs) = sin of a projection, and a features-hidden-outputs MLP's weights."""
    x = rng.standard_normal((hp["n"], hp["features"])).astype(np.float32)
    y = np.sin(x @ rng.standard_normal((hp["features"], hp["outputs"]))).astype(np.float32)
    w1, b1 = _linear(rng, hp["features"], hp["hidden"])
    w2, b2 = _linear(rng, hp["hidden"], hp["outputs"])
    return {"x": x, "y": y, "w1": w1, "b1": b1, "w2": w2, "b2": b2}


def case(name: str, hp: dict, seed: int) -> dict:
    """The demo's settings and arrays (float32, torch's layout)."""
    rng = np.random.default_rng(seed)
    arrays: dict = {}
    if name == "init":
        arrays = {"seed": seed}
    elif name in ("rmsprop_defaults", "adam_bias_correction", "adamw", "sgd_weight_decay", "gelu_approximate",
                  "clip_grad_norm"):
        arrays = _mlp(rng, hp)
    elif name == "lr_schedule_units":
        arrays = _mlp(rng, {**hp, "n": hp["n"] * hp["batches"]})
        arrays["x"] = arrays["x"].reshape(hp["batches"], hp["n"], -1)  # (batches, n, features), each epoch
        arrays["y"] = arrays["y"].reshape(hp["batches"], hp["n"], -1)
    elif name == "bn_momentum":
        arrays = {"x": (3 + 2 * rng.standard_normal((hp["batches"], hp["batch_size"], hp["features"])))
                  .astype(np.float32)}
    elif name == "bn_running_var":
        shape = (hp["batches"], hp["batch_size"], hp["channels"], hp["size"], hp["size"])  # batches of NCHW
        arrays = {"x": (1 + rng.standard_normal(shape)).astype(np.float32)}
    elif name == "bce_clamp":
        w, _ = _linear(rng, 2, 1)
        arrays = {"x": np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32), "y": np.array([[0], [1], [1], [0]],
                  np.float32), "w": w, "b": np.full((1,), hp["bias"], np.float32)}
    elif name == "tf32":
        arrays = {"a": rng.standard_normal((hp["size"], hp["size"])).astype(np.float32),
                  "b": rng.standard_normal((hp["size"], hp["size"])).astype(np.float32),
                  "image": rng.standard_normal((1, 3, hp["image"], hp["image"])).astype(np.float32),
                  "kernel": _uniform(rng, 1 / np.sqrt(27), (hp["channels"], 3, 3, 3))}
    elif name == "conv_padding":
        k = hp["kernel"]
        arrays = {"image": rng.random((1, 1, hp["size"], hp["size"])).astype(np.float32),
                  "weight": _uniform(rng, 1 / k, (hp["channels"], 1, k, k)), "bias": _uniform(rng, 1 / k, (hp["channels"],))}
    elif name == "pool_stride":
        arrays = {"image": rng.random((1, hp["channels"], hp["size"], hp["size"])).astype(np.float32)}
    elif name == "nchw_flatten":
        k, side = hp["kernel"], hp["size"] - hp["kernel"] + 1
        arrays = {"image": rng.random((hp["n"], 1, hp["size"], hp["size"])).astype(np.float32),
                  "conv_weight": _uniform(rng, 1 / k, (hp["channels"], 1, k, k)),
                  "conv_bias": _uniform(rng, 1 / k, (hp["channels"],))}
        arrays["fc_weight"], arrays["fc_bias"] = _linear(rng, hp["channels"] * side * side, hp["outputs"])
    elif name == "layer_norm":
        arrays = {"x": np.stack([hp["mean"] + s * rng.standard_normal((hp["n"], hp["features"]))
                                 for s in hp["spreads"]]).astype(np.float32)}  # (spreads, n, features)
    elif name == "mse_l2_loss":
        x = rng.standard_normal((hp["n"], hp["features"])).astype(np.float32)
        w, b = _linear(rng, hp["features"], 1)
        y = (x @ rng.standard_normal((hp["features"], 1)) + 0.1 * rng.standard_normal((hp["n"], 1))).astype(np.float32)
        arrays = {"x": x, "y": y, "w": w, "b": b}
    else:
        raise KeyError(f"no demo inputs for {name!r}")
    return {**hp, **arrays}


def nudged(v: np.ndarray) -> np.ndarray:
    """Each element moved by one float32 rounding unit, up and down in turn: times (1 +- 2**-23).
    Alternating, not a common factor, so that a scale-invariant result (a normalisation) moves too."""
    signs = np.where(np.arange(v.size) % 2 == 0, 1.0, -1.0).reshape(v.shape)
    return (v * (1 + signs * EPS32).astype(np.float32)).astype(np.float32)


def control_case(name: str, case_: dict) -> dict:
    """The control's case: every float array but the targets ``y`` (weights and inputs) nudged; for
    init (nothing to nudge) the next seed."""
    if name == "init":
        return {**case_, "seed": case_["seed"] + 1}
    return {k: nudged(v) if isinstance(v, np.ndarray) and v.dtype.kind == "f" and k != "y" else v
            for k, v in case_.items()}
