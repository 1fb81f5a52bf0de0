"""The translation hazards: where torch and Flax/optax differ by default, and what the lessons do.

Each hazard's fix is one named function of ``jax_impl/_as_torch.py`` (or, for TF32, the precision
policy in shared/harness/precision.py). ``lessons hazards`` prints this table; ``lessons parity LESSON
--hazard NAME`` runs the JAX twin with that one fix removed, next to the normal run and the
one-ulp control; ``lessons show`` and the site put each note next to the functions that use
its fix (``marker``: the name those functions call).
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.errors import LessonError


@dataclass(frozen=True)
class Hazard:
    name: str
    lessons: tuple[str, ...]
    differs: str          # one line: what differs between the frameworks
    fix: str              # one line: what the JAX twin does about it
    marker: str           # the name a lesson's code calls to apply the fix (module jax_impl/_as_torch.py)
    evidence: str         # what `lessons parity --hazard` compares: "losses", "statistics" or "init"
    gpu_only: bool = False


HAZARDS: tuple[Hazard, ...] = (
    Hazard("init", ("datasets", "gd_vs_sgd", "multiclass", "softmax_regression", "compiled_loop", "quickstart", "xor",
                    "dropout", "batchnorm", "data_parallel"),
           "torch's Linear draws weight and bias from U(+-1/sqrt(fan_in)); Flax's draws lecun-normal weights and zero biases",
           "nnx.Linear(..., **as_torch.linear_init(fan_in)): torch's distribution for kernel and bias",
           "_as_torch.linear_init", "init"),
    Hazard("rmsprop_defaults", ("poly_fit", "quickstart"),
           "torch's RMSprop: alpha 0.99, eps 1e-8 outside the square root; optax.rmsprop: decay 0.9, eps inside",
           "as_torch.rmsprop: optax.rmsprop(lr, decay=alpha, eps=eps, eps_in_sqrt=False)",
           "_as_torch.rmsprop", "losses"),
    Hazard("adam_bias_correction", ("gd_vs_sgd", "multiclass", "quickstart", "dropout", "batchnorm",
                                    "data_parallel"),
           "optax.adam computes 1 - 0.999**t in float32 (1.3e-5 off at step 1); torch computes it exactly",
           "as_torch.adam: optax's Adam with the bias correction as -expm1(t log b)",
           "_as_torch.adam", "losses"),
    Hazard("bn_momentum", ("batchnorm",),
           "torch's BatchNorm momentum 0.1 weights the new batch; Flax's momentum weights the old running value",
           "as_torch.bn_momentum(0.1) = 0.9",
           "_as_torch.bn_momentum", "statistics"),
    Hazard("bn_running_var", ("batchnorm",),
           "torch stores the unbiased batch variance, var * n/(n-1), in running_var; nnx.BatchNorm the biased one",
           "as_torch.UnbiasedVarBatchNorm: nnx.BatchNorm with the n/(n-1) factor on the running variance",
           "_as_torch.UnbiasedVarBatchNorm", "statistics"),
    Hazard("bce_clamp", ("gd_vs_sgd", "xor"),
           "torch's BCELoss clamps each log at -100 (and its gradient stays finite); a plain log gives inf and nan",
           "as_torch.bce_loss: the clamp, log1p(-p), and torch's backward formula",
           "_as_torch.bce_loss", "losses"),
    Hazard("tf32", ("gd_vs_sgd", "multiclass", "softmax_regression", "quickstart", "dropout", "batchnorm",
                     "data_parallel"),
           "JAX runs float32 matmuls on a GPU in TF32 by default; torch in full float32",
           "the strict precision policy (shared/harness/precision.py): float32 matmuls in both, on every device",
           "precision", "losses", gpu_only=True),
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
