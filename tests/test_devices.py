"""The CUDA-only branches of both harnesses, exercised on CPU: device selection and its errors,
the TF32 switches of the precision policy, synchronisation and data placement."""
import jax
import numpy as np
import pytest
import torch

from jax_impl import _harness as jh
from shared.harness.config import RunConfig
from shared.errors import LessonError
from shared.harness.precision import DEFAULT
from torch_impl import _harness as th


def test_torch_gpu_request_without_a_visible_gpu_says_why(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    with pytest.raises(LessonError, match=r"built for CUDA 13.0 but finds no usable GPU .*use --device cpu"):
        th.select_device("gpu")
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(LessonError, match="CPU-only build"):
        th.select_device("gpu")
    assert th.select_device("auto").type == "cpu"


def test_torch_selects_cuda_when_it_sees_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert th.select_device("gpu").type == "cuda" and th.select_device("auto").type == "cuda"
    assert th.device_kind(torch.device("cuda")) == "gpu" and th.device_kind(torch.device("cpu")) == "cpu"


def test_jax_gpu_request_without_a_gpu_says_why(monkeypatch):
    def devices(kind=None):
        if kind == "gpu":
            raise RuntimeError("Unknown backend gpu")
        return jax.local_devices(backend="cpu")

    monkeypatch.setattr(jax, "devices", devices)
    with pytest.raises(LessonError, match=r"JAX sees no GPU .*use --device cpu"):
        jh.select_device("gpu")
    assert jh.select_device("auto").platform == "cpu"


def test_torch_strict_policy_turns_tf32_off_and_restores_it():
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        with th.placed(RunConfig(), torch.device("cpu")):
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        with th.placed(RunConfig(precision=DEFAULT), torch.device("cpu")):
            assert torch.backends.cuda.matmul.allow_tf32  # the bench runs torch's default
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = True


def test_jax_strict_policy_asks_for_float32_matmuls_unless_the_tf32_hazard_is_shown():
    device = jh.select_device("cpu")
    with jh.placed(RunConfig(), device):
        assert jax.config.jax_default_matmul_precision == "float32"
    with jh.placed(RunConfig(), device, hazard="tf32"):
        assert jax.config.jax_default_matmul_precision in (None, "default", "DEFAULT")
    with jh.placed(RunConfig(precision=DEFAULT), device):
        assert jax.config.jax_default_matmul_precision in (None, "default", "DEFAULT")
    with jh.placed(RunConfig(dtype="float64"), device):
        assert jax.numpy.zeros(1).dtype == np.float64
    assert jax.numpy.zeros(1).dtype == np.float32


def test_torch_sync_waits_for_cuda_only(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    th.sync(torch.device("cpu"))
    assert calls == []
    th.sync(torch.device("cuda"))
    assert calls == [torch.device("cuda")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_data_placement_casts_floats_and_keeps_labels(dtype):
    x, y = np.ones((4, 3), np.float32), np.arange(4)
    tx, ty = th.to_device((x, y), torch.device("cpu"), dtype)
    assert tx.dtype == th.dtype_of(dtype) and ty.dtype == torch.int64 and tx.device.type == "cpu"
    with jh.placed(RunConfig(dtype=dtype), jh.select_device("cpu")):
        jx, jy = jh.to_device((x, y), jh.select_device("cpu"), dtype)
        assert jx.dtype == jh.dtype_of(dtype) and jnp_kind(jy) == "i"
        assert {d.platform for d in jx.devices()} == {"cpu"}


def jnp_kind(a) -> str:
    return np.dtype(a.dtype).kind
