"""poly_fit: "Learning PyTorch with Examples", fitting sin(x) with a cubic six ways."""
from shared.lessons import polyfit
from shared.specs.base import LessonSpec, Parity, RunShape, Target

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
        # nn.Linear(3, 1)'s U(+-1/sqrt(3)). features: the model is nn.Linear(3, 1) on (x, x^2, x^3).
        # optimizer None: the step updates each parameter by hand, p -= lr * grad.
        "common": {"points": 2000, "epochs": 2000, "lr": 1e-6, "init": "normal",
                   "model": "cubic", "features": False, "optimizer": None},
        "legendre": {"lr": 5e-6, "init": (0.0, -1.0, 0.0, 0.3), "model": "legendre"},
        "nn": {"init": "linear", "features": True},
        # torch.optim.RMSprop(lr=1e-3) at its defaults (alpha 0.99, eps 1e-8): as_torch.rmsprop.
        "optim": {"init": "linear", "features": True, "lr": 1e-3, "optimizer": "rmsprop"},
    },
    # Each variant's step is one of the lesson's step functions: the forms the course writes.
    shape=RunShape(steps={"tensors": "tensors_step", "autograd": "autograd_step", "legendre": "autograd_step",
                          "nn": "nn_step", "optim": "train_step"}),
    figures=polyfit.plot_fits,   # each variant's fitted curve over sin(x)
    details=("a", "b", "c", "d"),
    targets={
        # Final sum-of-squares loss for the spec's seed (0): deterministic, so a narrow band.
        # numpy is the reference both frameworks are checked against (tests), not a framework row.
        "tensors": Target("loss", approx=9.086, rel=0.005, framework_tol=1e-3),
        "autograd": Target("loss", approx=9.086, rel=0.005, framework_tol=1e-3),
        "legendre": Target("loss", approx=8.94, rel=0.005, framework_tol=1e-3),   # published: 8.9436
        "nn": Target("loss", approx=9.159, rel=0.005, framework_tol=1e-3),        # course: 9.2228 (its init)
        # RMSprop ends in bursts (see parity notes): the last loss lands anywhere between the least-
        # squares minimum (8.817) and ~9.5, in each framework independently. Course: 8.9195.
        "optim": Target("loss", at_least=8.817, at_most=9.5, framework_tol=0.1),
    },
    course={
        "note": "002 (Learning PyTorch with Examples)",
        "seed": "none: np.random.randn / torch.randn / nn.Linear's init, unseeded",
        "data": "x = linspace(-pi, pi, 2000), y = sin(x), float32 (numpy: float64)",
        "loss": "sum of squares: (y_pred - y).pow(2).sum(), MSELoss(reduction='sum')",
        "epochs": "2000 steps on the whole set", "batch_size": "the whole set",
        "lr": {"numpy": 1e-6, "tensors": 1e-6, "legendre": 5e-6, "nn": 1e-6, "optim": "RMSprop(lr=1e-3)"},
        "init": {"numpy": "randn", "tensors": "randn", "legendre": "(0, -1, 0, 0.3)",
                 "nn": "nn.Linear(3, 1) default", "optim": "nn.Linear(3, 1) default"},
        "variants": "numpy, tensors, custom autograd Function (legendre), nn, optim",
        "evaluation": "the loss every 100 steps (t % 100 == 99) and the final coefficients",
        "published": {  # the loss printed at t = 1999 and the final (a, b, c, d)
            "numpy": {"loss": 11.361581406294208, "a": 0.04631577819034255, "b": 0.8323458176324102,
                      "c": -0.00799024243570984, "d": -0.08986040910531393},
            "tensors": {"loss": 10.4112, "a": 0.03805118799209595, "b": 0.8736276626586914,
                        "c": -0.006564462557435036, "d": -0.09573239833116531},
            "legendre": {"loss": 8.943639755249023, "a": -5.423830273798558e-09, "b": -2.208526849746704,
                         "c": 1.3320399228078372e-09, "d": 0.2554861009120941},
            "nn": {"loss": 9.222803115844727, "a": -0.006762427743524313, "b": 0.8381737470626831,
                   "c": 0.0011666310019791126, "d": -0.09068938344717026},
            "optim": {"loss": 8.919466018676758, "a": 0.0004976235213689506, "b": 0.8562686443328857,
                      "c": 0.0004976146738044918, "d": -0.09383021295070648},
        },
    },
    deviations={
        "seed": "0: one numpy draw of the course's distribution (randn, or nn.Linear's U(+-1/sqrt(3))) is the "
                "start of both frameworks, so their losses can be held to 1e-3 of each other; the course's "
                "unseeded starts cannot be reproduced (legendre's fixed start is, and so is its result)",
        "init": "as the course's distributions, drawn by numpy (shared/lessons/polyfit.py initial_coefficients)",
        "variants": "numpy runs in shared/lessons/polyfit.py as the reference the tensors, autograd and nn variants "
                    "must reproduce; autograd (the tutorial's requires_grad cubic, which the note skips) is kept",
        "data": "x, y and the nn features (x, x^2, x^3) computed in float64, then rounded once to the run's "
                "dtype, identically for both frameworks (the course computes them in float32)",
        "evaluation": "the loss of every step and the final coefficients",
    },
    notes=("numpy (the course's first form) runs in shared/lessons/polyfit.py; tests check tensors, autograd and nn "
           "against it. Coefficient agreement is max |Δ| / max |coefficient| (a and c end near 0). The "
           "course's legendre start is fixed, and both frameworks reproduce its printed result."),
    parity=Parity(
        variants=("tensors", "autograd", "legendre", "nn", "optim"),
        steps=None,                   # the whole run, 2000 steps
        loss_rel=1e-5,                # float32, per step, torch vs jax from the same start (float64: 1e-9)
        # optim meets the bounds only up to here; afterwards torch vs jax drifts as far as torch vs
        # torch nudged by one ulp (the control), and the final coefficients agree to chaotic_coef_rel.
        stable_steps={"optim": 1500},
        train_loop_epochs=50, train_loop_tol=1e-5,
        extras={
            "coef_rel": {"float32": 1e-4, "float64": 1e-9},  # final coefficients, torch vs jax and vs numpy
            "published_abs": 1e-4,                           # legendre's coefficients vs the course's printout
            "chaotic_coef_rel": 1e-2,
            # the variants whose plain GD the numpy fit (shared/lessons/polyfit.py, the course's first
            # form, run with the variant's own settings) must reproduce
            "numpy_reference": ("tensors", "autograd", "nn"),
        },
        notes=("optim: from step ~1600 RMSprop runs in bursts. Near the minimum the gradients shrink, "
               "the squared-gradient average decays (x0.99 per step), the effective step lr/sqrt(avg) "
               "grows until the stiff x^3 direction overshoots, the loss spikes, the average jumps back. "
               "Within a burst any difference grows ~1e3x in 10 steps, so float64 rounding (1e-16) "
               "reaches 1e-2: the control (torch vs torch nudged one ulp) drifts just as far. The other "
               "variants stay within 1e-9 (float64) at every step."),
    ),
)
