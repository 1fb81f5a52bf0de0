"""dropout: train mode vs eval mode, on a 784-512-10 MLP with Dropout on MNIST."""
from shared.specs.base import LessonSpec, Parity, RunShape, Target

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
        # Linear(784, 512) -> ReLU -> Dropout(p) -> Linear(512, 10), cross-entropy, Adam: the course's
        # model (004, section 1) with the parameters its full code sets (section 3).
        "common": {"hidden": 512, "p": 0.3, "lr": 0.01, "batch_size": 32, "shuffle": True,
                   "drop_last": True, "epochs": 10},
    },
    shape=RunShape(eval_each_epoch=True),
    targets={
        # Test accuracy in eval mode, on the embedded 1,000 test digits. The two frameworks draw
        # different masks, so they are compared by a band, not bit for bit: every seed in
        # tol_seeds meets at_least, and framework_tol bounds the gap between the seed means
        # (one seed's gap: 0.017 at seed 0 at the lower bounds).
        "dropout": Target("test_accuracy", at_least=0.9, framework_tol=0.02, tol_seeds=(0, 1, 2)),
    },
    course={
        # Section 1 gives the model and the modes; it elides its loop and writes the full code,
        # with the parameters block below, in section 3 (after BatchNorm).
        "note": "004, section 1 (Dropout) and section 3's parameters",
        "model": "torch.nn.Sequential(linear1, relu, dropout, linear2): Linear(784, 512), ReLU, "
                 "Dropout(p=drop_prob), Linear(512, 10)",
        "data": "MNIST through torchvision, ToTensor: 60,000 training and 10,000 test images (section 3)",
        "hidden": 512, "p": "drop_prob = 0.3", "lr": "learning_rate = 0.01", "epochs": "training_epochs = 10",
        "batch_size": "batch_size = 32", "shuffle": "DataLoader(shuffle=True)",
        "drop_last": "DataLoader(drop_last=True)", "optimizer": "Adam", "loss": "CrossEntropyLoss()",
        "seed": "none set",
        "modes": "model.train() before the epoch loop ('dropout=True'); for the test, with torch.no_grad(): "
                 "model.eval() ('dropout=False')",
        "evaluation": "section 1 elides it ('# Test model and check accuracy'); section 3: after each epoch "
                      "in eval mode, loss and accuracy averaged over the train and test loaders' batches",
        "published": {},   # section 1 prints no result; section 3's are figures of the 784-32-32-10 models
    },
    deviations={
        "seed": "the course sets none; 0, so that runs repeat (torch's masks from the harness's seeded "
                "generator, JAX's from nnx.Rngs(seed))",
        "data": "the embedded 4,000 training / 1,000 test digits by default (--data full for MNIST's 60k/10k)",
        "evaluation": "over every sample of each split in one pass, in eval mode after each epoch, not the "
                      "mean over drop_last batches (the same up to the test images drop_last leaves out)",
    },
    parity=Parity(
        stochastic=True,      # masks come from different RNGs: `lessons parity` compares bands over tol_seeds
        train_loop_epochs=2,
        # Mask invariants (tests): the mean of N outputs of Dropout(ones) is 1 with standard
        # deviation sqrt(p / ((1 - p) N)); allow this many of them (false alarm ~2e-9 at 6).
        extras={"mask_sigmas": 6.0},
    ),
)
