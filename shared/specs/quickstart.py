"""quickstart: the PyTorch quickstart network on Fashion-MNIST, with four optimizers."""
from shared.specs.base import LessonSpec, Target

SPEC = LessonSpec(
    name="quickstart",
    title="The PyTorch quickstart on Fashion-MNIST: SGD, momentum, RMSprop, Adam",
    teaches=(
        "The PyTorch quickstart's network (Flatten, Linear(784, 512), ReLU, Linear(512, 512), ReLU, "
        "Linear(512, 10)) trained with cross-entropy on all 60,000 Fashion-MNIST images, once per "
        "optimizer the course explains: plain SGD, SGD with momentum, RMSprop and Adam, each the "
        "same algorithm in torch.optim and optax. Per-epoch test accuracy shows how fast each learns."
    ),
    dataset="fashion_mnist",
    seed=0,
    hparams={
        # The quickstart's DataLoader(batch_size=64): no shuffling, the last partial batch kept.
        "common": {"hidden": 512, "batch_size": 64, "shuffle": False, "drop_last": False, "epochs": 5},
        # The quickstart's SGD lr 1e-3 needs many more than 5 epochs; these are the usual starting
        # points for each algorithm. torch's argument names; optax is configured to the same algorithm.
        "sgd": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0},
        "momentum": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9},       # v = 0.9 v + g; p -= lr v
        "rmsprop": {"optimizer": "rmsprop", "lr": 1e-3, "alpha": 0.99, "eps": 1e-8},  # torch's alpha, eps
        "adam": {"optimizer": "adam", "lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8},  # torch's defaults
    },
    targets={
        "sgd": Target("test_accuracy", at_least=0.85, framework_tol=0.01),
        "momentum": Target("test_accuracy", at_least=0.85, framework_tol=0.01),
        "rmsprop": Target("test_accuracy", at_least=0.85, framework_tol=0.01),
        "adam": Target("test_accuracy", at_least=0.85, framework_tol=0.01),
    },
    notes="",
    parity={
        "variants": ("sgd", "momentum", "rmsprop", "adam"),
        "steps": 10,             # rounded up to whole epochs: one epoch, 938 steps
        "first_steps": 10, "loss_rel": 1e-5,
        "optimizer_steps": 5, "optimizer_rel": 1e-6,  # torch.optim vs optax on the same gradients
    },
)
