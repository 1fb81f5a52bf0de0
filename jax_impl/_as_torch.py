"""What it takes for stock Flax NNX and optax to compute what torch computes.

Each function is the fix for one translation hazard (shared/tools/hazards.py, `lessons hazards`): a
lesson calls it where its torch twin relies on torch's default. Everything else in the JAX
lessons is stock: nnx.Linear, nnx.BatchNorm, nnx.Dropout, optax's losses and optimizers.

``without(name)`` removes one fix for the duration of a block, so `lessons parity LESSON
--hazard NAME` and the hazard tests can show what the fix is for: inside it the function
returns what stock Flax or optax would do.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar

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
    """nnx.Linear keyword arguments for torch's init: weight and bias both U(+-1/sqrt(fan_in)).

    (torch's kaiming_uniform with a=sqrt(5) reduces to this bound.) Flax's default is lecun-normal
    weights, about sqrt(3) times wider, and zero biases. Hazard: init.
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
    scale = optax.scale_by_adam(b1, b2, eps)

    def update(grads, state, params=None):
        mu = optax.tree.update_moment(grads, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(grads, state.nu, b2, 2)
        count = optax.safe_increment(state.count)

        def step(m, v):  # -lr * m / (1 - b1**t) / (sqrt(v / (1 - b2**t)) + eps)
            t = count.astype(m.dtype)
            return -learning_rate * m / -jnp.expm1(t * math.log(b1)) / (jnp.sqrt(v / -jnp.expm1(t * math.log(b2))) + eps)

        return jax.tree.map(step, mu, nu), optax.ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(scale.init, update)


# BatchNorm ----------------------------------------------------------------------------------------

def bn_momentum(torch_momentum: float) -> float:
    """torch's BatchNorm momentum m weights the new batch (running = (1-m) running + m batch);
    Flax's weights the old value. torch's 0.1 is Flax's 0.9. Hazard: bn_momentum."""
    return 1.0 - torch_momentum if _on("bn_momentum") else torch_momentum


class UnbiasedVarBatchNorm(nnx.BatchNorm):
    """nnx.BatchNorm whose running variance takes the unbiased batch variance, var * n/(n-1).

    Both normalise a training batch with its biased variance; torch stores the unbiased one in
    running_var, which eval mode then uses. Hazard: bn_running_var.
    """

    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:  # (n, features)
        running_var = self.var[...]
        y = super().__call__(x, use_running_average)
        if not (self.use_running_average if use_running_average is None else use_running_average) \
                and _on("bn_running_var"):
            n = x.shape[0]
            self.var[...] = self.momentum * running_var + (1 - self.momentum) * x.var(0) * (n / (n - 1))
        return y


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
