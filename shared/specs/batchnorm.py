"""batchnorm: BatchNorm vs Dropout vs a plain MLP on MNIST, the course's comparison."""
from shared.specs.base import LessonSpec, Target

SPEC = LessonSpec(
    name="batchnorm",
    title="BatchNorm vs Dropout vs a plain MLP",
    teaches=(
        "Three 784-32-32-10 MLPs trained on the same batches: one with BatchNorm1d after each hidden "
        "Linear, one with Dropout(0.3) after each hidden ReLU, one plain. Per epoch: train and "
        "validation loss and accuracy over every sample, in eval mode. BatchNorm's conventions are "
        "mapped on purpose: torch's momentum 0.1 is Flax's 0.9, and torch's running variance is the "
        "unbiased n/(n-1) one where Flax's is biased; the JAX twin keeps torch's. Each model has its "
        "own layers (the course's code shares its Linear layers between the BN and Dropout models: a bug)."
    ),
    dataset="mnist",
    seed=0,
    hparams={
        "common": {"hidden": (32, 32), "lr": 0.01, "batch_size": 32, "shuffle": True, "drop_last": True,
                   "epochs": 10},
        "plain": {},
        "bn": {"bn_momentum": 0.1, "bn_eps": 1e-5},   # torch's convention; Flax's momentum is 1 - 0.1
        "dropout": {"p": 0.3},
    },
    # Validation is the test split (the embedded 1,000 digits, or MNIST's 10k with --data full),
    # so test_accuracy is the last epoch's val_accuracy.
    targets={
        "plain": Target("test_accuracy", at_least=0.85, framework_tol=0.02),
        "bn": Target("test_accuracy", at_least=0.85, framework_tol=0.02),
        "dropout": Target("test_accuracy", at_least=0.85, framework_tol=0.02),
    },
    parity={
        "variants": ("plain", "bn"),   # deterministic; the dropout model's masks differ by framework
        "steps": 10, "loss_rel": 1e-5,  # first steps from torch's initial weights, float32
        "stats_tol": 1e-6,              # BN running statistics after one step vs torch
        "notes": "",
    },
)
