"""multiclass: the JAX loss is torch's cross-entropy (targets and parity: test_every_lesson.py)."""
import jax.numpy as jnp
import numpy as np
import torch

from jax_impl import multiclass as jx
from shared import specs
from torch_impl import multiclass as tx

SPEC = specs.get("multiclass")


def test_loss_is_torchs_cross_entropy():
    """The JAX loss_fn is nn.CrossEntropyLoss: the same value on the same logits and integer labels."""
    rng = np.random.default_rng(SPEC.seed)
    classes = len(SPEC.hp("mlp")["classes"])
    logits, labels = rng.normal(size=(64, classes)).astype(np.float32) * 5, rng.integers(0, classes, 64)
    t = float(tx.loss_fn(lambda x: x, torch.as_tensor(logits), torch.as_tensor(labels)))
    j = float(jx.loss_fn(lambda x: x, jnp.asarray(logits), jnp.asarray(labels)))
    np.testing.assert_allclose(j, t, rtol=SPEC.parity.loss_rel)
