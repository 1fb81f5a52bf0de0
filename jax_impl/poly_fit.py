"""poly_fit (JAX, Flax NNX): "Learning PyTorch with Examples", y = sin(x) fitted by a cubic.

x = linspace(-pi, pi, 2000), loss = sum of squares, 2000 full-batch steps. Variants:
- tensors: a + b x + c x^2 + d x^3 with gradients written by hand in jax.numpy (as the numpy
  reference, shared/polyfit.py, which it reproduces).
- autograd: jax.value_and_grad returns the gradients; nothing is stored on the arrays, so there
  is nothing to zero and nothing accumulates unless summed by hand (accumulated_grads).
  grads_with_detached shows jax.lax.stop_gradient, torch's .detach().
- legendre: a + b P3(c + d x) with P3's backward written by hand (jax.custom_vjp).
- nn: nnx.Linear(3, 1) then a flatten (nnx.Sequential) on (x, x^2, x^3), sum of squares, update
  by hand as a tree map over the nnx.Param state.
- optim: the same model with optax.rmsprop configured as torch's RMSprop.

Twin: torch_impl/poly_fit.py. Where the two differ:
- gradients: torch's .grad lives on the tensor and accumulates until cleared; jax.grad is a pure
  function of the parameters. torch's update needs no_grad(); here it is simply outside the
  differentiated function. .detach() <-> jax.lax.stop_gradient (a zero gradient, not None).
- custom backward: autograd.Function <-> jax.custom_vjp (fwd returns the residuals for bwd).
- init: both start from the same coefficients (shared.polyfit.initial_coefficients), imported
  into the model, so nnx.Linear's init (lecun-normal; _common.linear is torch's) is overwritten.
- RMSprop: optax.rmsprop defaults to decay 0.9 and eps inside the sqrt; torch uses alpha 0.99 and
  eps outside. rmsprop() passes decay=0.99, eps=1e-8, eps_in_sqrt=False: torch's algorithm.
  rmsprop_optax_defaults() runs optax's defaults to show how far they land from it.
- speed: each variant's 2000 steps are one compiled lax.scan, compiled ahead and timed apart.
"""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from shared import polyfit
from shared.config import RunConfig
from shared.timing import Stopwatch
from jax_impl import _common


@jax.custom_vjp
def legendre_p3(x: jax.Array) -> jax.Array:
    """P3(x) = (5x^3 - 3x) / 2 with its backward written by hand: dP3/dx = 1.5 (5x^2 - 1)."""
    return 0.5 * (5 * x ** 3 - 3 * x)


def _p3_fwd(x):
    return legendre_p3(x), x  # residuals: what backward needs (ctx.save_for_backward)


def _p3_bwd(x, grad_output):
    return (grad_output * 1.5 * (5 * x ** 2 - 1),)


legendre_p3.defvjp(_p3_fwd, _p3_bwd)


def cubic(params, x: jax.Array) -> jax.Array:
    """a + b x + c x^2 + d x^3. params: four 0-d arrays; x: (n,) -> (n,)."""
    a, b, c, d = params
    return a + b * x + c * x ** 2 + d * x ** 3


def legendre(params, x: jax.Array) -> jax.Array:
    """a + b P3(c + d x), P3 with the hand-written backward. x: (n,) -> (n,)."""
    a, b, c, d = params
    return a + b * legendre_p3(c + d * x)


MODELS = {"cubic": cubic, "legendre": legendre}


def sum_sq(y_pred: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.sum((y_pred - y) ** 2)


def _scan(step, carry, steps: int, clock: Stopwatch, *args):
    """``steps`` applications of ``step(carry, *args) -> (carry, loss)`` as one compiled lax.scan."""
    fit = jax.jit(lambda carry, *args: jax.lax.scan(lambda c, _: step(c, *args), carry, length=steps))
    with clock.compiling():
        compiled = fit.lower(carry, *args).compile()
    with clock.training():
        return jax.block_until_ready(compiled(carry, *args))


def fit_tensors(params, x, y, *, lr: float, steps: int, clock: Stopwatch):
    """Gradients by hand, as the numpy example. Returns (params, losses (steps,))."""

    def step(params, x, y):
        a, b, c, d = params
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = jnp.sum((y_pred - y) ** 2)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        return (a - lr * grad_a, b - lr * grad_b, c - lr * grad_c, d - lr * grad_d), loss

    return _scan(step, params, steps, clock, x, y)


def fit_autograd(params, x, y, *, lr: float, steps: int, clock: Stopwatch, model=cubic):
    """jax.value_and_grad gives the loss and the gradients; the update is plain arithmetic on
    the returned values (no no_grad, no .grad to clear). Returns (params, losses (steps,))."""

    def step(params, x, y):
        loss, grads = jax.value_and_grad(lambda p: sum_sq(model(p, x), y))(params)
        return tuple(p - lr * g for p, g in zip(params, grads)), loss

    return _scan(step, params, steps, clock, x, y)


def grads_with_detached(params, x, y, detached: str) -> dict:
    """Gradients of the cubic's loss with one coefficient used through jax.lax.stop_gradient.

    The stopped coefficient is a constant to differentiation: its gradient is 0 (torch: .grad
    stays None). The others' gradients are unchanged."""

    def loss(params):
        used = [jax.lax.stop_gradient(p) if name == detached else p for name, p in zip(polyfit.COEFFS, params)]
        return sum_sq(cubic(used, x), y)

    return {name: float(g) for name, g in zip(polyfit.COEFFS, jax.grad(loss)(tuple(params)))}


def accumulated_grads(params, x, y, times: int) -> list[np.ndarray]:
    """What torch's .grad holds after each of ``times`` backward() calls without zeroing.

    jax.grad keeps no state: every call returns the same gradient, so accumulating (e.g. over
    micro-batches) is an explicit running sum, here k times the gradient after the k-th call."""
    grad = jax.grad(lambda p: sum_sq(cubic(p, x), y))
    total, out = None, []
    for _ in range(times):
        g = jnp.stack(grad(tuple(params)))
        total = g if total is None else total + g
        out.append(np.asarray(total))
    return out


def features(x: jax.Array) -> jax.Array:
    """(x, x^2, x^3): (n,) -> (n, 3)."""
    return jnp.stack([x, x ** 2, x ** 3], axis=-1)


def build_model(coeffs: dict, dtype) -> nnx.Sequential:
    """Linear(3, 1) on the features, then a flatten: (n, 3) -> (n,); bias a, kernel (b, c, d)."""
    model = _common.cast(nnx.Sequential(_common.linear(3, 1, rngs=nnx.Rngs(0)), jnp.ravel), dtype)
    model.layers[0].bias[...] = jnp.array([float(coeffs["a"])], dtype)
    model.layers[0].kernel[...] = jnp.array([[float(coeffs[k])] for k in "bcd"], dtype)  # (in 3, out 1)
    return model


def fit_nn(model: nnx.Module, xx, y, *, lr: float, steps: int, clock: Stopwatch):
    """Sum of squares, value_and_grad over the nnx.Param state, each parameter updated by hand."""
    graphdef, params = nnx.split(model, nnx.Param)

    def step(params, xx, y):
        loss, grads = jax.value_and_grad(lambda p: sum_sq(nnx.merge(graphdef, p)(xx), y))(params)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss

    params, losses = _scan(step, params, steps, clock, xx, y)
    nnx.update(model, params)
    return losses


def fit_optim(model: nnx.Module, xx, y, *, tx: optax.GradientTransformation, steps: int, clock: Stopwatch):
    """The same loop with an optax optimizer: nnx.Optimizer, optimizer.update(model, grads)."""
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def step(state, xx, y):
        model, optimizer = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(lambda m: sum_sq(m(xx), y))(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    state, losses = _scan(step, state, steps, clock, xx, y)
    nnx.update((model, optimizer), state)
    return losses


def rmsprop(hp: dict) -> optax.GradientTransformation:
    """torch.optim.RMSprop(lr, alpha, eps) in optax: decay=alpha and eps added outside the sqrt."""
    return optax.rmsprop(hp["lr"], decay=hp["alpha"], eps=hp["eps"], eps_in_sqrt=False)


def model_coefficients(model: nnx.Module) -> dict[str, np.ndarray]:
    k = np.asarray(model.layers[0].kernel[...])[:, 0]  # (3,)
    return {"a": np.asarray(model.layers[0].bias[...])[0], "b": k[0], "c": k[1], "d": k[2]}


def init_weights(spec, seed: int, variant: str = "tensors") -> dict[str, np.ndarray]:
    """The variant's initial (a, b, c, d), shared by both frameworks (the weight exchange)."""
    return polyfit.initial_coefficients(spec, seed, variant)


def train_variant(spec, variant: str, coeffs: dict, cfg: RunConfig, device: jax.Device, steps: int | None = None,
                  tx: optax.GradientTransformation | None = None):
    """Fit one variant from ``coeffs`` (call inside _common.scope). ``tx`` replaces the optim
    variant's optimizer. Returns (final coefficients, losses as numpy, Stopwatch)."""
    hp = spec.hp(variant)
    steps = steps or hp["steps"]
    dtype = _common.dtype_of(cfg.dtype)
    x, y = (jax.device_put(jnp.asarray(a, dtype), device) for a in polyfit.data(spec, cfg.dtype))
    params = tuple(jnp.asarray(float(coeffs[k]), dtype) for k in polyfit.COEFFS)
    model = build_model(coeffs, dtype) if variant in ("nn", "optim") else None
    clock = Stopwatch()
    if variant == "tensors":
        params, losses = fit_tensors(params, x, y, lr=hp["lr"], steps=steps, clock=clock)
    elif variant in ("autograd", "legendre"):
        params, losses = fit_autograd(params, x, y, lr=hp["lr"], steps=steps, clock=clock, model=MODELS[hp["model"]])
    elif variant == "nn":
        losses = fit_nn(model, features(x), y, lr=hp["lr"], steps=steps, clock=clock)
    else:
        losses = fit_optim(model, features(x), y, tx=tx or rmsprop(hp), steps=steps, clock=clock)
    _common.check_finite(losses, spec.name)
    out = (model_coefficients(model) if model is not None
           else {k: np.asarray(p) for k, p in zip(polyfit.COEFFS, params)})
    return out, np.asarray(losses), clock


def rmsprop_optax_defaults(spec, cfg: RunConfig, coeffs: dict, steps: int | None = None):
    """The optim variant with optax.rmsprop(lr) as is (decay 0.9, eps inside the sqrt): the
    translation hazard. Returns (final coefficients, losses) to set against torch's algorithm."""
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
        out, losses, _ = train_variant(spec, "optim", coeffs, cfg, device, steps=steps,
                                       tx=optax.rmsprop(spec.hp("optim")["lr"]))
    return out, losses


def run(spec, cfg: RunConfig) -> list:
    """Every variant -> one Record each (what `lessons run/compare poly_fit` calls). The optim
    record's extras hold where optax's default RMSprop lands, for the plot."""
    device = _common.select_device(cfg.device)
    seed = cfg.seed_for(spec)
    records = []
    with _common.scope(cfg, device):
        for variant in spec.variants:
            init = init_weights(spec, seed, variant)
            coeffs, losses, clock = train_variant(spec, variant, init, cfg, device, steps=cfg.epochs)
            extras = {}
            if variant == "optim":
                other, other_losses = rmsprop_optax_defaults(spec, cfg, init, steps=cfg.epochs)
                gap = np.abs(other_losses - losses) / np.abs(losses)  # per step, vs torch's algorithm
                extras["optax_defaults"] = {"loss": float(other_losses[-1]), "max_step_rel": float(gap.max()),
                                            **{k: float(v) for k, v in other.items()}}
            records.append(_common.make_record(
                spec, cfg, device, variant,
                metrics={"loss": float(losses[-1]), **{k: float(v) for k, v in coeffs.items()}},
                history={"loss": losses.tolist()}, compile_s=clock.compile_s, train_s=clock.train_s,
                steps=len(losses), samples=len(losses) * spec.hp()["points"], extras=extras))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "tensors") -> dict:
    """Per-step losses and final coefficients of one variant from given initial coefficients."""
    device = _common.select_device(cfg.device)
    with _common.scope(cfg, device):
        coeffs, losses, _ = train_variant(spec, variant, weights, cfg, device, steps=steps)
    return {"losses": losses, "weights": coeffs}


def main(argv: list[str] | None = None) -> int:
    from shared.cli import main as cli
    return cli(["run", "poly_fit", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
