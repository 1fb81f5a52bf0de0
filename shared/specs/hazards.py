"""hazards: the demos of the translation hazards (torch_impl/hazards.py, jax_impl/hazards.py).

Not a lesson of the course order (``lessons list`` does not list it): one small scenario per
hazard, run by ``lessons hazards --demo NAME`` and read side by side with ``lessons show hazards``.
Each entry of ``hparams`` is one demo's settings; its inputs are drawn from the seed by
shared/lessons/hazards.py.
"""
from shared.specs.base import LessonSpec

MLP = {"n": 32, "features": 8, "hidden": 16, "outputs": 1}   # the regression MLP several demos train

SPEC = LessonSpec(
    name="hazards",
    title="Translation hazards, each where it bites",
    teaches=(
        "One function per hazard in each framework, the same names in the same order: the smallest "
        "scenario where torch's default and Flax's or optax's part ways. `lessons hazards --demo NAME` "
        "runs torch, the JAX twin with the fix (jax_impl/_as_torch.py), the JAX twin without it, and "
        "torch once more from inputs nudged by one rounding unit (the control), and prices the hazard "
        "at a lesson's own settings."
    ),
    dataset="synthetic",
    seed=0,
    hparams={
        "init": {"fan_in": 784, "fan_out": 256},
        "rmsprop_defaults": {**MLP, "lr": 1e-3, "steps": 30},
        "adam_bias_correction": {**MLP, "lr": 1e-2, "steps": 30},
        "bn_momentum": {"batches": 5, "batch_size": 8, "features": 4, "momentum": 0.1},
        "bn_running_var": {"batches": 3, "batch_size": 2, "channels": 3, "size": 3, "momentum": 0.1},
        "bce_clamp": {"bias": -40.0, "lr": 1.0, "steps": 20},
        "tf32": {"size": 512, "image": 32, "channels": 16},
        "conv_padding": {"size": 8, "channels": 4, "kernel": 3},
        "pool_stride": {"size": 28, "channels": 2, "kernel": 2},
        "nchw_flatten": {"n": 2, "size": 8, "channels": 4, "kernel": 3, "outputs": 10},
        "adamw": {**MLP, "lr": 1e-2, "steps": 30},
        "sgd_weight_decay": {**MLP, "lr": 0.05, "momentum": 0.9, "weight_decay": 0.01, "steps": 30},
        "layer_norm": {"n": 4, "features": 16, "mean": 100.0, "spreads": (0.01, 0.003)},
        "gelu_approximate": {**MLP, "lr": 0.1, "steps": 30},
        "lr_schedule_units": {**MLP, "lr": 0.1, "step_size": 1, "gamma": 0.5, "epochs": 3, "batches": 5},
        "mse_l2_loss": {"n": 32, "features": 4, "lr": 0.1, "steps": 20},
        "clip_grad_norm": {**MLP, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.1, "max_norm": 0.1, "steps": 30},
    },
    targets={},
    beyond_course="The course meets a few of these hazards in its lessons; the demos show each one alone.",
)
