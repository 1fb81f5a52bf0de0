"""hazards (JAX, Flax NNX): each translation hazard's demo, JAX's side: one function per hazard.

Each function takes the demo's ``case`` (its settings and numpy arrays in torch's layout, from
shared/lessons/hazards.py; settings in shared/specs/hazards.py) and returns named arrays in
torch's layout (NCHW), computed the way torch computes them by calling the hazard's fix from
jax_impl/_as_torch.py. Inside ``as_torch.without(NAME)`` the fix returns stock Flax or optax:
`lessons hazards --demo NAME` runs both ways against torch_impl/hazards.py, the same functions
in the same order, and torch on inputs nudged by one rounding unit.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)


def _set(layer, weight, bias):
    """The layer with the case's weight and bias, from torch's layout: a Linear's kernel is the
    weight transposed, (in, out); a Conv's is (kh, kw, in, out) from torch's (out, in, kh, kw)."""
    layer.kernel[...] = jnp.asarray(weight.T if weight.ndim == 2 else weight.transpose(2, 3, 1, 0))
    layer.bias[...] = jnp.asarray(bias)
    return layer


def _mlp(case, activation):
    """features -> hidden -> outputs, from the case's weights."""
    rngs = nnx.Rngs(0)  # the draws are overwritten by _set
    return nnx.Sequential(_set(nnx.Linear(case["features"], case["hidden"], rngs=rngs), case["w1"], case["b1"]),
                          activation,
                          _set(nnx.Linear(case["hidden"], case["outputs"], rngs=rngs), case["w2"], case["b2"]))


def _train(model, optimizer, loss_fn, batches, steps):
    """``steps`` optimizer steps over ``batches`` [(x, y), ...] in turn -> the loss per step. Clipping
    and learning-rate schedules are part of the optax optimizer."""
    @nnx.jit
    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(lambda m: loss_fn(m(x), y))(model)
        optimizer.update(model, grads)
        return loss

    losses = []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        losses.append(float(train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y))))
    return {"loss per step": np.array(losses)}


def _mse(pred, y):
    return optax.squared_error(pred, y).mean()  # nn.MSELoss()


def init(case):
    layer = nnx.Linear(case["fan_in"], case["fan_out"], **as_torch.linear_init(case["fan_in"]),
                       rngs=nnx.Rngs(case["seed"]))
    return {"weight spread (std)": layer.kernel[...].std().reshape(1), "bias spread (std)": layer.bias[...].std().reshape(1)}


def rmsprop_defaults(case):
    model = _mlp(case, nnx.tanh)
    optimizer = nnx.Optimizer(model, as_torch.rmsprop(case["lr"]), wrt=nnx.Param)
    return _train(model, optimizer, _mse, [(case["x"], case["y"])], case["steps"])


def adam_bias_correction(case):
    model = _mlp(case, nnx.tanh)
    optimizer = nnx.Optimizer(model, as_torch.adam(case["lr"]), wrt=nnx.Param)
    return _train(model, optimizer, _mse, [(case["x"], case["y"])], case["steps"])


def bn_momentum(case):
    bn = as_torch.UnbiasedVarBatchNorm(case["features"], momentum=as_torch.bn_momentum(case["momentum"]),
                                       rngs=nnx.Rngs(0))
    bn.train()
    for x in case["x"]:  # (batch_size, features)
        bn(jnp.asarray(x))
    return {"running mean": bn.mean[...], "running variance": bn.var[...]}


def bn_running_var(case):
    bn = as_torch.UnbiasedVarBatchNorm(case["channels"], momentum=as_torch.bn_momentum(case["momentum"]),
                                       rngs=nnx.Rngs(0))
    bn.train()
    for x in case["x"]:  # NCHW -> (batch_size, h, w, channels): every axis but the last is reduced
        bn(jnp.asarray(x.transpose(0, 2, 3, 1)))
    return {"running mean": bn.mean[...], "running variance": bn.var[...]}


def bce_clamp(case):
    model = nnx.Sequential(_set(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), case["w"], case["b"]), nnx.sigmoid)
    optimizer = nnx.Optimizer(model, optax.sgd(case["lr"]), wrt=nnx.Param)
    return _train(model, optimizer, as_torch.bce_loss, [(case["x"], case["y"])], case["steps"])


def tf32(case):
    a, b = jnp.asarray(case["a"]), jnp.asarray(case["b"])
    image = jnp.asarray(case["image"].transpose(0, 2, 3, 1))  # NHWC
    kernel = jnp.asarray(case["kernel"].transpose(2, 3, 1, 0))  # (kh, kw, in, out)
    conv = jax.lax.conv_general_dilated(image, kernel, (1, 1), [(1, 1), (1, 1)],
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return {"matmul": a @ b, "convolution": conv.transpose(0, 3, 1, 2)}  # the precision policy decides TF32


def conv_padding(case):
    image = jnp.asarray(case["image"].transpose(0, 2, 3, 1))  # (1, 8, 8, 1)
    c, k, rngs = case["channels"], case["kernel"], nnx.Rngs(0)
    strided = _set(nnx.Conv(1, c, (k, k), strides=2, padding=as_torch.conv_padding(1), rngs=rngs),
                   case["weight"], case["bias"])
    default = _set(nnx.Conv(1, c, (k, k), padding=as_torch.conv_padding(0), rngs=rngs), case["weight"], case["bias"])
    return {"stride 2, padding 1": strided(image).transpose(0, 3, 1, 2),
            "stride 1, default padding": default(image).transpose(0, 3, 1, 2)}


def pool_stride(case):
    k = case["kernel"]
    pooled = nnx.max_pool(jnp.asarray(case["image"].transpose(0, 2, 3, 1)), (k, k), strides=as_torch.pool_strides(k))
    return {"max pool": pooled.transpose(0, 3, 1, 2)}


def nchw_flatten(case):
    c, k, rngs = case["channels"], case["kernel"], nnx.Rngs(0)
    conv = _set(nnx.Conv(1, c, (k, k), padding="VALID", rngs=rngs), case["conv_weight"], case["conv_bias"])
    fc = _set(nnx.Linear(case["fc_weight"].shape[1], case["outputs"], rngs=rngs), case["fc_weight"], case["fc_bias"])
    features = nnx.relu(conv(jnp.asarray(case["image"].transpose(0, 2, 3, 1))))  # (n, 6, 6, 4)
    return {"logits": fc(as_torch.flatten(features))}  # (n, 144) in torch's order


def adamw(case):
    model = _mlp(case, nnx.tanh)
    optimizer = nnx.Optimizer(model, as_torch.adamw(case["lr"]), wrt=nnx.Param)
    return _train(model, optimizer, _mse, [(case["x"], case["y"])], case["steps"])


def sgd_weight_decay(case):
    model = _mlp(case, nnx.tanh)
    tx = as_torch.sgd(case["lr"], momentum=case["momentum"], weight_decay=case["weight_decay"])
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    return _train(model, optimizer, _mse, [(case["x"], case["y"])], case["steps"])


def layer_norm(case):
    ln = nnx.LayerNorm(case["features"], **as_torch.layer_norm(), rngs=nnx.Rngs(0))
    return {f"spread {s:g}": ln(jnp.asarray(x)) for s, x in zip(case["spreads"], case["x"])}


def gelu_approximate(case):
    model = _mlp(case, as_torch.gelu)
    optimizer = nnx.Optimizer(model, optax.sgd(case["lr"]), wrt=nnx.Param)
    return _train(model, optimizer, _mse, [(case["x"], case["y"])], case["steps"])


def lr_schedule_units(case):
    model = _mlp(case, nnx.tanh)
    batches = list(zip(case["x"], case["y"]))  # one epoch
    schedule = as_torch.step_lr(case["lr"], case["step_size"], case["gamma"], steps_per_epoch=len(batches))
    optimizer = nnx.Optimizer(model, optax.sgd(schedule), wrt=nnx.Param)
    return _train(model, optimizer, _mse, batches, case["epochs"] * len(batches))


def mse_l2_loss(case):
    model = _set(nnx.Linear(case["features"], 1, rngs=nnx.Rngs(0)), case["w"], case["b"])
    optimizer = nnx.Optimizer(model, optax.sgd(case["lr"]), wrt=nnx.Param)
    return _train(model, optimizer, as_torch.mse_loss, [(case["x"], case["y"])], case["steps"])


def clip_grad_norm(case):
    model = _mlp(case, nnx.tanh)
    tx = optax.chain(as_torch.clip_grad_norm(case["max_norm"], case["weight_decay"]),
                     optax.sgd(case["lr"], momentum=case["momentum"]))  # torch's clip, its decay, then SGD
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    return _train(model, optimizer, _mse, [(case["x"], case["y"])], case["steps"])
