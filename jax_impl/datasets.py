"""datasets (JAX, Flax NNX): Dataset and DataLoader, translated.

JAX has neither: a dataset is anything with __len__ and __getitem__ (a list of (x, y) items for
the toy set), and ``loader`` is DataLoader's loop over the shared batch plan (items fetched,
stacked, put on the device). toy_batches: batches of 3 give 3, 3, 3, 1; drop_last, shuffle.
linear_full / linear_minibatch: nnx.Linear(1, 1) (torch's init) fitted by SGD on 100,000 points of
y = 2x + noise, full-batch for 200 passes vs minibatches of 1000 for 5. custom_images: the
tutorial's CustomImageDataset with PIL for read_image. transforms: x / 255 with a channel axis
(ToTensor, in numpy on the host: XLA would compute x * (1/255), 1 ulp off for 126 byte values) and
jax.nn.one_hot, on Fashion-MNIST (--data full) or the embedded MNIST digits. Labels collate to
int32 (torch: int64) unless x64 is on. The spec lists where the course differs.
Twin: torch_impl/datasets.py. Hazard (`lessons hazards`): init.
`lessons run` runs train() below; `--loop fast` scans train_step in one compiled epoch (compiled_loop.py).
"""
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from PIL import Image

from jax_impl import _as_torch as as_torch  # the hazards' fixes (shared/tools/hazards.py)
from shared.batches import BatchPlan, batch_plan
from shared.data import export_png_folder, linear_data, load_images, read_annotations, toy_data
from shared.lessons.datasets import batch_checksum, spread


def load_data(hp, source):
    """The line: x (n, 1) float32 ~ U(-1, 1), y = 2x + N(0, noise^2) (n, 1)."""
    return linear_data(hp["n"], seed=hp["data_seed"], noise=hp["noise"])


def build_model(hp, seed):
    return nnx.Linear(1, 1, **as_torch.linear_init(1), rngs=nnx.Rngs(seed))  # slope kernel, intercept bias


def make_optimizer(model, hp):
    return nnx.Optimizer(model, optax.sgd(hp["lr"]), wrt=nnx.Param)


def loss_fn(model, x, y):
    return optax.squared_error(model(x), y).mean()  # nn.MSELoss(): mean of squares


def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def evaluate(model, x, y):
    return {"slope": model.kernel[0, 0], "bias": model.bias[0]}


def train(model, optimizer, data, hp, *, seed, epochs):
    """The course's two loops: gradient descent steps on the whole set; SGD walks the batches."""
    x, y = data
    plan = BatchPlan(len(x), hp["batch_size"], shuffle=hp["shuffle"], seed=seed)
    step = nnx.jit(train_step)
    losses = []
    model.train()
    for epoch in range(epochs):
        batches = [(x, y)] if plan.whole else ((x[idx], y[idx]) for idx in plan.epoch(epoch))
        for xb, yb in batches:
            losses.append(float(step(model, optimizer, xb, yb)))
    model.eval()
    return losses, [(nnx.jit(evaluate)(model, x, y), None)]


def loader(dataset, batch_size, *, shuffle, drop_last, seed, epoch=0):
    """DataLoader's loop over the shared plan: each batch's items fetched, stacked, put on the device."""
    for idx in batch_plan(len(dataset), batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed, epoch=epoch):
        items = [dataset[int(i)] for i in idx]
        yield tuple(jnp.asarray(np.stack(column)) for column in zip(*items))


def toy_epoch(batch_size, *, shuffle, drop_last, seed, epoch=0):
    """One epoch of the toy set's batches as numpy (x (b,), y (b,)) pairs."""
    dataset = list(zip(*toy_data()))  # TensorDataset(x, y): item i is (x[i], y[i])
    return [(np.asarray(xb), np.asarray(yb)) for xb, yb in
            loader(dataset, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed, epoch=epoch)]


def toy_batches(hp, source, seed):
    """The toy exercise: every (shuffle, drop_last) case's batches, summed into one checksum."""
    epochs = [toy_epoch(hp["batch_size"], shuffle=s, drop_last=d, seed=seed) for s, d in hp["cases"]]
    return {"checksum": sum(batch_checksum(b) for b in epochs), "batches": sum(len(b) for b in epochs),
            "extras": {"dataset": hp["dataset"]}}


class CustomImageDataset:
    """Images listed in an annotations CSV ("<file>,<label>" rows) under ``img_dir``."""

    def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
        self.img_labels = read_annotations(annotations_file)
        self.img_dir = Path(img_dir)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        name, label = self.img_labels[idx]
        with Image.open(self.img_dir / name) as im:
            image = np.asarray(im)[None]  # uint8 (1, 28, 28), read_image's layout
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def read_all(dataset, batch_size):
    """Every item of ``dataset``, in order, through the loader: (images, labels) as numpy."""
    batches = list(loader(dataset, batch_size, shuffle=False, drop_last=False, seed=0))
    return np.concatenate([np.asarray(xb) for xb, _ in batches]), np.concatenate([np.asarray(yb) for _, yb in batches])


def read_png_folder(root, batch_size):
    """The training part of a PNG folder (export_png_folder's layout): uint8 (n, 1, 28, 28), int (n,)."""
    return read_all(CustomImageDataset(root / "training.csv", root / "training"), batch_size)


def custom_images(hp, source, seed):
    """The custom Dataset exercise: export images to a PNG folder and an annotations CSV, read them back."""
    with tempfile.TemporaryDirectory() as tmp:
        root = export_png_folder(spread(load_images(hp["dataset"], source), hp["items"]), Path(tmp) / "png")
        images, labels = read_png_folder(root, hp["batch_size"])
    return {"pixel_sum": images.sum(dtype=np.int64), "label_sum": labels.sum(), "items": len(labels),
            "extras": {"dataset": hp["dataset"]}}


class ImageArrayDataset:
    """In-memory images yielded as uint8 (28, 28) numpy arrays with int labels."""

    def __init__(self, images, labels, transform=None, target_transform=None):
        self.images, self.labels = images, labels
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        image, label = self.images[idx], int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def one_hot(classes):
    """The tutorial's one-hot target_transform: label -> float32 one-hot of length ``classes``."""
    return lambda y: jax.nn.one_hot(y, classes, dtype=jnp.float32)


def transformed(hp, images, labels):
    """x / 255 and one-hot over the items: float32 (n, 1, 28, 28) in [0, 1], float32 (n, classes)."""

    def to_tensor(image):  # ToTensor: uint8 (28, 28) -> float32 (1, 28, 28) in [0, 1]
        return (image.astype(np.float32) / np.float32(255))[None]

    dataset = ImageArrayDataset(images, labels, transform=to_tensor, target_transform=one_hot(hp["classes"]))
    return read_all(dataset, len(dataset))


def transforms(hp, source, seed):
    """The transforms exercise on items of hp["dataset"] from every class (Fashion-MNIST with --data full)."""
    split = spread(load_images(hp["dataset"], source), hp["items"])
    x, y = transformed(hp, split.x_train, split.y_train)
    return {"pixel_sum": x.sum(dtype=np.float64), "label_sum": (y @ np.arange(hp["classes"])).sum(),
            "extras": {"dataset": hp["dataset"]}}


if __name__ == "__main__":
    import sys
    from shared.cli import main
    raise SystemExit(main(["run", "datasets", "--framework", "jax", *sys.argv[1:]]))
