"""gd_vs_sgd: full-batch gradient descent against minibatch SGD on MNIST 0/1."""
from shared.specs.base import Bench, LessonSpec, Parity, Target

SPEC = LessonSpec(
    name="gd_vs_sgd",
    title="Full-batch GD vs minibatch SGD on MNIST 0/1",
    teaches=(
        "A 784-32-1 MLP (ReLU, sigmoid output, BCE, Adam) separates MNIST 0s from 1s. Full-batch GD "
        "takes one step per pass over the data (700 epochs); minibatch SGD takes several smaller, "
        "noisier steps per pass, in the DataLoader's fixed order, and gets as far in 100 epochs. On a "
        "GPU the model and the data stay on the device; only the batch indices change per step."
    ),
    dataset="mnist",
    seed=21345,
    hparams={
        # Adam at torch's defaults; the course's DataLoader(ds, batch_size=2048) does not shuffle.
        "common": {"classes": (0, 1), "hidden": 32, "lr": 1e-3, "shuffle": False},
        "gd": {"epochs": 700, "batch_size": None},  # None: the whole training set
        # The course's 2048 gives full MNIST 0/1 (12,665 images) 7 batches per epoch; on the 800
        # embedded images it would be one batch, i.e. GD again. 128 keeps 7 batches per epoch.
        "sgd": {"epochs": 100, "batch_size": {"embedded": 128, "full": 2048, "fullsize": 2048}},
    },
    targets={
        "gd": Target("test_accuracy", at_least=0.99, framework_tol=0.01),
        "sgd": Target("test_accuracy", at_least=0.99, framework_tol=0.01),
    },
    course={"note": "000, section 2 D (and its GPU variant)", "seed": 21345,
            "data": "full MNIST 0/1 training images (12,665), zeros then ones (torch.concat([X0, X1]))",
            "model": "Sequential(Linear(784, 32), ReLU, Linear(32, 1), Sigmoid)", "loss": "BCELoss",
            "optimizer": "Adam()", "lr": 0.001, "shuffle": False,
            "gd": {"epochs": 700, "batch_size": "the whole set"},
            "sgd": {"epochs": 100, "batch_size": 2048},
            "evaluation": "train accuracy: GD of the last step's output, SGD of net(X) after training",
            "published": {"gd train_accuracy": 0.9998, "sgd train_accuracy": 0.9992,
                          "sgd train_accuracy (GPU variant)": 0.9992}},
    deviations={"data": "the embedded 800 training digits 0/1 by default (--data full for MNIST's 12,665)",
                "sgd": "batches of 128 on the embedded data, keeping the course's 7 batches per epoch "
                       "(2048 would be one batch, i.e. GD); 2048 with --data full",
                "evaluation": "train and test accuracy after the last step, in eval mode"},
    notes="On full MNIST the course reports train accuracy 0.9998 (GD) and 0.9992 (SGD).",
    bench=Bench(epochs=50),
    parity=Parity(
        variants=("gd", "sgd"),
        steps=None,           # the whole run: 700 steps either way on the embedded data
        first_steps=10, loss_rel=1e-5,   # the first 10 steps' losses, torch's initial weights
        final_rel=1e-3,                  # the last step's loss
        train_loop_epochs=5, train_loop_variants=("sgd",),
    ),
)
