"""The translation hazards: where torch and Flax/optax differ by default, and what the JAX side does.

Each hazard's fix is one named function of ``jax_impl/_as_torch.py`` (or, for TF32, the precision
policy in shared/harness/precision.py). ``lessons hazards`` prints this table; ``lessons hazards
--demo NAME`` runs the hazard's demo (torch_impl/hazards.py and jax_impl/hazards.py, one function
per hazard, settings in shared/specs/hazards.py): torch, the JAX twin with the fix, without it, and
the one-ulp control, then what the hazard costs the lesson named in ``cost`` at its own settings.
``lessons parity LESSON --hazard NAME`` runs a lesson's JAX twin without the fix, step by step;
``lessons show`` and the site put each note next to the functions that call its fix (``marker``).
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.errors import LessonError


@dataclass(frozen=True)
class Hazard:
    name: str
    lessons: tuple[str, ...]  # the lessons whose JAX twin applies the fix (or whose harness does); may be none
    differs: str          # one line: what differs between the frameworks
    fix: str              # one line: what the JAX twin does about it
    marker: str           # the name a lesson's code calls to apply the fix (module jax_impl/_as_torch.py)
    evidence: str         # what `lessons parity --hazard` compares: "losses", "statistics" or "init"
    demo: str = ""        # one line: the smallest scenario where it shows (`lessons hazards --demo NAME`)
    cost: str | None = None  # the lesson whose own settings price it (final metrics with and without the fix)
    gpu_only: bool = False

    @property
    def demo_command(self) -> str:
        """The command that shows the hazard: its demo (always a visible difference)."""
        return f"lessons hazards --demo {self.name}" + (" --device gpu" if self.gpu_only else "")


HAZARDS: tuple[Hazard, ...] = (
    Hazard("init", ("datasets", "gd_vs_sgd", "multiclass", "softmax_regression", "compiled_loop", "quickstart", "xor",
                    "dropout", "batchnorm", "data_parallel", "cnn"),
           "torch's Linear and Conv2d draw weight and bias from U(+-1/sqrt(fan_in)); Flax's draw lecun-normal "
           "weights (sqrt(3) times wider) and zero biases",
           "nnx.Linear / nnx.Conv(..., **as_torch.linear_init(fan_in)): torch's distribution for kernel and bias",
           "_as_torch.linear_init", "init",
           demo="a Linear(784, 256) drawn in each framework: the spread of its weights and biases",
           cost="multiclass"),
    Hazard("rmsprop_defaults", ("poly_fit", "quickstart"),
           "torch's RMSprop: alpha 0.99, eps 1e-8 outside the square root; optax.rmsprop: decay 0.9, eps inside",
           "as_torch.rmsprop: optax.rmsprop(lr, decay=alpha, eps=eps, eps_in_sqrt=False)",
           "_as_torch.rmsprop", "losses",
           demo="a small MLP regression trained with RMSprop(lr=1e-3) from the same weights",
           cost="poly_fit"),
    Hazard("adam_bias_correction", ("gd_vs_sgd", "multiclass", "quickstart", "dropout", "batchnorm",
                                    "data_parallel"),
           "optax.adam computes 1 - 0.999**t in float32 (1.3e-5 off at step 1); torch computes it exactly",
           "as_torch.adam: optax's Adam with the bias correction as -expm1(t log b)",
           "_as_torch.adam", "losses",
           demo="a small MLP regression trained with Adam(lr=1e-2) in float32 from the same weights",
           cost="multiclass"),
    Hazard("bn_momentum", ("batchnorm",),
           "torch's BatchNorm momentum 0.1 weights the new batch; Flax's momentum weights the old running "
           "value, so torch's 0.1 is Flax's 0.9 (and nnx.BatchNorm's default 0.99 is torch's 0.01)",
           "as_torch.bn_momentum(0.1) = 0.9",
           "_as_torch.bn_momentum", "statistics",
           demo="BatchNorm1d(4) in train mode over 5 batches of 8: the running mean and variance",
           cost="batchnorm"),
    Hazard("bn_running_var", ("batchnorm",),
           "torch stores the unbiased batch variance, var * n/(n-1), in running_var (n: the values per "
           "feature); nnx.BatchNorm the biased one",
           "as_torch.UnbiasedVarBatchNorm: nnx.BatchNorm with the n/(n-1) factor on the running variance, on "
           "any input rank, and torch's error for one value per feature",
           "_as_torch.UnbiasedVarBatchNorm", "statistics",
           demo="BatchNorm2d(3) on NCHW batches and its NHWC twin: the running variance after 3 batches of 2x3x3",
           cost="batchnorm"),
    Hazard("bce_clamp", ("gd_vs_sgd", "xor"),
           "torch's BCELoss clamps each log at -100 and divides its gradient by max(p (1-p), 1e-12); "
           "a plain log gives inf and nan, and the full gradient where torch's is starved",
           "as_torch.bce_loss: the clamp, log1p(-p), and torch's backward formula",
           "_as_torch.bce_loss", "losses",
           demo="a sigmoid unit started saturated and wrong (bias -40) on the XOR table, SGD(lr=1)",
           cost="xor"),
    Hazard("tf32", ("gd_vs_sgd", "multiclass", "softmax_regression", "quickstart", "dropout", "batchnorm",
                     "data_parallel", "cnn"),
           "on a GPU JAX runs float32 matmuls and convolutions in TF32 by default; torch runs matmuls in full "
           "float32 but cuDNN convolutions in TF32 (torch.backends.cudnn.allow_tf32 is True)",
           "the strict precision policy (shared/harness/precision.py): TF32 off for matmuls and convolutions "
           "in both, on every device",
           "precision", "losses",
           demo="a 512x512 float32 matmul and a 3x3 convolution, TF32 off in torch",
           cost="cnn", gpu_only=True),
    Hazard("conv_padding", ("cnn",),
           "torch's Conv2d pads 0 by default ('VALID'), nnx.Conv 'SAME'; at stride 2 on an even size 'SAME' "
           "pads (0, 1) where torch's padding=1 pads (1, 1): the same shape from shifted windows",
           "nnx.Conv(..., padding=as_torch.conv_padding(p)): p on both sides of each spatial axis",
           "_as_torch.conv_padding", "losses",
           demo="a 3x3 conv of an 8x8 image at stride 2 with padding 1, and at stride 1 with the default padding",
           cost="cnn"),
    Hazard("pool_stride", ("cnn",),
           "torch's MaxPool2d(k) strides by k by default; nnx.max_pool's strides default to 1 (28x28 -> 27x27, "
           "not 14x14); torch's ceil_mode=True has no Flax flag (pad the high side with -inf)",
           "nnx.max_pool(x, (k, k), strides=as_torch.pool_strides(k))",
           "_as_torch.pool_strides", "losses",
           demo="a 2x2 max pool of a 28x28 image",
           cost="cnn"),
    Hazard("nchw_flatten", ("cnn",),
           "torch's images are NCHW and torch.flatten lists features channel by channel; Flax's are NHWC, so "
           "a plain reshape feeds torch's Linear weights the features in another order (and conv kernels are "
           "(out, in, kh, kw) in torch, (kh, kw, in, out) in Flax)",
           "as_torch.flatten(x): NHWC to NCHW, then reshape; the weight exchange reorders conv kernels",
           "_as_torch.flatten", "losses",
           demo="a conv feature map (4 channels, 6x6) flattened into a Linear(144, 10) with torch's weights",
           cost="cnn"),
    Hazard("adamw", (),
           "torch's AdamW decays by 1e-2 by default, optax.adamw by 1e-4 (both decoupled: p -= lr wd p), and "
           "optax computes the bias correction in float32",
           "as_torch.adamw: weight_decay 1e-2 and Adam's exact bias correction",
           "_as_torch.adamw", "losses",
           demo="a small MLP regression trained with AdamW(lr=1e-2) from the same weights"),
    Hazard("sgd_weight_decay", ("cnn",),
           "torch's SGD adds weight_decay * p to the gradient before the momentum and has dampening; optax.sgd "
           "has neither",
           "as_torch.sgd: add_decayed_weights before torch's momentum (buf = m buf + (1 - dampening) g)",
           "_as_torch.sgd", "losses",
           demo="a small MLP regression trained with SGD(lr=0.05, momentum=0.9, weight_decay=0.01)",
           cost="cnn"),
    Hazard("layer_norm", (),
           "torch's LayerNorm: eps 1e-5, variance mean((x - mean)^2); nnx.LayerNorm: epsilon 1e-6 and "
           "use_fast_variance (mean(x^2) - mean(x)^2), which cancels on features with a large mean",
           "nnx.LayerNorm(..., **as_torch.layer_norm()): epsilon 1e-5, use_fast_variance=False",
           "_as_torch.layer_norm", "losses",
           demo="LayerNorm(16) of features with mean 100 and spread 0.01, and of features with spread 0.003"),
    Hazard("gelu_approximate", (),
           "torch's nn.GELU() is exact (erf); jax.nn.gelu and nnx.gelu use the tanh approximation by default",
           "as_torch.gelu: jax.nn.gelu(x, approximate=False)",
           "_as_torch.gelu", "losses",
           demo="a small GELU MLP regression trained with SGD(lr=0.1) from the same weights"),
    Hazard("lr_schedule_units", (),
           "torch's schedulers are stepped where the code calls scheduler.step(), usually once per epoch; an "
           "optax schedule counts optimizer steps (and OneCycleLR also cycles Adam's beta1, optax's schedule "
           "does not)",
           "as_torch.step_lr(lr, step_size, gamma, steps_per_epoch): StepLR's epochs in optimizer steps",
           "_as_torch.step_lr", "losses",
           demo="SGD(lr=0.1) with StepLR(step_size=1, gamma=0.5) over 3 epochs of 5 batches"),
    Hazard("mse_l2_loss", (),
           "torch's MSELoss is mean((pred - y)^2); optax.l2_loss is half of that, so the loss and its gradients "
           "halve (poly_fit and datasets write torch's loss directly)",
           "as_torch.mse_loss: optax.squared_error(pred, y).mean()",
           "_as_torch.mse_loss", "losses",
           demo="a linear regression trained with SGD(lr=0.1) from the same weights"),
    Hazard("clip_grad_norm", (),
           "torch's clip_grad_norm_ scales by max_norm / (norm + 1e-6) before the optimizer adds weight decay; "
           "optax.clip_by_global_norm has no 1e-6, and a chain that decays first clips the decay too",
           "optax.chain(as_torch.clip_grad_norm(max_norm, weight_decay), optimizer): torch's clip, then the decay",
           "_as_torch.clip_grad_norm", "losses",
           demo="a small MLP regression, clip_grad_norm_(0.1) before SGD(lr=0.1, momentum=0.9, weight_decay=0.1)"),
)


def get(name: str) -> Hazard:
    for h in HAZARDS:
        if h.name == name:
            return h
    raise LessonError(f"unknown hazard {name!r}; choose one of: {', '.join(h.name for h in HAZARDS)} "
                      "(see `lessons hazards`)")


def for_lesson(lesson: str) -> list[Hazard]:
    return [h for h in HAZARDS if lesson in h.lessons]


def check(name: str, lesson: str) -> Hazard:
    """The hazard, if ``lesson`` meets it; else a one-line error naming the ones it does."""
    h = get(name)
    if lesson not in h.lessons:
        met = ", ".join(x.name for x in for_lesson(lesson)) or "none"
        raise LessonError(f"{lesson} does not meet the hazard {name!r}; its hazards: {met}")
    return h
