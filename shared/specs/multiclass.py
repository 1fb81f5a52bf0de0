"""multiclass: three MNIST digits with a softmax output and cross-entropy on integer labels."""
from shared.specs.base import Bench, LessonSpec, Parity, Target

SPEC = LessonSpec(
    name="multiclass",
    title="Multiclass classification of MNIST 0/1/2",
    teaches=(
        "From two classes to three: the output layer grows to 3 logits and the loss becomes "
        "cross-entropy on integer labels (log-softmax inside the loss, no softmax layer). A "
        "784-32-3 MLP with Adam, 100 full-batch epochs."
    ),
    dataset="mnist",
    seed=43052,
    hparams={
        "common": {"classes": (0, 1, 2), "hidden": 32, "lr": 1e-3, "epochs": 100,  # Adam at torch's defaults
                   "batch_size": None, "shuffle": False},                          # None: the whole set
    },
    targets={
        "mlp": Target("test_accuracy", at_least=0.97, framework_tol=0.01),
    },
    course={"note": "000, section 5", "seed": 43052, "data": "full MNIST 0/1/2 (18,623 training images)",
            "model": "Linear(784, 32), ReLU, Linear(32, 3)", "loss": "CrossEntropyLoss", "optimizer": "Adam()",
            "epochs": 100, "batch_size": "the whole set", "evaluation": "train accuracy of the last step's output",
            "published": {"train_accuracy": 0.9827}},
    deviations={"data": "the embedded 1,200 training digits 0/1/2 by default (--data full for MNIST's)",
                "evaluation": "train and test accuracy after the last step, in eval mode"},
    notes="On full MNIST the course reports train accuracy 0.9827.",
    bench=Bench(epochs=50),
    parity=Parity(
        variants=("mlp",),
        steps=None,           # the whole run: 100 full-batch steps
        first_steps=10, loss_rel=1e-5,
        final_rel=1e-3,
        train_loop_epochs=5,
    ),
)
