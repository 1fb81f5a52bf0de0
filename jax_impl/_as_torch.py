"""What it takes for stock Flax NNX and optax to compute what torch computes.

Each function is the fix for one translation hazard (shared/tools/hazards.py, `lessons hazards`): a
lesson (or a demo in jax_impl/hazards.py) calls it where its torch twin relies on torch's default.
Everything else in the JAX lessons is stock: nnx.Linear, nnx.Conv, nnx.BatchNorm, nnx.Dropout,
optax's losses and optimizers.

``without(name)`` removes one fix for the duration of a block, so `lessons hazards --demo NAME`,
`lessons parity LESSON --hazard NAME` and the hazard tests can show what the fix is for: inside it
the function returns what stock Flax or optax would do.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

_REMOVED: ContextVar[frozenset] = ContextVar("removed_fixes", default=frozenset())


@contextmanager
def without(name: str):
    """Stock behaviour instead of the fix for hazard ``name`` inside the block."""
    token = _REMOVED.set(_REMOVED.get() | {name})
    try:
        yield
    finally:
        _REMOVED.reset(token)


def _on(name: str) -> bool:
    return name not in _REMOVED.get()


# init ---------------------------------------------------------------------------------------------

def linear_init(fan_in: int) -> dict:
    """nnx.Linear (or nnx.Conv) keyword arguments for torch's init: weight and bias both U(+-1/sqrt(fan_in)).

    (torch's kaiming_uniform with a=sqrt(5) reduces to this bound; a Conv2d's fan_in is
    in_channels * kh * kw.) Flax's default is lecun-normal weights, about sqrt(3) times wider, and
    zero biases. Hazard: init.
    """
    if not _on("init"):
        return {}
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return {"kernel_init": init, "bias_init": init}


# optimizers ---------------------------------------------------------------------------------------

def rmsprop(learning_rate: float, alpha: float = 0.99, eps: float = 1e-8) -> optax.GradientTransformation:
    """torch.optim.RMSprop: optax.rmsprop with torch's decay (alpha) and eps outside the square root.

    optax's defaults are decay 0.9 and eps inside the root: 51% off after 100 steps of poly_fit.
    Hazard: rmsprop_defaults.
    """
    if not _on("rmsprop_defaults"):
        return optax.rmsprop(learning_rate)
    return optax.rmsprop(learning_rate, decay=alpha, eps=eps, eps_in_sqrt=False)


def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """torch.optim.Adam: optax.adam's moments with the bias correction 1 - b**t as -expm1(t log b).

    optax.adam computes 1 - b2**t in the parameters' dtype: in float32, 1 - 0.99900001 = 0.00099999,
    1.3e-5 off at step 1, where torch is exact. That alone made float32 losses drift ten times
    faster than rounding. Hazard: adam_bias_correction.
    """
    if not _on("adam_bias_correction"):
        return optax.adam(learning_rate, b1, b2, eps)
    return _exact_adam(learning_rate, b1, b2, eps, 0.0)


def adamw(learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2) -> optax.GradientTransformation:
    """torch.optim.AdamW: weight decay 1e-2 by default, decoupled (p -= lr wd p beside Adam's step),
    and Adam's exact bias correction.

    optax.adamw decouples the decay the same way, but its default weight_decay is 1e-4, and it
    computes 1 - b**t in float32 like optax.adam. Hazard: adamw.
    """
    if not _on("adamw"):
        return optax.adamw(learning_rate, b1, b2, eps)
    return _exact_adam(learning_rate, b1, b2, eps, weight_decay)


def _exact_adam(learning_rate, b1, b2, eps, weight_decay) -> optax.GradientTransformation:
    scale = optax.scale_by_adam(b1, b2, eps)

    def update(grads, state, params=None):
        mu = optax.tree.update_moment(grads, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(grads, state.nu, b2, 2)
        count = optax.safe_increment(state.count)

        def step(m, v):  # -lr * m / (1 - b1**t) / (sqrt(v / (1 - b2**t)) + eps)
            t = count.astype(m.dtype)
            return -learning_rate * m / -jnp.expm1(t * math.log(b1)) / (jnp.sqrt(v / -jnp.expm1(t * math.log(b2))) + eps)

        updates = jax.tree.map(step, mu, nu)
        if weight_decay:  # AdamW: p -= lr * wd * p, beside Adam's step
            updates = jax.tree.map(lambda u, p: u - learning_rate * weight_decay * p, updates, params)
        return updates, optax.ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(scale.init, update)


def sgd(learning_rate, momentum: float = 0.0, dampening: float = 0.0,
        weight_decay: float = 0.0) -> optax.GradientTransformation:
    """torch.optim.SGD: g + weight_decay * p before the momentum, and dampening:
    buf = momentum buf + (1 - dampening) g (buf = g at the first step); p -= lr buf.

    optax.sgd has no weight decay and no dampening (its momentum is buf = momentum buf + g). A
    ``learning_rate`` may be an optax schedule. Hazard: sgd_weight_decay.
    """
    if not _on("sgd_weight_decay"):
        return optax.sgd(learning_rate, momentum or None)
    if not momentum:
        return optax.chain(optax.add_decayed_weights(weight_decay), optax.scale_by_learning_rate(learning_rate))

    def init(params):
        return _MomentumState(jnp.zeros([], jnp.int32), jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        first = state.count == 0
        buf = jax.tree.map(lambda b, g: jnp.where(first, g, momentum * b + (1 - dampening) * g), state.trace, grads)
        return buf, _MomentumState(optax.safe_increment(state.count), buf)

    return optax.chain(optax.add_decayed_weights(weight_decay), optax.GradientTransformation(init, update),
                       optax.scale_by_learning_rate(learning_rate))


class _MomentumState(NamedTuple):
    count: jax.Array
    trace: optax.Updates


def step_lr(learning_rate: float, step_size: int, gamma: float, steps_per_epoch: int) -> optax.Schedule:
    """torch's StepLR(step_size, gamma), stepped once per epoch, as an optax schedule: the rate
    drops by gamma every step_size epochs, i.e. every step_size * steps_per_epoch optimizer steps.

    An optax schedule counts optimizer steps, not epochs: the same numbers ported as they are
    decay every step_size steps. Hazard: lr_schedule_units.
    """
    every = step_size * steps_per_epoch if _on("lr_schedule_units") else step_size
    return optax.exponential_decay(learning_rate, every, gamma, staircase=True)


def clip_grad_norm(max_norm: float, weight_decay: float = 0.0) -> optax.GradientTransformation:
    """torch.nn.utils.clip_grad_norm_(max_norm), then the weight decay torch's optimizer adds after it.

    torch scales the gradients by min(1, max_norm / (norm + 1e-6)); optax.clip_by_global_norm by
    max_norm / norm, and a chain that adds the decay (optax.add_decayed_weights) before the clip
    clips the decay too. Chain this before an optimizer without decay. Hazard: clip_grad_norm.
    """
    if not _on("clip_grad_norm"):
        return optax.chain(optax.add_decayed_weights(weight_decay), optax.clip_by_global_norm(max_norm))

    def update(grads, state, params=None):
        scale = jnp.minimum(1.0, max_norm / (optax.tree.norm(grads) + 1e-6))
        return jax.tree.map(lambda g: g * scale.astype(g.dtype), grads), state

    return optax.chain(optax.GradientTransformation(lambda params: optax.EmptyState(), update),
                       optax.add_decayed_weights(weight_decay))


# BatchNorm ----------------------------------------------------------------------------------------

def bn_momentum(torch_momentum: float) -> float:
    """torch's BatchNorm momentum m weights the new batch (running = (1-m) running + m batch);
    Flax's weights the old value. torch's 0.1 is Flax's 0.9; nnx.BatchNorm's own default, 0.99,
    is torch's 0.01. Hazard: bn_momentum."""
    return 1.0 - torch_momentum if _on("bn_momentum") else torch_momentum


class UnbiasedVarBatchNorm(nnx.BatchNorm):
    """nnx.BatchNorm whose running variance takes the unbiased batch variance, var * n/(n-1).

    Both normalise a training batch with its biased variance; torch stores the unbiased one in
    running_var, which eval mode then uses. n counts the values per feature: every axis but the
    feature axis is reduced ((n, f) as BatchNorm1d, (n, h, w, c) as BatchNorm2d on NHWC). With one
    value per feature torch raises, and so does this. Hazard: bn_running_var.
    """

    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:  # (..., features)
        training = not (self.use_running_average if use_running_average is None else use_running_average)
        axis = self.axis % x.ndim
        n = x.size // x.shape[axis]  # values per feature
        fix = training and _on("bn_running_var")
        if fix and n < 2:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(x.shape)} "
                             "(as torch's BatchNorm: the unbiased variance of one value divides by zero)")
        running_var = self.var[...]
        y = super().__call__(x, use_running_average)
        if fix:
            batch_var = x.var(tuple(i for i in range(x.ndim) if i != axis))
            self.var[...] = self.momentum * running_var + (1 - self.momentum) * batch_var * (n / (n - 1))
        return y


# Conv and pooling ---------------------------------------------------------------------------------

def conv_padding(padding: int) -> list[tuple[int, int]] | str:
    """nnx.Conv's padding for torch's Conv2d(padding=p): p zeros on both sides of each spatial axis.

    torch pads 0 by default ('VALID'); nnx.Conv pads 'SAME' by default: 28x28 stays 28x28 where
    torch's 3x3 conv gives 26x26. At stride 2 on an even size 'SAME' pads (0, 1), the high side
    only, where torch's padding=1 pads (1, 1): the same output shape from shifted windows.
    Hazard: conv_padding.
    """
    if not _on("conv_padding"):
        return "SAME"
    return [(padding, padding), (padding, padding)]


def pool_strides(kernel_size: int, stride: int | None = None) -> tuple[int, int] | None:
    """nnx.max_pool's strides for torch's MaxPool2d(kernel_size, stride=None): the stride defaults to
    the kernel size (28x28 -> 14x14); nnx.max_pool's strides default to 1 (28x28 -> 27x27).

    torch's ceil_mode=False is nnx.max_pool's padding 'VALID'; ceil_mode=True has no flag: pad the
    high side with -inf (padding=((0, 1), (0, 1)) where a window would fall off). Hazard: pool_stride.
    """
    if not _on("pool_stride"):
        return None
    s = kernel_size if stride is None else stride
    return (s, s)


def flatten(x: jax.Array) -> jax.Array:
    """torch.flatten(x, 1) of the same feature map: (n, h, w, c) -> (n, c * h * w) in torch's order.

    Flax's images are NHWC, torch's NCHW: reshaping NHWC lists the features pixel by pixel, torch
    channel by channel, so a Linear with torch's weights reads each input from the wrong place.
    (The weight exchange moves conv kernels between (out, in, kh, kw) and (kh, kw, in, out).)
    Hazard: nchw_flatten.
    """
    if not _on("nchw_flatten"):
        return x.reshape(x.shape[0], -1)
    return x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)


# LayerNorm and GELU -------------------------------------------------------------------------------

def layer_norm(eps: float = 1e-5) -> dict:
    """nnx.LayerNorm keyword arguments for torch's LayerNorm: epsilon 1e-5 (Flax's default is 1e-6)
    and the two-pass variance mean((x - mean)^2): Flax's default use_fast_variance computes
    mean(x^2) - mean(x)^2, which cancels on features with a large mean and a small spread.
    Hazard: layer_norm.
    """
    if not _on("layer_norm"):
        return {}
    return {"epsilon": eps, "use_fast_variance": False}


def gelu(x: jax.Array) -> jax.Array:
    """torch's nn.GELU(): the exact x * Phi(x) (erf). jax.nn.gelu (and nnx.gelu) default to the tanh
    approximation, approximate=True (torch's GELU(approximate='tanh')). Hazard: gelu_approximate."""
    return jax.nn.gelu(x, approximate=not _on("gelu_approximate"))


# Losses -------------------------------------------------------------------------------------------

def mse_loss(pred: jax.Array, y: jax.Array) -> jax.Array:
    """torch's nn.MSELoss(): mean((pred - y)^2), optax.squared_error's mean.

    optax.l2_loss is half of it, 0.5 (pred - y)^2, so the loss and every gradient halve (at a fixed
    learning rate, training runs at half the speed). Hazard: mse_l2_loss.
    """
    if not _on("mse_l2_loss"):
        return optax.l2_loss(pred, y).mean()
    return optax.squared_error(pred, y).mean()


# BCELoss ------------------------------------------------------------------------------------------

@jax.custom_vjp
def _bce(p: jax.Array, y: jax.Array) -> jax.Array:
    return -jnp.mean(y * _clamped_log(p) + (1.0 - y) * _clamped_log1m(p))


def _clamped_log(p):
    return jnp.maximum(jnp.log(p), -100.0)


def _clamped_log1m(p):
    return jnp.maximum(jnp.log1p(-p), -100.0)


def _bce_fwd(p, y):
    return _bce(p, y), (p, y)


def _bce_bwd(res, g):
    p, y = res
    eps = jnp.asarray(np.float32(1e-12), p.dtype)  # torch's EPSILON is a float, also in float64
    grad_p = g * (p - y) / jnp.maximum((1.0 - p) * p, eps) / p.size
    grad_y = g * (_clamped_log1m(p) - _clamped_log(p)) / p.size
    return grad_p.astype(p.dtype), grad_y.astype(y.dtype)


_bce.defvjp(_bce_fwd, _bce_bwd)


def bce_loss(p: jax.Array, y: jax.Array) -> jax.Array:
    """torch.nn.BCELoss on probabilities: mean of -(y log p + (1-y) log(1-p)), forward and backward.

    Forward: each log clamped at -100, log(1-p) as log1p(-p), as torch does. Backward: torch's
    formula (p - y) / max(p (1-p), 1e-12) / n; autodiff through the clamp gives 0 * inf = nan
    once a sigmoid saturates to exactly 1. optax's sigmoid_binary_cross_entropy takes logits and
    does not clamp. Hazard: bce_clamp.
    """
    if not _on("bce_clamp"):
        return -jnp.mean(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))
    return _bce(p, y)
