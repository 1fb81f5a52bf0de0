"""poly_fit: "Learning PyTorch with Examples", fitting sin(x) with a cubic six ways."""
from shared.specs.base import LessonSpec, Target

SPEC = LessonSpec(
    name="poly_fit",
    title="Fitting sin(x) with a cubic: numpy, tensors, autograd, a custom backward, nn, optim",
    teaches=(
        "The same fit, y = a + b x + c x^2 + d x^3 to sin(x) on [-pi, pi], written six ways: numpy and "
        "tensors with gradients by hand, autograd (requires_grad/backward <-> jax.value_and_grad), a "
        "hand-written backward (autograd.Function <-> jax.custom_vjp) for a + b P3(c + d x), an "
        "nn.Linear model updated by hand, and RMSprop (torch.optim <-> optax, configured to agree)."
    ),
    dataset="sin",
    seed=0,
    hparams={
        # init: "normal" is np.random.randn (the course's numpy/tensor examples); "linear" is
        # nn.Linear(3, 1)'s U(+-1/sqrt(3)); reference: the numpy fit (shared/polyfit.py, variant 1 of
        # the course, run with the variant's own settings) that it must reproduce: same algorithm, same start.
        "common": {"points": 2000, "steps": 2000, "lr": 1e-6, "init": "normal", "model": "cubic",
                   "reference": "numpy"},
        "tensors": {},
        "autograd": {},
        "legendre": {"lr": 5e-6, "init": (0.0, -1.0, 0.0, 0.3), "model": "legendre", "reference": None,
                     # the course's printed result, reproduced to "abs" (loss to the target's rel)
                     "published": {"a": 0.0, "b": -2.2085, "c": 0.0, "d": 0.2555}, "published_abs": 1e-4},
        "nn": {"init": "linear"},
        # torch.optim.RMSprop's defaults; optax.rmsprop's are decay 0.9 and eps inside the sqrt.
        "optim": {"init": "linear", "lr": 1e-3, "alpha": 0.99, "eps": 1e-8, "reference": None},
    },
    details=("a", "b", "c", "d"),
    targets={
        # Final sum-of-squares loss for the spec's seed (0): deterministic, so a narrow band.
        # numpy is the reference both frameworks are checked against (tests), not a framework row.
        "tensors": Target("loss", approx=9.086, rel=0.005, framework_tol=1e-3),
        "autograd": Target("loss", approx=9.086, rel=0.005, framework_tol=1e-3),
        "legendre": Target("loss", approx=8.94, rel=0.005, framework_tol=1e-3),   # published: 8.94
        "nn": Target("loss", approx=9.159, rel=0.005, framework_tol=1e-3),        # course: ~9.2 (its init)
        # RMSprop ends in bursts (see parity notes): the last loss lands anywhere between the least-
        # squares minimum (8.817) and ~9.5, in each framework independently. Course: ~8.92.
        "optim": Target("loss", at_least=8.817, at_most=9.5, framework_tol=0.1),
    },
    notes=("numpy (variant 1) runs in shared/polyfit.py; tests check tensors, autograd and nn against it. "
           "Coefficient agreement is max |Δ| / max |coefficient| (a and c end near 0)."),
    parity={
        "variants": ("tensors", "autograd", "legendre", "nn", "optim"),
        "steps": None,                                  # the whole run, 2000 steps
        "loss_rel": {"float32": 1e-5, "float64": 1e-9},  # per step, torch vs jax from the same start
        "coef_rel": {"float32": 1e-4, "float64": 1e-9},  # final coefficients, torch vs jax and vs numpy
        # optim meets both only up to here; afterwards torch vs jax drifts as far as torch vs
        # torch nudged by one ulp (the control), and the final coefficients agree to chaotic_coef_rel.
        "stable_steps": {"optim": 1500},
        "chaotic_coef_rel": 1e-2,
        "notes": ("optim: from step ~1600 RMSprop runs in bursts. Near the minimum the gradients shrink, "
                  "the squared-gradient average decays (x0.99 per step), the effective step lr/sqrt(avg) "
                  "grows until the stiff x^3 direction overshoots, the loss spikes, the average jumps back. "
                  "Within a burst any difference grows ~1e3x in 10 steps, so float64 rounding (1e-16) "
                  "reaches 1e-2: the control (torch vs torch nudged one ulp) drifts just as far. The other "
                  "variants stay within 1e-9 (float64) at every step."),
    },
)
