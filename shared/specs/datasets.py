"""datasets: Dataset and DataLoader, the toy batches, SGD on 100,000 points, custom image datasets, transforms."""
from __future__ import annotations

from shared.lessons.datasets import TOY_CASES, plan_checksum
from shared.specs.base import LessonSpec, Parity, RunShape, Target

SEED = 0
TOY_BATCH = 3
# The line both linear variants fit; its data seed is part of the data, apart from the run's seed.
LINEAR = {"n": 100_000, "noise": 1.0, "data_seed": 0, "lr": 0.1, "dataset": "line: y = 2x + noise, 100,000 points"}

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
        "toy_batches": {"batch_size": TOY_BATCH, "cases": TOY_CASES, "dataset": "toy: x = 0..9"},
        # Same data and lr for both, so the step count is the only difference. The slope's error
        # shrinks by (1 - lr * 2/3) per step (E[x^2] = 1/3): 0.933^200 ~ 1e-6 for GD. SGD's
        # minibatch noise leaves its slope within ~0.01 (one sd) of the least-squares one
        # (largest |slope - 2| over seeds 0-11: 0.021; GD: 0.008).
        "linear_full": {**LINEAR, "batch_size": None, "epochs": 200, "shuffle": False},  # None: all n
        "linear_minibatch": {**LINEAR, "batch_size": 1000, "epochs": 5, "shuffle": True},
        "custom_images": {"dataset": "mnist", "items": 64, "batch_size": 16},
        # Fashion-MNIST, as the course, where the full data sets are asked for; it has no embedded
        # copy, so --data embedded uses the embedded MNIST digits (the record's extras name it).
        "transforms": {"items": 64, "classes": 10,
                       "dataset": {"embedded": "mnist", "full": "fashion_mnist", "fullsize": "fashion_mnist"}},
    },
    # Exercises: the lesson's function of the variant's name returns the metrics.
    shape=RunShape(exercises=("toy_batches", "custom_images", "transforms")),
    targets={
        # The checksum of shared's plan itself: DataLoader and the JAX indexing must both give it.
        "toy_batches": Target("checksum", approx=plan_checksum(TOY_BATCH, SEED), rel=0.0, framework_tol=0.0),
        "linear_full": Target("slope", approx=2.0, rel=0.02, framework_tol=1e-4),
        "linear_minibatch": Target("slope", approx=2.0, rel=0.02, framework_tol=1e-4),
        # Sums of the pixels read (uint8 for the PNGs, x/255 for the transforms): bit-identical.
        "custom_images": Target("pixel_sum", at_least=1.0, framework_tol=0.0),
        "transforms": Target("pixel_sum", at_least=1.0, framework_tol=0.0),
    },
    course={
        "note": "000, section 2 A-C (the 100,000-point line, TensorDataset / DataLoader); 001, section 2 "
                "(CustomImageDataset, FashionMNIST with ToTensor and a one-hot Lambda)",
        "seed": "none",
        "toy_batches": "x = tensor(range(10)).float().reshape(-1, 1), y = [1.0]*5 + [0.0]*5 (10, 1); "
                       "DataLoader(TensorDataset(x, y), batch_size=3), not shuffled",
        "linear": "x = linspace(-10, 10, 100000) (n, 1), y = 2x + randn; plotted as the reason for SGD, "
                  "no model trained on it",
        "custom_images": "CustomImageDataset(annotations_file, img_dir, transform, target_transform): "
                         "pandas.read_csv, os.path.join, torchvision.io.read_image",
        "transforms": "datasets.FashionMNIST(train=True, transform=ToTensor(), target_transform=Lambda(one-hot "
                      "of 10 by scatter_))",
        "published": {"toy_batches": "x [0, 1, 2] y [1, 1, 1]; x [3, 4, 5] y [1, 1, 0]; x [6, 7, 8] y [0, 0, 0]; "
                                     "x [9] y [0]"},
    },
    deviations={
        "seed": "0: the shuffled toy epochs and the line's noise are drawn from numpy (seeded), the same in "
                "both frameworks; the course shuffles nothing and draws its noise unseeded",
        "toy_batches": "x and y as (10,) vectors; besides the course's batch_size=3 the exercise also runs "
                       "drop_last and shuffle (the shared plan's order as the DataLoader's sampler)",
        "linear": "x ~ U(-1, 1), y = 2x + N(0, 1), fitted by nn.Linear(1, 1) with MSELoss and SGD lr 0.1: GD "
                  "200 epochs vs minibatches of 1000, shuffled, 5 epochs. At the course's x range "
                  "(-10..10) the slope's curvature is 33x the intercept's: an lr that keeps GD stable "
                  "(1e-3) leaves the intercept unconverged after 2000 steps, and the minibatch slope then "
                  "depends on the start by 4e-4 (the frameworks' tolerance is 1e-4)",
        "custom_images": "a PNG folder of 64 training digits spread over the set (embedded MNIST, or MNIST "
                         "with --data full) with an annotations CSV; read with the csv module, every row (pandas "
                         "would take the first row as a header)",
        "transforms": "Fashion-MNIST only with --data full (it has no embedded copy); the embedded MNIST "
                      "digits otherwise; 64 items spread over the training set",
    },
    notes="The transforms exercise uses Fashion-MNIST with --data full and the embedded MNIST digits with "
          "--data embedded; the record's extras name the data set.",
    parity=Parity(
        variants=("linear_full", "linear_minibatch"),
        steps=None,           # the whole run: 200 and 500 steps
        loss_rel=1e-5,        # float32, every step: the fit contracts, nothing amplifies rounding
        train_loop_epochs=1, train_loop_variants=("linear_full", "linear_minibatch"), train_loop_tol=1e-6,
        notes=("float32 full batch: each loss is a mean of 100,000 terms, and torch and XLA sum them in "
                  "different orders, ~1e-6 apart; the one-ulp weight nudge of the control does not move the "
                  "sum that much. In float64 both variants agree to 2e-15 at every step."),
    ),
)
