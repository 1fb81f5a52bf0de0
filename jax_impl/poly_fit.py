"""poly_fit (JAX, Flax NNX): "Learning PyTorch with Examples", y = sin(x) fitted by a cubic, five ways.

x = linspace(-pi, pi, 2000), sum-of-squares loss, 2000 full-batch steps. Each variant has its
own step (the spec names it; train takes it as ``step``): tensors_step writes the gradients by hand (as the numpy reference in
shared/lessons/polyfit.py); autograd_step takes them from nnx.value_and_grad, nothing stored or cleared
(legendre: a + b P3(c + d x), P3's backward written by hand with jax.custom_vjp); nn_step trains
nnx.Sequential(Linear(3, 1), ravel) on (x, x^2, x^3) with a hand update; train_step uses
optax.rmsprop set up as torch's (as_torch.rmsprop). Where the course differs: it starts each
variant from unseeded torch draws; here both frameworks start from one numpy draw of the same
distribution (the spec lists the deviations). Also shown: gradients summed by hand where torch
accumulates .grad (accumulated_grads), and stop_gradient for .detach() (grads_with_detached).
Twin: torch_impl/poly_fit.py. Hazard (`lessons hazards`): rmsprop_defaults.
`lessons run` runs train() below; `--loop fast` scans the variant's step (train_step for optim) in one compiled loop.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.lessons import polyfit
from shared.data import sin_data


class LegendrePolynomial3:
    """P3(x) = (5x^3 - 3x) / 2 with its backward written by hand: dP3/dx = 1.5 (5x^2 - 1).

    jax.custom_vjp takes the pair as two functions (legendre_p3.defvjp below); the forward returns
    the output and the residuals its backward needs (torch: ctx.save_for_backward)."""

    @staticmethod
    def forward(x):
        return 0.5 * (5 * x ** 3 - 3 * x), x

    @staticmethod
    def backward(x, grad_output):
        return (grad_output * 1.5 * (5 * x ** 2 - 1),)


@jax.custom_vjp
def legendre_p3(x):
    return LegendrePolynomial3.forward(x)[0]


legendre_p3.defvjp(LegendrePolynomial3.forward, LegendrePolynomial3.backward)


class Polynomial(nnx.Module):
    """Four scalar parameters a, b, c, d: a + b x + c x^2 + d x^3 ("cubic") or a + b P3(c + d x)."""

    def __init__(self, form, coefficients):
        self.form = form
        self.a, self.b, self.c, self.d = (nnx.Param(jnp.asarray(v)) for v in coefficients)

    def __call__(self, x):  # (n,) -> (n,)
        if self.form == "legendre":
            return self.a[...] + self.b[...] * legendre_p3(self.c[...] + self.d[...] * x)
        return self.a[...] + self.b[...] * x + self.c[...] * x ** 2 + self.d[...] * x ** 3


def load_data(hp, source):
    """x = linspace(-pi, pi, 2000), y = sin(x), float64 (n,); with hp["features"] x is (n, 3)."""
    x, y = sin_data(hp["points"])
    if hp["features"]:
        x = x[:, None] ** np.array([1, 2, 3])  # the course's x.unsqueeze(-1).pow(p): (x, x^2, x^3)
    return x, y


def build_model(hp, seed):
    """The variant's model at the coefficients both frameworks start from (shared/lessons/polyfit.py)."""
    a, b, c, d = (float(v) for v in polyfit.initial_coefficients(hp, seed).values())
    if not hp["features"]:
        return Polynomial(hp["model"], (a, b, c, d))

    def start(values):  # an initializer that returns these values, in the run's dtype
        def init(key, shape, dtype):
            return jnp.asarray(values).reshape(shape)
        return init

    linear = nnx.Linear(3, 1, kernel_init=start([b, c, d]), bias_init=start([a]), rngs=nnx.Rngs(seed))
    return nnx.Sequential(linear, jnp.ravel)  # (n, 3) -> (n,): bias a, kernel (b, c, d)


def make_optimizer(model, hp):
    """torch's RMSprop (alpha 0.99, eps outside the sqrt) for train_step; the other steps update by hand."""
    if hp["optimizer"] == "rmsprop":
        return nnx.Optimizer(model, as_torch.rmsprop(hp["lr"]), wrt=nnx.Param)
    return hp["lr"]


def loss_fn(model, x, y):
    return optax.squared_error(model(x), y).sum()  # (y_pred - y) ** 2, summed


def tensors_step(model, lr, x, y):
    """The numpy example in jax.numpy: the gradients written out, nothing differentiated."""
    a, b, c, d = model.a[...], model.b[...], model.c[...], model.d[...]
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = jnp.sum((y_pred - y) ** 2)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x ** 2).sum()
    grad_d = (grad_y_pred * x ** 3).sum()
    model.a[...] = a - lr * grad_a
    model.b[...] = b - lr * grad_b
    model.c[...] = c - lr * grad_c
    model.d[...] = d - lr * grad_d
    return loss


def autograd_step(model, lr, x, y):
    """nnx.value_and_grad returns the gradients; the update is outside the differentiated function
    (no no_grad), and nothing is stored on the parameters (no .grad to clear)."""
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    params = nnx.state(model, nnx.Param)
    nnx.update(model, jax.tree.map(lambda p, g: p - lr * g, params, grads))
    return loss


def nn_step(model, lr, x, y):
    """The nn module updated by hand: one tree map over its nnx.Param state."""
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    params = nnx.state(model, nnx.Param)
    nnx.update(model, jax.tree.map(lambda param, grad: param - lr * grad, params, grads))
    return loss


def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def evaluate(model, x, y):
    """The fitted coefficients (the course prints them as its result)."""
    if isinstance(model, nnx.Sequential):
        coefficients = jnp.concatenate([model.layers[0].bias[...], model.layers[0].kernel[...][:, 0]])  # a; b, c, d
    else:
        coefficients = jnp.stack([model.a[...], model.b[...], model.c[...], model.d[...]])
    return dict(zip(polyfit.COEFFS, coefficients))


def train(model, optimizer, data, hp, *, seed, epochs, step=train_step):
    """The course's loop: every step on all 2000 points, one compiled step per call, each loss read."""
    x, y = data
    step = nnx.jit(step)
    losses = []
    model.train()
    for t in range(epochs):
        losses.append(float(step(model, optimizer, x, y)))
    model.eval()
    return losses, [(nnx.jit(evaluate)(model, x, y), None)]


def grads_with_detached(model, x, y, detached):
    """The cubic's gradients with one coefficient used through jax.lax.stop_gradient: a constant to
    differentiation, its gradient is 0 (torch: .grad stays None); the others' are unchanged."""

    def loss(model):
        coefficients = {k: getattr(model, k)[...] for k in polyfit.COEFFS}
        coefficients[detached] = jax.lax.stop_gradient(coefficients[detached])
        a, b, c, d = coefficients.values()
        return jnp.sum((a + b * x + c * x ** 2 + d * x ** 3 - y) ** 2)

    grads = nnx.grad(loss)(model)
    return {k: float(grads[k][...]) for k in polyfit.COEFFS}


def accumulated_grads(model, x, y, times):
    """What torch's .grad holds after each of ``times`` backward() calls without zeroing. nnx.grad
    keeps no state: every call returns the same gradient, so accumulating (e.g. over micro-batches)
    is an explicit running sum, here k times the gradient after the k-th call."""
    total, out = 0, []
    for _ in range(times):
        grads = nnx.grad(loss_fn)(model, x, y)
        total = total + np.array([float(grads[k][...]) for k in polyfit.COEFFS])
        out.append(total)
    return out


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "poly_fit", "--framework", "jax", *sys.argv[1:]]))
