"""poly_fit (PyTorch): "Learning PyTorch with Examples", y = sin(x) fitted by a cubic, five ways.

x = linspace(-pi, pi, 2000), sum-of-squares loss, 2000 full-batch steps. Each variant has its
own step (the spec names it; train takes it as ``step``): tensors_step writes the gradients by hand (as the numpy reference in
shared/lessons/polyfit.py); autograd_step calls loss.backward() and updates under no_grad, clearing .grad
(legendre: a + b P3(c + d x), P3's backward written by hand in a torch.autograd.Function);
nn_step trains nn.Sequential(Linear(3, 1), Flatten(0, 1)) on (x, x^2, x^3) with a hand update;
train_step uses torch.optim.RMSprop. Where the course differs: it starts each variant from
unseeded torch.randn / nn.Linear draws; here both frameworks start from one numpy draw of the
same distribution (the spec lists the deviations). Also shown: .grad accumulating
(accumulated_grads) and .detach() (grads_with_detached).
Twin: jax_impl/poly_fit.py. Hazard (`lessons hazards`): rmsprop_defaults.
`lessons run` runs train() below; `--loop fast` calls the variant's step (train_step for optim) from the fast path.
"""
import numpy as np
import torch
from torch import nn

from shared.lessons import polyfit
from shared.data import sin_data


class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = (5x^3 - 3x) / 2 with its backward written by hand: dP3/dx = 1.5 (5x^2 - 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)


legendre_p3 = LegendrePolynomial3.apply


class Polynomial(nn.Module):
    """Four scalar parameters a, b, c, d: a + b x + c x^2 + d x^3 ("cubic") or a + b P3(c + d x)."""

    def __init__(self, form, coefficients):
        super().__init__()
        self.form = form
        # float64, so that the harness's cast to the run's dtype rounds the starting values once
        self.a, self.b, self.c, self.d = (nn.Parameter(torch.tensor(v, dtype=torch.float64))
                                          for v in coefficients)

    def forward(self, x):  # (n,) -> (n,)
        if self.form == "legendre":
            return self.a + self.b * legendre_p3(self.c + self.d * x)
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3


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
    model = nn.Sequential(nn.Linear(3, 1, dtype=torch.float64), nn.Flatten(0, 1))  # (n, 3) -> (n,)
    with torch.no_grad():  # bias a, weight (b, c, d)
        model[0].bias.copy_(torch.tensor([a], dtype=torch.float64))
        model[0].weight.copy_(torch.tensor([[b, c, d]], dtype=torch.float64))
    return model


def make_optimizer(model, hp):
    """RMSprop at torch's defaults (alpha 0.99, eps 1e-8) for train_step; the other steps update by hand."""
    if hp["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=hp["lr"])
    return hp["lr"]


def loss_fn(model, x, y):
    return nn.functional.mse_loss(model(x), y, reduction="sum")  # (y_pred - y).pow(2).sum()


@torch.no_grad()
def tensors_step(model, lr, x, y):
    """The numpy example in torch: the gradients written out, nothing recorded by autograd."""
    a, b, c, d = model.a, model.b, model.c, model.d
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x ** 2).sum()
    grad_d = (grad_y_pred * x ** 3).sum()
    a -= lr * grad_a
    b -= lr * grad_b
    c -= lr * grad_c
    d -= lr * grad_d
    return loss


def autograd_step(model, lr, x, y):
    """loss.backward() fills each parameter's .grad; the update must not be recorded (no_grad), and
    .grad is cleared after it: torch adds into .grad until it is."""
    loss = loss_fn(model, x, y)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
            p.grad = None
    return loss


def nn_step(model, lr, x, y):
    """The nn module updated by hand: zero_grad, backward, each parameter -= lr * grad under no_grad."""
    loss = loss_fn(model, x, y)
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= lr * param.grad
    return loss


def train_step(model, optimizer, x, y):
    loss = loss_fn(model, x, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


@torch.no_grad()
def evaluate(model, x, y):
    """The fitted coefficients (the course prints them as its result)."""
    if isinstance(model, nn.Sequential):
        coefficients = torch.cat([model[0].bias, model[0].weight[0]])  # bias a, weight (b, c, d)
    else:
        coefficients = torch.stack([model.a, model.b, model.c, model.d])
    return dict(zip(polyfit.COEFFS, coefficients))


def train(model, optimizer, data, hp, *, seed, epochs, step=train_step):
    """The course's loop: every step on all 2000 points, the loss read with .item() each time."""
    x, y = data
    losses = []
    model.train()
    for t in range(epochs):
        losses.append(step(model, optimizer, x, y).item())
    model.eval()
    return losses, [(evaluate(model, x, y), None)]


def grads_with_detached(model, x, y, detached):
    """The cubic's gradients with one coefficient used through .detach(): a constant to autograd,
    its .grad stays None (JAX: stop_gradient gives 0); the others' gradients are unchanged."""
    coefficients = {k: getattr(model, k) for k in polyfit.COEFFS}
    coefficients[detached] = coefficients[detached].detach()
    a, b, c, d = coefficients.values()
    model.zero_grad()
    (a + b * x + c * x ** 2 + d * x ** 3 - y).pow(2).sum().backward()
    return {k: None if getattr(model, k).grad is None else float(getattr(model, k).grad) for k in polyfit.COEFFS}


def accumulated_grads(model, x, y, times):
    """What .grad holds after each of ``times`` backward() calls without zeroing: k times the
    gradient after the k-th, because torch adds into .grad. (The twin has to sum explicitly.)"""
    model.zero_grad()
    out = []
    for _ in range(times):
        loss_fn(model, x, y).backward()
        out.append(np.array([float(getattr(model, k).grad) for k in polyfit.COEFFS]))
    return out


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "poly_fit", "--framework", "torch", *sys.argv[1:]]))
