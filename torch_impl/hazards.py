"""hazards (PyTorch): each translation hazard's demo, torch's side: one function per hazard.

Each function takes the demo's ``case`` (its settings and numpy arrays in torch's layout, from
shared/lessons/hazards.py; settings in shared/specs/hazards.py) and returns named arrays: what
torch computes where a default of Flax or optax computes something else. The JAX twin,
jax_impl/hazards.py, has the same functions in the same order and calls each fix of
jax_impl/_as_torch.py. `lessons hazards --demo NAME` runs both, the JAX twin once more without
the fix, and torch on inputs nudged by one rounding unit; `lessons show hazards` pairs them.
"""
import numpy as np
import torch
from torch import nn


def _set(layer, weight, bias):
    """The layer with the case's weight and bias: torch's layout, the arrays as they are."""
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight))
        layer.bias.copy_(torch.as_tensor(bias))
    return layer


def _mlp(case, activation):
    """features -> hidden -> outputs, from the case's weights."""
    return nn.Sequential(_set(nn.Linear(case["features"], case["hidden"]), case["w1"], case["b1"]), activation,
                         _set(nn.Linear(case["hidden"], case["outputs"]), case["w2"], case["b2"]))


def _train(model, optimizer, loss_fn, batches, steps, *, max_norm=None, scheduler=None):
    """``steps`` optimizer steps over ``batches`` [(x, y), ...] in turn -> the loss per step.
    ``max_norm``: clip_grad_norm_ before each step; ``scheduler``: stepped after each pass (epoch)."""
    batches = [(torch.as_tensor(x), torch.as_tensor(y)) for x, y in batches]
    losses = []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if max_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        if scheduler is not None and (step + 1) % len(batches) == 0:
            scheduler.step()  # once per epoch, as the usual torch loop does
        losses.append(loss.item())
    return {"loss per step": np.array(losses)}


def init(case):
    torch.manual_seed(case["seed"])
    layer = nn.Linear(case["fan_in"], case["fan_out"])  # weight and bias: U(+-1/sqrt(fan_in))
    return {"weight spread (std)": layer.weight.std().reshape(1), "bias spread (std)": layer.bias.std().reshape(1)}


def rmsprop_defaults(case):
    model = _mlp(case, nn.Tanh())
    optimizer = torch.optim.RMSprop(model.parameters(), lr=case["lr"])  # alpha 0.99, eps 1e-8 outside the root
    return _train(model, optimizer, nn.functional.mse_loss, [(case["x"], case["y"])], case["steps"])


def adam_bias_correction(case):
    model = _mlp(case, nn.Tanh())
    optimizer = torch.optim.Adam(model.parameters(), lr=case["lr"])  # 1 - 0.999**t computed exactly
    return _train(model, optimizer, nn.functional.mse_loss, [(case["x"], case["y"])], case["steps"])


def bn_momentum(case):
    bn = nn.BatchNorm1d(case["features"], momentum=case["momentum"])  # running = 0.9 running + 0.1 batch
    bn.train()
    for x in case["x"]:  # (batch_size, features)
        bn(torch.as_tensor(x))
    return {"running mean": bn.running_mean, "running variance": bn.running_var}


def bn_running_var(case):
    bn = nn.BatchNorm2d(case["channels"], momentum=case["momentum"])
    bn.train()
    for x in case["x"]:  # (batch_size, channels, h, w): n = batch_size * h * w values per channel
        bn(torch.as_tensor(x))
    return {"running mean": bn.running_mean, "running variance": bn.running_var}  # the unbiased n/(n-1) one


def bce_clamp(case):
    model = nn.Sequential(_set(nn.Linear(2, 1), case["w"], case["b"]), nn.Sigmoid())  # p ~ 4e-18 on every row
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
    return _train(model, optimizer, nn.functional.binary_cross_entropy, [(case["x"], case["y"])], case["steps"])


def tf32(case):
    a, b, image, kernel = (torch.as_tensor(case[k]) for k in ("a", "b", "image", "kernel"))
    return {"matmul": a @ b, "convolution": nn.functional.conv2d(image, kernel, padding=1)}  # (1, 16, 32, 32)


def conv_padding(case):
    image = torch.as_tensor(case["image"])  # (1, 1, 8, 8)
    c, k = case["channels"], case["kernel"]
    strided = _set(nn.Conv2d(1, c, k, stride=2, padding=1), case["weight"], case["bias"])
    default = _set(nn.Conv2d(1, c, k), case["weight"], case["bias"])  # padding=0
    return {"stride 2, padding 1": strided(image), "stride 1, default padding": default(image)}


def pool_stride(case):
    pool = nn.MaxPool2d(case["kernel"])  # stride = kernel_size: 28x28 -> 14x14
    return {"max pool": pool(torch.as_tensor(case["image"]))}


def nchw_flatten(case):
    c, k = case["channels"], case["kernel"]
    conv = _set(nn.Conv2d(1, c, k), case["conv_weight"], case["conv_bias"])
    fc = _set(nn.Linear(case["fc_weight"].shape[1], case["outputs"]), case["fc_weight"], case["fc_bias"])
    features = nn.functional.relu(conv(torch.as_tensor(case["image"])))  # (n, 4, 6, 6)
    return {"logits": fc(torch.flatten(features, 1))}  # (n, 144): channel, then row, then column


def adamw(case):
    model = _mlp(case, nn.Tanh())
    optimizer = torch.optim.AdamW(model.parameters(), lr=case["lr"])  # weight_decay 1e-2 by default
    return _train(model, optimizer, nn.functional.mse_loss, [(case["x"], case["y"])], case["steps"])


def sgd_weight_decay(case):
    model = _mlp(case, nn.Tanh())
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"], momentum=case["momentum"],
                                weight_decay=case["weight_decay"])  # g + wd p, then the momentum
    return _train(model, optimizer, nn.functional.mse_loss, [(case["x"], case["y"])], case["steps"])


def layer_norm(case):
    ln = nn.LayerNorm(case["features"])  # eps 1e-5, variance mean((x - mean)^2)
    return {f"spread {s:g}": ln(torch.as_tensor(x)) for s, x in zip(case["spreads"], case["x"])}


def gelu_approximate(case):
    model = _mlp(case, nn.GELU())  # exact: x * Phi(x)
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
    return _train(model, optimizer, nn.functional.mse_loss, [(case["x"], case["y"])], case["steps"])


def lr_schedule_units(case):
    model = _mlp(case, nn.Tanh())
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=case["step_size"], gamma=case["gamma"])
    batches = list(zip(case["x"], case["y"]))  # one epoch
    return _train(model, optimizer, nn.functional.mse_loss, batches, case["epochs"] * len(batches),
                  scheduler=scheduler)


def mse_l2_loss(case):
    model = _set(nn.Linear(case["features"], 1), case["w"], case["b"])
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
    return _train(model, optimizer, nn.functional.mse_loss, [(case["x"], case["y"])], case["steps"])  # mean (p - y)^2


def clip_grad_norm(case):
    model = _mlp(case, nn.Tanh())
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"], momentum=case["momentum"],
                                weight_decay=case["weight_decay"])  # the decay is added after the clip
    return _train(model, optimizer, nn.functional.mse_loss, [(case["x"], case["y"])], case["steps"],
                  max_norm=case["max_norm"])
