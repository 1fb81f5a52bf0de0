"""datasets (PyTorch): Dataset and DataLoader.

1. Toy set: x = 0..9, y = [1]*5 + [0]*5 in a TensorDataset; DataLoader(batch_size=3) gives
   batches of 3, 3, 3, 1; drop_last drops the 1; shuffle permutes the items each epoch.
2. Linear regression on 100,000 points of y = 2x + noise: one nn.Linear(1, 1), SGD on MSE,
   full-batch (200 steps, 200 passes over the data) vs minibatches of 1000 (500 steps, 5 passes).
   Both find slope ~2; the minibatch run sees 40x fewer samples.
3. A custom Dataset (the PyTorch tutorial's CustomImageDataset): an annotations CSV and a PNG
   folder, __len__ and __getitem__ over torchvision.io.read_image, transform and target_transform.
4. Transforms: ToTensor() (uint8 (28, 28) -> float32 (1, 28, 28) in [0, 1]) and a one-hot
   target_transform, on Fashion-MNIST when present, else on the embedded MNIST digits.

Twin: jax_impl/datasets.py. Where the two differ:
- Shuffling: DataLoader(shuffle=True) draws its permutation from torch's generator, which JAX
  cannot reproduce. Here a shuffled loader takes ``sampler=`` the shared plan's epoch order
  (shared.batches.epoch_order; any iterable of indices is a sampler), so both frameworks see
  the same batches; batch_size and drop_last stay DataLoader's own.
- JAX has no DataLoader: its twin indexes arrays with shared.batches.batch_plan.
- Linear regression trains through _common.fit: the data sit on the device and each batch is
  x[idx] for the plan's indices, the DataLoader's batches without per-item collation.
- init: nn.Linear's U(+-1/sqrt(fan_in)); the twin uses the same (_common.linear).
- read_image is deprecated since torchvision 0.29 (warns; torchcodec replaces it); the tutorial uses it.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision.io import read_image
from torchvision.transforms import Lambda, ToTensor

from shared.batches import epoch_order, epochs_for
from shared.config import RunConfig
from shared.data import export_png_folder, linear_data, load_images, read_annotations, toy_data
from shared.specs.datasets import batch_checksum, transform_split
from shared.timing import Stopwatch
from torch_impl import _common


# 1. Toy batches ---------------------------------------------------------------------------------

def loader(dataset, batch_size: int, *, shuffle: bool, drop_last: bool, seed: int, epoch: int = 0) -> DataLoader:
    """The course's DataLoader; shuffled, it takes the shared plan's order for ``epoch`` as its sampler."""
    if not shuffle:
        return DataLoader(dataset, batch_size=batch_size, drop_last=drop_last)
    order = epoch_order(len(dataset), shuffle=True, seed=seed, epoch=epoch).tolist()
    return DataLoader(dataset, batch_size=batch_size, sampler=order, drop_last=drop_last)


def toy_batches(batch_size: int, *, shuffle: bool, drop_last: bool, seed: int, epoch: int = 0) -> list:
    """One epoch of the toy set's batches as numpy (x (b,), y (b,)) pairs."""
    dataset = TensorDataset(*(torch.as_tensor(a) for a in toy_data()))
    return [(xb.numpy(), yb.numpy()) for xb, yb in
            loader(dataset, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed, epoch=epoch)]


# 2. Linear regression, full batch vs minibatch ------------------------------------------------

def build_model(seed: int) -> nn.Linear:
    with _common.seeded(seed):
        return nn.Linear(1, 1)


def init_weights(spec, seed: int, variant: str = "linear_full") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(seed))


def fit_linear(hp: dict, cfg: RunConfig, device: torch.device, *, seed: int, weights=None, epochs=None):
    """SGD on MSE over the shared batch plan. Returns (model, per-step losses, Stopwatch, n)."""
    dtype = _common.dtype_of(cfg.dtype)
    x, y = _common.to_tensors(*linear_data(hp["n"], seed=seed, noise=hp["noise"]), device=device, dtype=dtype)
    model = build_model(seed).to(device, dtype)
    if weights is not None:
        _common.import_weights(model, weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=hp["lr"])
    clock = Stopwatch()
    with clock.training():
        losses, _ = _common.fit(model, optimizer, nn.MSELoss(), x, y, batch_size=hp["batch_size"] or hp["n"],
                                shuffle=hp["shuffle"], drop_last=False, seed=seed, epochs=epochs or hp["epochs"],
                                name="datasets linear torch", progress=cfg.progress)
        _common.sync(device)
    return model, losses, clock, len(x)


def slope(model: nn.Linear) -> float:
    return float(model.weight.detach().reshape(()))


# 3. A custom image dataset ----------------------------------------------------------------------

class CustomImageDataset(Dataset):
    """Images listed in an annotations CSV ("<file>,<label>" rows) under ``img_dir``.

    The tutorial reads the CSV with pandas.read_csv, which takes the first row as a header;
    shared.data.read_annotations keeps every row.
    """

    def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
        self.img_labels = read_annotations(annotations_file)
        self.img_dir = Path(img_dir)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.img_labels)

    def __getitem__(self, idx: int):
        name, label = self.img_labels[idx]
        image = read_image(str(self.img_dir / name))  # uint8 (1, 28, 28)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def read_all(dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every item of ``dataset``, in order, through a DataLoader: (images, labels) as numpy."""
    batches = list(loader(dataset, batch_size, shuffle=False, drop_last=False, seed=0))
    return (torch.cat([xb for xb, _ in batches]).numpy(), torch.cat([yb for _, yb in batches]).numpy())


def custom_images(hp: dict, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """The training part of a PNG folder (export_png_folder's layout): uint8 (n, 1, 28, 28), int64 (n,)."""
    dataset = CustomImageDataset(root / "training.csv", root / "training")
    return read_all(dataset, hp["batch_size"])


# 4. Transforms ----------------------------------------------------------------------------------

class ImageArrayDataset(Dataset):
    """In-memory images yielded as PIL images with int labels, as torchvision.datasets.FashionMNIST does."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None, target_transform=None):
        self.images, self.labels = images, labels
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int):
        image, label = Image.fromarray(self.images[idx]), int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def one_hot(classes: int) -> Lambda:
    """The tutorial's target_transform: label -> float32 one-hot of length ``classes``."""
    return Lambda(lambda y: torch.zeros(classes, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))


def transformed(hp: dict, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ToTensor and one-hot over the items: float32 (n, 1, 28, 28) in [0, 1], float32 (n, classes)."""
    dataset = ImageArrayDataset(images, labels, transform=ToTensor(), target_transform=one_hot(hp["classes"]))
    return read_all(dataset, len(dataset))


def run(spec, cfg: RunConfig) -> list:
    """All five variants -> one Record each (what `lessons run/compare datasets` calls)."""
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    seed = cfg.seed_for(spec)

    hp = spec.hp("toy_batches")
    plans = [toy_batches(hp["batch_size"], shuffle=s, drop_last=d, seed=seed) for s, d in hp["cases"]]
    records = [_common.make_record(spec, cfg, device, "toy_batches", metrics={
        "checksum": sum(batch_checksum(p) for p in plans), "batches": float(sum(len(p) for p in plans))})]

    for variant in ("linear_full", "linear_minibatch"):
        hp = spec.hp(variant)
        epochs = cfg.epochs or hp["epochs"]
        model, losses, clock, n = fit_linear(hp, cfg, device, seed=seed, epochs=epochs)
        records.append(_common.make_record(
            spec, cfg, device, variant,
            metrics={"slope": slope(model), "bias": float(model.bias.detach().reshape(())), "loss": float(losses[-1])},
            history={"step_loss": losses.tolist()}, train_s=clock.train_s, steps=len(losses), samples=epochs * n))

    hp = spec.hp("custom_images")
    with tempfile.TemporaryDirectory() as tmp:
        root = export_png_folder(load_images(hp["dataset"], cfg.data, mirror=cfg.mirror), Path(tmp) / "png",
                                 per_part=hp["per_part"])
        images, labels = custom_images(hp, root)
    records.append(_common.make_record(spec, cfg, device, "custom_images", metrics={
        "pixel_sum": float(images.sum(dtype=np.int64)), "label_sum": float(labels.sum()), "items": float(len(labels))}))

    hp = spec.hp("transforms")
    name, split = transform_split(cfg.data, cfg.mirror)
    x, y = transformed(hp, split.x_train[:hp["items"]], split.y_train[:hp["items"]])
    records.append(_common.make_record(spec, cfg, device, "transforms", metrics={
        "pixel_sum": float(x.sum(dtype=np.float64)), "label_sum": float((y @ np.arange(hp["classes"])).sum())},
        extras={"dataset": name}))
    return records


def parity_trace(spec, cfg: RunConfig, weights: dict, steps: int | None = None, variant: str = "linear_full") -> dict:
    """Per-step losses and final weights of one linear variant from given initial weights.

    ``steps`` is rounded up to whole epochs (minibatch SGD has several steps per epoch); None: the whole run.
    """
    device = _common.select_device(cfg.device)
    _common.set_precision(cfg.precision)
    hp = spec.hp(variant)
    epochs = epochs_for(steps, hp["n"], hp["batch_size"] or hp["n"], drop_last=False)
    model, losses, _, _ = fit_linear(hp, cfg.replace(progress=False), device, seed=cfg.seed_for(spec),
                                     weights=weights, epochs=epochs)
    return {"losses": losses, "weights": _common.export_weights(model), "slope": slope(model)}


def main(argv: list[str] | None = None) -> int:
    """Print the toy batches, then run the lesson."""
    from shared import specs
    from shared.cli import main as cli

    spec = specs.get("datasets")
    hp = spec.hp("toy_batches")
    for shuffle, drop_last in hp["cases"]:
        batches = toy_batches(hp["batch_size"], shuffle=shuffle, drop_last=drop_last, seed=spec.seed)
        print(f"shuffle={shuffle!s:5} drop_last={drop_last!s:5}",
              "  ".join(f"x={xb.astype(int).tolist()} y={yb.astype(int).tolist()}" for xb, yb in batches))
    return cli(["run", "datasets", "--framework", "torch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
