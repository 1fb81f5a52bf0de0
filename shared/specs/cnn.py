"""cnn: a LeNet-style convolutional network on MNIST, where the convolution hazards meet real code."""
from shared.specs.base import Bench, LessonSpec, Parity, Target

HP = {"channels": (6, 16), "kernel": 5, "padding": (2, 0),  # conv1 keeps 28x28, conv2 takes 14x14 to 10x10
      "pool": 2,                                            # MaxPool2d(2): 2x2 windows, stride 2
      "hidden": (120, 84),                                  # fc1 (16 * 5 * 5 -> 120), fc2 (120 -> 84), fc3 (84 -> 10)
      "lr": 0.03, "momentum": 0.9, "weight_decay": 5e-4,    # torch.optim.SGD's argument names
      "batch_size": 64, "shuffle": True, "drop_last": False, "epochs": 6}


def forward_flops(hp) -> int:
    """Multiply-adds x 2 per image: each conv's k*k*in per output value, then the three Linears."""
    (c1, c2), k, (h1, h2) = hp["channels"], hp["kernel"], hp["hidden"]
    conv = 28 * 28 * c1 * k * k * 1 + 10 * 10 * c2 * k * k * c1
    return 2 * (conv + c2 * 5 * 5 * h1 + h1 * h2 + h2 * 10)


SPEC = LessonSpec(
    name="cnn",
    title="A LeNet-style CNN: convolutions, pooling, NCHW and NHWC",
    teaches=(
        "LeNet-5 with ReLU and max pooling on MNIST: Conv2d(1, 6, 5, padding=2), MaxPool2d(2), Conv2d(6, 16, 5), "
        "MaxPool2d(2), then Linear 400-120-84-10, trained with SGD (momentum 0.9, weight decay 5e-4) in batches "
        "of 64. torch's images are NCHW, Flax's NHWC, and the translation meets the convolution hazards: "
        "nnx.Conv pads 'SAME' by default, nnx.max_pool strides by 1, flattening NHWC reorders fc1's inputs, "
        "optax.sgd has no weight decay; the weight exchange moves conv kernels between (out, in, kh, kw) and "
        "(kh, kw, in, out)."
    ),
    dataset="mnist",
    seed=0,
    hparams={"common": HP},
    # The embedded digits (1,000 test images), each framework from its own initial weights, seed 0 (CPU):
    # test accuracy torch 0.962, JAX 0.967; torch over seeds 0-2: 0.953-0.962.
    targets={"lenet": Target("test_accuracy", at_least=0.94, framework_tol=0.02)},
    beyond_course=(
        "None of the five course notes trains a convolutional network; this lesson is where the convolution "
        "hazards (conv_padding, pool_stride, nchw_flatten) and sgd_weight_decay meet a real model. Its "
        "settings are LeNet-5's, with ReLU and max pooling, and the usual SGD recipe."
    ),
    bench=Bench(epochs=1, forward_flops=forward_flops(HP)),   # 938 steps on 60,000 rows
    parity=Parity(
        variants=("lenet",),
        steps=100,               # float32 steps the tests trace from torch's initial weights
        first_steps=10, loss_rel=1e-5,
        float64_steps=100,       # float64: every one of the first 100 steps
        train_loop_epochs=1,        # the lesson's own train() against the fast path
    ),
)
