"""What every torch lesson shares: device, precision, seeding, weight exchange, records."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from shared.config import RunConfig
from shared.errors import DivergenceError, LessonError
from shared.precision import STRICT
from shared.results import Record

FRAMEWORK = "torch"


def select_device(name: str) -> torch.device:
    """cpu | gpu | auto -> torch.device; asking for a GPU that torch cannot see is an error."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise LessonError("--device gpu: torch sees no CUDA GPU; use --device cpu (or auto), or install a CUDA build of torch")
    return torch.device("cuda")


def device_kind(device: torch.device) -> str:
    return "gpu" if device.type == "cuda" else "cpu"


def set_precision(policy: str) -> None:
    """The precision policy (shared/precision.py): TF32 off unless benchmarking with defaults."""
    if policy == STRICT:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def dtype_of(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float64": torch.float64}[name]


@contextmanager
def seeded(seed: int):
    """Seed torch's RNG for a block without touching the caller's RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def export_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """Parameters and BatchNorm statistics as numpy, in torch's layout (Linear weight is (out, in))."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def import_weights(model: torch.nn.Module, weights: dict[str, np.ndarray]) -> None:
    state = model.state_dict()
    missing = set(k for k in state if not k.endswith("num_batches_tracked")) ^ set(weights)
    if missing:
        raise ValueError(f"weights do not match the model: {sorted(missing)}")
    with torch.no_grad():
        for k, v in weights.items():
            state[k].copy_(torch.as_tensor(np.asarray(v)))


def to_tensors(*arrays: np.ndarray, device: torch.device, dtype: torch.dtype | None = None):
    """Move numpy arrays to the device once; floating arrays take ``dtype``."""
    out = []
    for a in arrays:
        t = torch.as_tensor(a)
        out.append(t.to(device, dtype=dtype if (dtype is not None and t.is_floating_point()) else None))
    return out


def check_finite(losses: torch.Tensor, lesson: str) -> None:
    """Report divergence once per run (one sync), not per step."""
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        step = int(bad[0, 0])
        raise DivergenceError(lesson, FRAMEWORK, step + 1, float(losses[step]))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def versions() -> dict[str, str]:
    return {"torch": torch.__version__, "cuda": str(torch.version.cuda), "numpy": np.__version__}


def make_record(spec, cfg: RunConfig, device: torch.device, variant: str, **fields) -> Record:
    return Record(lesson=spec.name, variant=variant, framework=FRAMEWORK, device=device_kind(device),
                  data=cfg.data, dtype=cfg.dtype, precision=cfg.precision, seed=cfg.seed_for(spec),
                  versions=versions(), **fields)
