"""multiclass: three MNIST digits with a softmax output and cross-entropy on integer labels."""
from shared.specs.base import LessonSpec, Target

SPEC = LessonSpec(
    name="multiclass",
    title="Multiclass classification of MNIST 0/1/2",
    teaches=(
        "From two classes to three: the output layer grows to 3 logits and the loss becomes "
        "cross-entropy on integer labels (log-softmax inside the loss, no softmax layer). A "
        "784-32-3 MLP with Adam, 100 full-batch epochs."
    ),
    dataset="mnist",
    seed=0,
    hparams={
        "common": {"classes": (0, 1, 2), "hidden": 32, "lr": 1e-3, "epochs": 100},  # Adam at torch's defaults
    },
    targets={
        "mlp": Target("test_accuracy", at_least=0.97, framework_tol=0.01),
    },
    notes="On full MNIST the course reports train accuracy 0.9827.",
    bench={"epochs": 50},
    parity={
        "variants": ("mlp",),
        "steps": None,        # the whole run: 100 full-batch steps
        "first_steps": 10, "loss_rel": 1e-5,
        "final_rel": 1e-3,
    },
)
