"""datasets (PyTorch): Dataset and DataLoader, as the course shows them.

toy_batches: TensorDataset of x = 0..9, y = [1]*5 + [0]*5; DataLoader(batch_size=3) gives 3, 3, 3, 1;
drop_last drops the 1; shuffle permutes per epoch (here in the shared plan's order, so both
frameworks see the same batches). linear_full / linear_minibatch: nn.Linear(1, 1) fitted by SGD
on 100,000 points of y = 2x + noise, full-batch for 200 passes vs minibatches of 1000 for 5, the
course's reason for SGD. custom_images: the tutorial's CustomImageDataset (annotations CSV, PNG
folder, read_image). transforms: ToTensor and a one-hot Lambda target_transform, on Fashion-MNIST
(--data full) or the embedded MNIST digits. The course plots the line but trains nothing on it,
and uses pandas for the CSV (the spec lists the deviations).
Twin: jax_impl/datasets.py. Hazard (`lessons hazards`): init.
`lessons run` runs train() below; `--loop fast` calls train_step from the harness's fast path.
"""
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision.io import read_image
from torchvision.transforms import Lambda, ToTensor

from shared.batches import BatchPlan, epoch_order
from shared.data import export_png_folder, linear_data, load_images, read_annotations, toy_data
from shared.lessons.datasets import batch_checksum, spread


def load_data(hp, source):
    """The line: x (n, 1) float32 ~ U(-1, 1), y = 2x + N(0, noise^2) (n, 1)."""
    return linear_data(hp["n"], seed=hp["data_seed"], noise=hp["noise"])


def build_model(hp, seed):
    torch.manual_seed(seed)
    return nn.Linear(1, 1)  # (n, 1) -> (n, 1): slope weight, intercept bias


def make_optimizer(model, hp):
    return torch.optim.SGD(model.parameters(), lr=hp["lr"])


def loss_fn(model, x, y):
    return nn.functional.mse_loss(model(x), y)  # nn.MSELoss(): mean of squares


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model, x, y)
    loss.backward()
    optimizer.step()
    return loss


@torch.no_grad()
def evaluate(model, x, y):
    return {"slope": model.weight.item(), "bias": model.bias.item()}


def train(model, optimizer, data, hp, *, seed, epochs):
    """The course's two loops: gradient descent steps on the whole set; SGD walks a DataLoader."""
    x, y = data
    plan = BatchPlan(len(x), hp["batch_size"], shuffle=hp["shuffle"], seed=seed)
    dataset = TensorDataset(x, y)
    losses = []
    model.train()
    for epoch in range(epochs):
        batches = [(x, y)] if plan.whole else DataLoader(dataset, batch_sampler=plan.epoch(epoch))
        for xb, yb in batches:
            losses.append(train_step(model, optimizer, xb, yb).item())
    model.eval()
    return losses, [(evaluate(model, x, y), None)]


def loader(dataset, batch_size, *, shuffle, drop_last, seed, epoch=0):
    """The course's DataLoader; shuffled, it takes the shared plan's order for ``epoch`` as its sampler."""
    if not shuffle:
        return DataLoader(dataset, batch_size=batch_size, drop_last=drop_last)
    order = epoch_order(len(dataset), shuffle=True, seed=seed, epoch=epoch).tolist()
    return DataLoader(dataset, batch_size=batch_size, sampler=order, drop_last=drop_last)


def toy_epoch(batch_size, *, shuffle, drop_last, seed, epoch=0):
    """One epoch of the toy set's batches as numpy (x (b,), y (b,)) pairs."""
    dataset = TensorDataset(*(torch.as_tensor(a) for a in toy_data()))
    return [(xb.numpy(), yb.numpy()) for xb, yb in
            loader(dataset, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed, epoch=epoch)]


def toy_batches(hp, source, seed):
    """The toy exercise: every (shuffle, drop_last) case's batches, summed into one checksum."""
    epochs = [toy_epoch(hp["batch_size"], shuffle=s, drop_last=d, seed=seed) for s, d in hp["cases"]]
    return {"checksum": sum(batch_checksum(b) for b in epochs), "batches": sum(len(b) for b in epochs),
            "extras": {"dataset": hp["dataset"]}}


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

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        name, label = self.img_labels[idx]
        image = read_image(str(self.img_dir / name))  # uint8 (1, 28, 28)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def read_all(dataset, batch_size):
    """Every item of ``dataset``, in order, through a DataLoader: (images, labels) as numpy."""
    batches = list(loader(dataset, batch_size, shuffle=False, drop_last=False, seed=0))
    return torch.cat([xb for xb, _ in batches]).numpy(), torch.cat([yb for _, yb in batches]).numpy()


def read_png_folder(root, batch_size):
    """The training part of a PNG folder (export_png_folder's layout): uint8 (n, 1, 28, 28), int64 (n,)."""
    return read_all(CustomImageDataset(root / "training.csv", root / "training"), batch_size)


def custom_images(hp, source, seed):
    """The custom Dataset exercise: export images to a PNG folder and an annotations CSV, read them back."""
    with tempfile.TemporaryDirectory() as tmp:
        root = export_png_folder(spread(load_images(hp["dataset"], source), hp["items"]), Path(tmp) / "png")
        images, labels = read_png_folder(root, hp["batch_size"])
    return {"pixel_sum": images.sum(dtype=np.int64), "label_sum": labels.sum(), "items": len(labels),
            "extras": {"dataset": hp["dataset"]}}


class ImageArrayDataset(Dataset):
    """In-memory images yielded as PIL images with int labels, as torchvision.datasets.FashionMNIST does."""

    def __init__(self, images, labels, transform=None, target_transform=None):
        self.images, self.labels = images, labels
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        image, label = Image.fromarray(self.images[idx]), int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def one_hot(classes):
    """The tutorial's target_transform: label -> float32 one-hot of length ``classes``."""
    return Lambda(lambda y: torch.zeros(classes, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))


def transformed(hp, images, labels):
    """ToTensor and one-hot over the items: float32 (n, 1, 28, 28) in [0, 1], float32 (n, classes)."""
    dataset = ImageArrayDataset(images, labels, transform=ToTensor(), target_transform=one_hot(hp["classes"]))
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
    raise SystemExit(main(["run", "datasets", "--framework", "torch", *sys.argv[1:]]))
