"""datasets: Dataset and DataLoader, the toy batches, SGD on 100,000 points, custom image datasets, transforms."""
from __future__ import annotations

import sys

from shared.batches import batch_plan
from shared.data import ImageSplit, load_images, toy_data
from shared.errors import DataError
from shared.specs.base import LessonSpec, Target

TOY_CASES = ((False, False), (False, True), (True, False), (True, True))  # (shuffle, drop_last)


def batch_checksum(batches) -> float:
    """sum over batches b and slots i of (1000 b + i + 1) * (x + 100 y): moves if any item changes
    batch or slot, so equal checksums mean equal batches (for the toy set's small integers)."""
    return float(sum((1000 * b + i + 1) * (float(x) + 100 * float(y))
                     for b, (xb, yb) in enumerate(batches) for i, (x, y) in enumerate(zip(xb, yb))))


def plan_checksum(batch_size: int, seed: int) -> float:
    """The checksum of shared.batches' own plan over the toy set, summed over TOY_CASES: the target."""
    x, y = toy_data()
    return sum(batch_checksum([(x[idx], y[idx]) for idx in batch_plan(len(x), batch_size, shuffle=s, drop_last=d,
                                                                        seed=seed, epoch=0)])
               for s, d in TOY_CASES)


def transform_split(source: str, mirror: str | None = None) -> tuple[str, ImageSplit]:
    """Fashion-MNIST for the transforms demo when present, else the embedded MNIST digits (always
    present); returns (the dataset's name, its split) and says on stderr when it falls back."""
    try:
        return "fashion_mnist", load_images("fashion_mnist", source, mirror=mirror)
    except DataError as e:
        print(f"datasets: transforms on embedded MNIST, Fashion-MNIST is absent ({e})", file=sys.stderr)
        return "mnist", load_images("mnist", "embedded")


SEED = 0
TOY_BATCH = 3
LINEAR = {"n": 100_000, "noise": 1.0, "lr": 0.1}

SPEC = LessonSpec(
    name="datasets",
    title="Dataset and DataLoader: batches, SGD on 100,000 points, custom image datasets, transforms",
    teaches=(
        "A Dataset is __len__ and __getitem__; a DataLoader cuts it into batches (3, 3, 3, 1 for ten "
        "items; drop_last drops the 1, shuffle permutes per epoch). JAX has no DataLoader: the same "
        "batches are index arrays into device arrays. On 100,000 points of y = 2x + noise, full-batch "
        "GD needs 200 passes over the data for slope 2, minibatch SGD 5. A custom Dataset reads a PNG "
        "folder and an annotations CSV; ToTensor and a one-hot target_transform are x/255 with a "
        "channel axis and jax.nn.one_hot."
    ),
    dataset="toy, linear, mnist, fashion_mnist",
    seed=SEED,
    hparams={
        "toy_batches": {"batch_size": TOY_BATCH, "cases": TOY_CASES},
        # Same data and lr for both, so the step count is the only difference. The slope's error
        # shrinks by (1 - lr * 2/3) per step (E[x^2] = 1/3): 0.933^200 ~ 1e-6 for GD. SGD's
        # minibatch noise leaves its slope within ~0.01 (one sd) of the least-squares one
        # (largest |slope - 2| over seeds 0-11: 0.021; GD: 0.008).
        "linear_full": {**LINEAR, "batch_size": None, "epochs": 200, "shuffle": False},  # None: all n
        "linear_minibatch": {**LINEAR, "batch_size": 1000, "epochs": 5, "shuffle": True},
        "custom_images": {"dataset": "mnist", "per_part": 64, "batch_size": 16},
        "transforms": {"items": 64, "classes": 10},
    },
    targets={
        # The checksum of shared's plan itself: DataLoader and the JAX indexing must both give it.
        "toy_batches": Target("checksum", approx=plan_checksum(TOY_BATCH, SEED), rel=0.0, framework_tol=0.0),
        "linear_full": Target("slope", approx=2.0, rel=0.02, framework_tol=1e-4),
        "linear_minibatch": Target("slope", approx=2.0, rel=0.02, framework_tol=1e-4),
        # Sums of the pixels read (uint8 for the PNGs, x/255 for the transforms): bit-identical.
        "custom_images": Target("pixel_sum", at_least=1.0, framework_tol=0.0),
        "transforms": Target("pixel_sum", at_least=1.0, framework_tol=0.0),
    },
    notes="The transforms demo uses Fashion-MNIST when it is found locally, else embedded MNIST (record extras).",
    parity={
        "variants": ("linear_full", "linear_minibatch"),
        "steps": None,        # the whole run: 200 and 500 steps
        "loss_rel": 1e-5,     # float32, every step: the fit contracts, nothing amplifies rounding
        "notes": ("float32 full batch: each loss is a mean of 100,000 terms, and torch and XLA sum them in "
                  "different orders, ~1e-6 apart; the one-ulp weight nudge of the control does not move the "
                  "sum that much. In float64 both variants agree to 2e-15 at every step."),
    },
)
