"""datasets (JAX, Flax NNX): Dataset and DataLoader, translated.

1. Toy set: x = 0..9, y = [1]*5 + [0]*5; batches of 3 give 3, 3, 3, 1; drop_last drops the 1;
   shuffle permutes the items each epoch.
2. Linear regression on 100,000 points of y = 2x + noise: one Linear(1, 1), SGD on MSE,
   full-batch (200 steps, 200 passes over the data) vs minibatches of 1000 (500 steps, 5 passes).
   Both find slope ~2; the minibatch run sees 40x fewer samples.
3. A custom dataset with the tutorial's CustomImageDataset shape: an annotations CSV and a PNG
   folder, __len__ and __getitem__ over PIL, transform and target_transform.
4. Transforms: x / 255 as float32 with a channel axis (1, 28, 28) (torchvision's ToTensor) and
   jax.nn.one_hot, on Fashion-MNIST when present, else on the embedded MNIST digits.

Twin: torch_impl/datasets.py. Where the two differ:
- JAX has no Dataset or DataLoader. TensorDataset here is a tuple of arrays indexed per item,
  and ``loader`` is DataLoader's loop: shared.batches.batch_plan gives each batch's indices
  (the shuffled order comes from numpy, seeded by (seed, epoch); torch's DataLoader takes the
  same order as its sampler), items are fetched and stacked on the host, then put on the device.
- For arrays already on the device that per-item loop is wasted work: the linear regression
  trains through _common.fit, which gathers x[idx] for the same plan inside one compiled
  lax.scan per epoch (full batch: a scan over steps). Compile time is reported apart.
- Images are decoded with PIL into numpy (read_image's uint8 (1, H, W) layout); labels
  collate to int32 (torch: int64) unless x64 is on.
- ToTensor's x / 255 runs in numpy on the host, where JAX input pipelines run anyway. In XLA,
  x / 255 becomes x * (1/255) (even for a divisor passed at run time): 1 ulp off torch's
  correctly rounded division for 126 of the 256 byte values.
- init: Flax's Linear defaults to lecun-normal weights and a zero bias; _common.linear uses
  torch's U(+-1/sqrt(fan_in)) for both.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from PIL import Image

from shared.batches import batch_plan, epochs_for
from shared.config import RunConfig
from shared.data import export_png_folder, linear_data, load_images, read_annotations, toy_data
from shared.specs.datasets import batch_checksum, transform_split
from shared.timing import Stopwatch
from jax_impl import _common


# 1. Toy batches ---------------------------------------------------------------------------------

class TensorDataset:
    """torch.utils.data.TensorDataset: item i is (a[i] for each array)."""

    def __init__(self, *arrays):
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, idx: int):
        return tuple(a[idx] for a in self.arrays)


def loader(dataset, batch_size: int, *, shuffle: bool, drop_last: bool, seed: int, epoch: int = 0):
    """DataLoader's loop over the shared plan: each batch's items fetched, stacked, put on the device."""
    for idx in batch_plan(len(dataset), batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed, epoch=epoch):
        items = [dataset[int(i)] for i in idx]
        yield tuple(jnp.asarray(np.stack(column)) for column in zip(*items))


def toy_batches(batch_size: int, *, shuffle: bool, drop_last: bool, seed: int, epoch: int = 0) -> list:
    """One epoch of the toy set's batches as numpy (x (b,), y (b,)) pairs."""
    dataset = TensorDataset(*toy_data())
    return [(np.asarray(xb), np.asarray(yb)) for xb, yb in
            loader(dataset, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed, epoch=epoch)]


# 2. Linear regression, full batch vs minibatch ------------------------------------------------

def build_model(seed: int) -> nnx.Linear:
    return _common.linear(1, 1, rngs=nnx.Rngs(seed))


def init_weights(spec, seed: int, variant: str = "linear_full") -> dict[str, np.ndarray]:
    """The freshly initialised model's weights, for the weight exchange."""
    return _common.export_weights(build_model(seed))


def fit_linear(hp: dict, cfg: RunConfig, device: jax.Device, *, seed: int, weights=None, epochs=None):
    """SGD on MSE over the shared batch plan. Returns (model, per-step losses, Stopwatch, n)."""
    dtype = _common.dtype_of(cfg.dtype)
    x, y = (jax.device_put(jnp.asarray(a, dtype), device) for a in linear_data(hp["n"], seed=seed, noise=hp["noise"]))
    model = build_model(seed)
    if weights is not None:
        _common.import_weights(model, weights)
    model = _common.cast(model, dtype)
    clock = Stopwatch()
    losses, _ = _common.fit(model, optax.sgd(hp["lr"]), lambda p, t: jnp.mean((p - t) ** 2), x, y,  # nn.MSELoss
                            batch_size=hp["batch_size"] or hp["n"], shuffle=hp["shuffle"], drop_last=False,
                            seed=seed, epochs=epochs or hp["epochs"], name="datasets linear jax", clock=clock,
                            progress=cfg.progress)
    return model, losses, clock, len(x)


def slope(model: nnx.Linear) -> float:
    return float(model.kernel.get_value().reshape(()))


# 3. A custom image dataset ----------------------------------------------------------------------

class CustomImageDataset:
    """Images listed in an annotations CSV ("<file>,<label>" rows) under ``img_dir``."""

    def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
        self.img_labels = read_annotations(annotations_file)
        self.img_dir = Path(img_dir)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.img_labels)

    def __getitem__(self, idx: int):
        name, label = self.img_labels[idx]
        with Image.open(self.img_dir / name) as im:
            image = np.asarray(im)[None]  # uint8 (1, 28, 28), read_image's layout
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def read_all(dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every item of ``dataset``, in order, through the loader: (images, labels) as numpy."""
    batches = list(loader(dataset, batch_size, shuffle=False, drop_last=False, seed=0))
    return (np.concatenate([np.asarray(xb) for xb, _ in batches]), np.concatenate([np.asarray(yb) for _, yb in batches]))


def custom_images(hp: dict, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """The training part of a PNG folder (export_png_folder's layout): uint8 (n, 1, 28, 28), int (n,)."""
    dataset = CustomImageDataset(root / "training.csv", root / "training")
    return read_all(dataset, hp["batch_size"])


# 4. Transforms ----------------------------------------------------------------------------------

class ImageArrayDataset:
    """In-memory images yielded as uint8 (28, 28) numpy arrays with int labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None, target_transform=None):
        self.images, self.labels = images, labels
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int):
        image, label = self.images[idx], int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def one_hot(classes: int):
    """The tutorial's one-hot target_transform: label -> float32 one-hot of length ``classes``."""
    return lambda y: jax.nn.one_hot(y, classes, dtype=jnp.float32)


def transformed(hp: dict, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x / 255 and one-hot over the items: float32 (n, 1, 28, 28) in [0, 1], float32 (n, classes)."""
    to_tensor = lambda image: (image.astype(np.float32) / np.float32(255))[None]  # ToTensor: (28, 28) -> (1, 28, 28)
    dataset = ImageArrayDataset(images, labels, transform=to_tensor, target_transform=one_hot(hp["classes"]))
    return read_all(dataset, len(dataset))


def run(spec, cfg: RunConfig) -> list:
    """All five variants -> one Record each (what `lessons run/compare datasets` calls)."""
    device = _common.select_device(cfg.device)
    seed = cfg.seed_for(spec)
    with _common.scope(cfg, device):
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
                metrics={"slope": slope(model), "bias": float(model.bias.get_value().reshape(())),
                         "loss": float(losses[-1])},
                history={"step_loss": losses.tolist()}, compile_s=clock.compile_s, train_s=clock.train_s,
                steps=len(losses), samples=epochs * n))

        hp = spec.hp("custom_images")
        with tempfile.TemporaryDirectory() as tmp:
            root = export_png_folder(load_images(hp["dataset"], cfg.data, mirror=cfg.mirror), Path(tmp) / "png",
                                     per_part=hp["per_part"])
            images, labels = custom_images(hp, root)
        records.append(_common.make_record(spec, cfg, device, "custom_images", metrics={
            "pixel_sum": float(images.sum(dtype=np.int64)), "label_sum": float(labels.sum()),
            "items": float(len(labels))}))

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
    hp = spec.hp(variant)
    epochs = epochs_for(steps, hp["n"], hp["batch_size"] or hp["n"], drop_last=False)
    with _common.scope(cfg, device):
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
    return cli(["run", "datasets", "--framework", "jax", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
