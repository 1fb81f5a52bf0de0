"""What every torch lesson shares: device, precision, seeding, weight exchange, records."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import epoch_order, num_batches
from shared.config import RunConfig
from shared.errors import DivergenceError, LessonError
from shared.precision import STRICT
from shared.progress import bar
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


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn, x: torch.Tensor, y: torch.Tensor, *,
        batch_size: int, shuffle: bool, drop_last: bool, seed: int, epochs: int, name: str,
        on_epoch=None, progress: bool = False, course: bool = False) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Minibatch training over the shared batch plan. Returns (per-step losses, per-epoch history).

    The course's loop is::

        for xb, yb in DataLoader(TensorDataset(x, y), batch_size, shuffle=True):
            loss = loss_fn(model(xb), yb); optimizer.zero_grad(); loss.backward(); optimizer.step()
            print(loss.item())

    Here x and y already live on the device and each batch is ``x[idx]`` for the shared plan's
    indices: the same batches without per-sample indexing and collation, and without a device
    sync per step (losses stay in a device tensor, read once). ``on_epoch(epoch)`` returns a dict
    of metrics, evaluated in eval mode. ``course=True`` runs :func:`course_fit` instead.
    """
    if course:
        return course_fit(model, optimizer, loss_fn, x, y, batch_size=batch_size, shuffle=shuffle,
                          drop_last=drop_last, epochs=epochs, name=name, on_epoch=on_epoch, progress=progress)
    n = len(x)
    per_epoch = num_batches(n, batch_size, drop_last=drop_last)
    whole = not shuffle and batch_size >= n  # full-batch GD: no gather at all
    losses = torch.empty(epochs * per_epoch, device=x.device, dtype=x.dtype)
    history: dict[str, list[float]] = {}
    model.train()
    with bar(epochs, name, enabled=progress, unit="epoch") as pbar:
        for epoch in range(epochs):
            order = None if whole else torch.as_tensor(
                epoch_order(n, shuffle=shuffle, seed=seed, epoch=epoch), device=x.device)
            for b in range(per_epoch):
                if whole:
                    xb, yb = x, y
                else:
                    idx = order[b * batch_size:(b + 1) * batch_size]
                    xb, yb = x[idx], y[idx]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optimizer.step()
                losses[epoch * per_epoch + b] = loss.detach()
            if on_epoch is not None:
                model.eval()
                for k, v in on_epoch(epoch).items():
                    history.setdefault(k, []).append(v)
                model.train()
            pbar.update()
    check_finite(losses, name)
    return losses.cpu().numpy(), history


def course_fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn, x: torch.Tensor, y: torch.Tensor,
               *, batch_size: int, shuffle: bool, drop_last: bool, epochs: int, name: str,
               on_epoch=None, progress: bool = False) -> tuple[np.ndarray, dict[str, list[float]]]:
    """The course's loop as written (``--loop course``; `lessons bench` times it as the baseline).

    TensorDataset + DataLoader on the host (per-sample indexing, then collation), each batch
    copied to the device, ``loss.item()`` every step (a sync). DataLoader's own shuffling: the
    batches differ from the shared plan's, so use it for timing, not for parity.
    """
    loader = DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    losses, history = [], {}
    model.train()
    with bar(epochs, f"{name} (course loop)", enabled=progress, unit="epoch") as pbar:
        for epoch in range(epochs):
            for xb, yb in loader:
                xb, yb = xb.to(x.device), yb.to(x.device)
                loss = loss_fn(model(xb), yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            if on_epoch is not None:
                model.eval()
                for k, v in on_epoch(epoch).items():
                    history.setdefault(k, []).append(v)
                model.train()
            pbar.update()
    losses = np.asarray(losses)
    check_finite(torch.as_tensor(losses), name)
    return losses, history


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """The model's outputs over all of x in eval mode, in chunks."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out
