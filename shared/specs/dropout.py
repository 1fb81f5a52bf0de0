"""dropout: train mode vs eval mode, on a 784-512-10 MLP with Dropout on MNIST."""
from shared.specs.base import LessonSpec, Target

SPEC = LessonSpec(
    name="dropout",
    title="Dropout: train mode vs eval mode",
    teaches=(
        "Dropout zeroes each hidden unit with probability p during training and scales the survivors "
        "by 1/(1-p), so a unit's expected output is unchanged; in eval mode it is the identity. "
        "Training runs in train mode, evaluation in eval mode: model.train()/model.eval() in torch, "
        "the same methods on an NNX module (they set Dropout's `deterministic`). On the JAX side the "
        "masks' random stream is explicit: it lives in the model's state and advances every step."
    ),
    dataset="mnist",
    seed=0,
    hparams={
        # Linear(784, 512) -> ReLU -> Dropout(p) -> Linear(512, 10), cross-entropy, Adam.
        "common": {"hidden": 512, "p": 0.5, "lr": 1e-3, "batch_size": 64, "shuffle": True,
                   "drop_last": False, "epochs": 10},
    },
    targets={
        # Test accuracy in eval mode, on the embedded 1,000 test digits. The two frameworks draw
        # different masks, so they are compared by a band, not bit for bit.
        "dropout": Target("test_accuracy", at_least=0.9, framework_tol=0.02),
    },
    parity={
        "stochastic": True,   # masks come from different RNGs: `lessons parity` compares bands over seeds
        "seeds": (0, 1, 2),
        # Mask invariants (tests): the mean of N outputs of Dropout(ones) is 1 with standard
        # deviation sqrt(p / ((1 - p) N)); allow this many of them (false alarm ~2e-9 at 6).
        "mask_sigmas": 6.0,
    },
)
