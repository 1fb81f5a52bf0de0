"""compiled_loop: the three forms of the loop give the same losses, the fast path of every JAX lesson
is the lesson's scan, and the small functions show what they say (targets and parity of the fast
path: test_every_lesson.py)."""
from __future__ import annotations

import ast
import inspect

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jax_impl import _harness as jh
from jax_impl import compiled_loop as jx
from shared import specs
from shared.harness import runner
from shared.harness.config import FRAMEWORKS, LOOP_FAST, LOOP_OWN, RunConfig
from shared.harness.session import Session
from shared.harness.timing import Stopwatch
from shared.tools import parity
from torch_impl import compiled_loop as tx

SPEC = specs.get("compiled_loop")
FORMS = SPEC.trained
EPOCHS = 2


def own_loop(runs, fw: str, variant: str, dtype: str, weights: dict) -> np.ndarray:
    """The variant's own train() (its form of the loop) from ``weights``: per-step losses."""
    cfg = RunConfig(progress=False, dtype=dtype, epochs=EPOCHS, loop=LOOP_OWN)

    def compute():
        s = Session(SPEC, fw, cfg)
        with s.placed():
            _, losses, _, _ = s.train(s.settings(variant), variant, weights=weights)
        return losses

    return runs.cached(("form", fw, variant, dtype), compute)


def forms(runs, dtype: str) -> dict[str, np.ndarray]:
    """Every form in both frameworks, and each framework's fast path, from torch's initial weights."""
    cfg = RunConfig(progress=False, dtype=dtype, epochs=EPOCHS, loop=LOOP_FAST)
    weights = runs.cached(("weights", dtype), lambda: runner.initial_weights(SPEC, FORMS[0], cfg))
    out = {f"{fw} {v}": own_loop(runs, fw, v, dtype, weights) for fw in FRAMEWORKS for v in FORMS}
    for fw in FRAMEWORKS:
        out[f"{fw} fast path"] = runs.cached(("fast", fw, dtype), lambda: runner.trace(
            SPEC, fw, cfg, weights, None, FORMS[0])["losses"])
    return out


def test_every_form_gives_the_same_losses_in_float64(runs):
    """Each framework's three loops and its fast path, from the same weights on the same batches: the
    same per-step losses to 1e-12, in each framework and across the two."""
    losses = forms(runs, "float64")
    ref = losses["torch as_written"]
    assert len(ref) == EPOCHS * 40 and ref.dtype == np.float64
    for name, l in losses.items():
        assert parity.rel_diff(ref, l).max() <= SPEC.parity.extras["forms_float64_rel"], name


def test_every_form_gives_the_same_losses_in_float32_within_the_control(runs):
    """In float32 the forms differ at most by rounding (torch.compile fuses the arithmetic its own way):
    no more than torch drifts from itself when its weights are nudged by one rounding unit."""
    losses = forms(runs, "float32")
    cfg = RunConfig(progress=False, epochs=EPOCHS, loop=LOOP_FAST)
    weights = runner.initial_weights(SPEC, FORMS[0], cfg)
    control = runner.trace(SPEC, "torch", cfg, parity.nudge(weights, "float32"), None, FORMS[0])["losses"]
    ref = losses["torch as_written"]
    bound = max(parity.rel_diff(ref, control).max(), parity.EPS["float32"])
    for name, l in losses.items():
        assert parity.rel_diff(ref, l).max() <= 10 * bound, (name, parity.rel_diff(ref, l).max(), bound)
        if name.startswith("torch") and "compiled" not in name:
            np.testing.assert_array_equal(l, ref, err_msg=name)  # eager torch: the same arithmetic, to the bit


def test_the_fast_path_of_every_jax_lesson_is_the_lessons_scan(monkeypatch):
    """jax_impl/_harness.py has no scan of its own: it imports compiled() from the lesson and calls
    it with each lesson's own step (here multiclass's)."""
    harness = ast.parse(inspect.getsource(jh))
    calls = {ast.unparse(n.func) for n in ast.walk(harness) if isinstance(n, ast.Call)}
    assert not {c for c in calls if c.endswith("scan")}, calls
    assert jh.compiled_loop is jx and "compiled_loop.compiled" in calls
    seen = []
    real = jx.compiled
    monkeypatch.setattr(jx, "compiled", lambda step, *a: (seen.append(step), real(step, *a))[1])
    spec = specs.get("multiclass")
    trace = runner.trace(spec, "jax", RunConfig(progress=False), None, 3, "mlp")
    from jax_impl import multiclass
    assert seen == [multiclass.train_step] and len(trace["losses"]) == 3


def test_a_smaller_last_batch_compiles_a_second_time(runs, cfg):
    """drop_last off: two compilations (the last batch is a second shape), on: one, in both."""
    for fw, records in runs.both(SPEC, cfg).items():
        metrics = records["recompiles"].metrics
        assert (metrics["compilations"], metrics["compilations_drop_last"]) == (2, 1), fw


def test_print_runs_at_trace_time_and_debug_print_every_call(runs, cfg):
    calls = SPEC.hp("tracing")["calls"]
    records = runs.both(SPEC, cfg)
    jax_lines, torch_lines = (records[fw]["tracing"].extras["lines"] for fw in ("jax", "torch"))
    (printed,) = [line for line in jax_lines if line.startswith("print:")]
    assert "Trace" in printed  # a tracer, not a number
    assert [line for line in jax_lines if line.startswith("jax.debug")] == \
        [f"jax.debug.print: {float(i)}" for i in range(calls)]
    assert torch_lines == ["print: " + str(torch.tensor(float(i))) for i in range(calls)]  # tensor(0.), ..
    assert records["jax"]["tracing"].metrics["prints"] == 1 and records["torch"]["tracing"].metrics["prints"] == calls


def test_the_twins_masks_differ_and_torchs_mask_gives_torchs_output_to_the_bit():
    """nnx.Rngs(seed) and torch.manual_seed(seed) draw different masks (they agree only where two
    independent draws would); torch's mask fed to the JAX twin gives torch's Dropout output exactly,
    and flax's own arithmetic (x / (1 - p)) would not."""
    p, seed, shape = 0.3, 0, (64, 512)
    t, j = tx.dropout_mask(shape, p, seed).numpy(), np.asarray(jx.dropout_mask(shape, p, seed))
    keep = np.float32(1) / np.float32(1 - p)
    assert set(np.unique(t)) == set(np.unique(j)) == {0, keep}
    agree = np.mean((t > 0) == (j > 0))
    assert abs(agree - (p * p + (1 - p) ** 2)) < 0.01, agree
    assert np.array_equal(t, tx.dropout_mask(shape, p, seed).numpy())  # re-seeding repeats torch's mask
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    torch.manual_seed(seed)
    torch_out = torch.nn.Dropout(p)(torch.as_tensor(x)).numpy()
    fed = np.asarray(jx.masked(jnp.asarray(x), jnp.asarray(t)))
    assert fed.tobytes() == torch_out.tobytes()  # 0 ulp
    flax_way = np.where(t > 0, np.asarray(jnp.asarray(x) / jnp.float32(1 - p)), 0)
    assert flax_way.tobytes() != torch_out.tobytes()


def test_tensors_change_in_place_and_jax_arrays_do_not():
    t = torch.zeros(3, 2)
    assert tx.set_row(t, 1, 5.0) is t and t[1].tolist() == [5.0, 5.0]
    a = jnp.zeros((3, 2))
    b = jx.set_row(a, 1, 5.0)
    assert np.asarray(a).sum() == 0 and np.asarray(b)[1].tolist() == [5.0, 5.0]
    with pytest.raises(TypeError):
        a[1] = 5.0


def test_a_jax_call_returns_before_its_work_is_done(runs, cfg):
    """JAX's call returns once the matmul is queued; torch on a CPU only once it is computed."""
    records = runs.both(SPEC, cfg)
    assert records["jax"]["timing"].metrics["queued_share"] < 0.5
    if cfg.device == "cpu":
        assert records["torch"]["timing"].metrics["queued_share"] > 0.5


def test_the_own_loops_time_leaves_compilation_out():
    """`--loop train` times train() with the compilations set apart: JAX's own loop reports them in
    compile_s, as the fast path does, and its train_s is the steps'."""
    records = {r.variant: r for r in runner.run(SPEC, "jax", RunConfig(progress=False, epochs=1, loop=LOOP_OWN))}
    for variant in FORMS:
        r = records[variant]
        assert r.compile_s > 0 and r.train_s > 0 and r.steps == 40, (variant, r.compile_s, r.train_s)


def test_stopwatch_sets_apart_the_union_of_compile_spans():
    clock = Stopwatch(train_s=10.0)
    clock.set_apart([(0.0, 2.0), (1.0, 3.0), (2.5, 2.8), (5.0, 6.0)])  # nested and overlapping spans count once
    assert (clock.train_s, clock.compile_s) == (6.0, 4.0)
    clock = Stopwatch(train_s=1.0)
    clock.set_apart([(0.0, 5.0)])
    assert (clock.train_s, clock.compile_s) == (0.0, 1.0)
