"""poly_fit: targets, torch vs JAX vs the numpy reference, the custom backward, gradient state, plots."""
import jax
import numpy as np
import pytest
import torch
from jax.test_util import check_grads

from jax_impl import poly_fit as jx
from shared import parity, plots, polyfit, specs
from shared.config import RunConfig
from torch_impl import poly_fit as tx

SPEC = specs.get("poly_fit")
IMPLS = {"torch": tx, "jax": jx}
P = SPEC.parity


@pytest.fixture(scope="module")
def cpu_records():
    cfg = RunConfig(progress=False)
    return {fw: {r.variant: r for r in impl.run(SPEC, cfg)} for fw, impl in IMPLS.items()}


@pytest.mark.parametrize("variant", SPEC.variants)
def test_spec_seed_reaches_target_in_both_frameworks(cpu_records, variant):
    target = SPEC.targets[variant]
    values = {fw: recs[variant].metrics[target.metric] for fw, recs in cpu_records.items()}
    assert all(target.check(v) for v in values.values()), values
    assert abs(values["torch"] - values["jax"]) <= target.framework_tol, values


def test_legendre_reproduces_the_published_result(cpu_records):
    hp = SPEC.hp("legendre")
    for fw, recs in cpu_records.items():
        m = recs["legendre"].metrics
        for k, v in hp["published"].items():
            assert abs(m[k] - v) <= hp["published_abs"], (fw, k, m[k])
        assert SPEC.targets["legendre"].check(m["loss"]), (fw, m["loss"])


def _traces(cfg, variant, steps=None, control=False):
    weights = tx.init_weights(SPEC, SPEC.seed, variant)
    out = [impl.parity_trace(SPEC, cfg, weights, steps, variant=variant) for impl in (tx, jx)]
    if control:
        out.append(tx.parity_trace(SPEC, cfg, parity.nudge(weights, cfg.dtype), steps, variant=variant))
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", P["variants"])
def test_frameworks_agree_from_the_same_start(cfg, dtype, variant):
    """Every step's loss and the final coefficients, torch vs JAX, from identical coefficients.

    optim is held to the bounds for its first stable_steps only. After that RMSprop runs in bursts
    (spec parity notes) that amplify any rounding difference ~1e3x in 10 steps; there the test
    requires what the rounding control shows: torch vs JAX drifts no further than torch vs torch
    nudged by one ulp, and the final coefficients agree to chaotic_coef_rel.
    """
    cfg = cfg.replace(dtype=dtype)
    stable = P.get("stable_steps", {}).get(variant)
    t, j = _traces(cfg, variant, steps=stable)
    assert len(t["losses"]) == len(j["losses"]) == (stable or SPEC.hp(variant)["steps"])
    assert parity.rel_diff(t["losses"], j["losses"]).max() <= P["loss_rel"][dtype]
    assert polyfit.coefficient_rel(t["weights"], j["weights"]) <= P["coef_rel"][dtype]
    if stable is not None:
        t, j, control = _traces(cfg, variant, control=True)
        result = parity.compare(variant, dtype, t, j, control)
        assert result.explained_by_rounding, (result.rel.max(), result.control.max())
        assert polyfit.coefficient_rel(t["weights"], j["weights"]) <= P["chaotic_coef_rel"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", [v for v in P["variants"] if SPEC.hp(v)["reference"] == "numpy"])
def test_numpy_reference_agrees_with_both_frameworks(cfg, dtype, variant):
    """Variant 1 (numpy, shared/polyfit.py) against the same algorithm in torch and JAX."""
    cfg = cfg.replace(dtype=dtype)
    hp = SPEC.hp(variant)
    weights = polyfit.initial_coefficients(SPEC, SPEC.seed, variant)
    ref, ref_losses = polyfit.fit_numpy(weights, *polyfit.data(SPEC, dtype), lr=hp["lr"], steps=hp["steps"])
    for fw, impl in IMPLS.items():
        trace = impl.parity_trace(SPEC, cfg, weights, variant=variant)
        assert polyfit.coefficient_rel(ref, trace["weights"]) <= P["coef_rel"][dtype], fw
        assert parity.rel_diff(ref_losses, trace["losses"]).max() <= P["loss_rel"][dtype], fw


def test_legendre_backward_matches_finite_differences_and_the_other_framework():
    x = np.linspace(-1.5, 1.5, 31)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(tx.legendre_p3, (xt,))
    with jax.enable_x64(True):
        xj = jax.numpy.asarray(x)
        check_grads(jx.legendre_p3, (xj,), order=1, modes=("rev",))
        cotangent = np.cos(3 * x)  # any upstream gradient
        _, vjp = jax.vjp(jx.legendre_p3, xj)
        grad_jax = np.asarray(vjp(jax.numpy.asarray(cotangent))[0])
    tx.legendre_p3(xt).backward(torch.tensor(cotangent))
    np.testing.assert_allclose(grad_jax, xt.grad.numpy(), rtol=1e-15, atol=0)
    np.testing.assert_allclose(grad_jax, cotangent * 1.5 * (5 * x ** 2 - 1), rtol=1e-14, atol=0)


def _small_problem():
    x, y = polyfit.data(SPEC, "float64")
    params = [polyfit.initial_coefficients(SPEC, SPEC.seed, "autograd")[k] for k in polyfit.COEFFS]
    return x, y, params


def test_torch_accumulates_grads_and_jax_sums_explicitly():
    x, y, params = _small_problem()
    with jax.enable_x64(True):
        out_jax = jx.accumulated_grads([jax.numpy.asarray(p) for p in params], jax.numpy.asarray(x),
                                       jax.numpy.asarray(y), times=3)
        single = np.stack(jax.grad(lambda p: jx.sum_sq(jx.cubic(p, x), y))(tuple(params)))
    out_torch = tx.accumulated_grads([torch.tensor(p) for p in params], torch.tensor(x), torch.tensor(y), times=3)
    for k, (t, j) in enumerate(zip(out_torch, out_jax), start=1):
        np.testing.assert_allclose(t, k * single, rtol=1e-12)  # .grad grew by one gradient per backward()
        np.testing.assert_allclose(j, k * single, rtol=1e-12)


def test_detach_and_stop_gradient_cut_one_coefficient():
    x, y, params = _small_problem()
    full = dict(zip(polyfit.COEFFS, 2 * ((polyfit.predict("cubic", dict(zip(polyfit.COEFFS, params)), x) - y)
                                         * np.stack([x ** 0, x, x ** 2, x ** 3])).sum(axis=1)))
    out_torch = tx.grads_with_detached([torch.tensor(p) for p in params], torch.tensor(x), torch.tensor(y), "c")
    with jax.enable_x64(True):
        out_jax = jx.grads_with_detached([jax.numpy.asarray(p) for p in params], jax.numpy.asarray(x),
                                         jax.numpy.asarray(y), "c")
    assert out_torch["c"] is None and out_jax["c"] == 0.0  # no .grad in torch; a zero cotangent in JAX
    for k in "abd":
        assert out_torch[k] == pytest.approx(full[k], rel=1e-12)
        assert out_jax[k] == pytest.approx(full[k], rel=1e-12)


def test_optax_rmsprop_defaults_are_not_torchs_algorithm(cfg):
    """optax.rmsprop(lr) (decay 0.9, eps inside the sqrt) vs torch.optim.RMSprop(lr) (alpha 0.99):
    far apart from the first steps; rmsprop() with decay/eps/eps_in_sqrt set matches torch."""
    steps = P["stable_steps"]["optim"]
    weights = tx.init_weights(SPEC, SPEC.seed, "optim")
    t = tx.parity_trace(SPEC, cfg, weights, steps, variant="optim")
    _, default_losses = jx.rmsprop_optax_defaults(SPEC, cfg, weights, steps)
    matched = jx.parity_trace(SPEC, cfg, weights, steps, variant="optim")["losses"]
    gap, good = parity.rel_diff(t["losses"], default_losses), parity.rel_diff(t["losses"], matched)
    print(f"\noptax.rmsprop defaults vs torch RMSprop: max per-step loss rel {gap.max():.3g}, "
          f"at step 100 {gap[99]:.3g}; configured like torch: {good.max():.3g}")
    assert gap[99] > 0.1 and good.max() <= P["loss_rel"][cfg.dtype]


def test_every_variant_plots_both_frameworks(cpu_records, tmp_path):
    records = [r for recs in cpu_records.values() for r in recs.values()]
    paths = plots.plot_lesson(SPEC, records, tmp_path)
    assert {p.name for p in paths} == {"history.png", *(f"fit-{v}.png" for v in SPEC.variants)}
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert cpu_records["jax"]["optim"].extras["optax_defaults"]["max_step_rel"] > 0.1
