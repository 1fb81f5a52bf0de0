"""The claims every lesson makes, checked for every lesson from its spec (shared/specs/<lesson>.py):

- each variant reaches its target in both frameworks, within the framework tolerance (over the
  target's tol_seeds where one seed's gap is noise);
- the lesson's own ``train()`` (``--loop train``, what `lessons run` runs) gives the fast path's numbers;
- from torch's initial weights on the same batches, the float32 losses agree step by step
  (Parity.loss_rel over the first steps, final_rel at the last);
- in float64 they agree at every traced step (Parity.float64_rel).

What only one lesson claims is in tests/test_<lesson>.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from shared import specs
from shared.data import DataSource, load_images
from shared.errors import DataError
from shared.harness.config import FRAMEWORKS, LOOP_FAST, LOOP_OWN, RunConfig
from shared.tools import parity

SPECS = specs.all_specs()


def _params(pairs):
    return [pytest.param(spec, variant, id=f"{spec.name}-{variant}") for spec, variant in pairs]


TARGETS = _params((s, v) for s in SPECS for v in s.variants)
TRAIN_LOOPS = _params((s, v) for s in SPECS if s.parity.train_loop_epochs
                       for v in (s.parity.train_loop_variants or s.trained))
# float32 parity runs on the embedded digits, and on full Fashion-MNIST where the lesson has
# targets for it (skipped where it is not on the machine).
FIRST_STEPS = [pytest.param(s, v, data, id=f"{s.name}-{v}-{data}", marks=[pytest.mark.slow] if data != "embedded" else [])
               for s in SPECS for v in (s.parity.first_steps_variants or s.parity.variants)
               for data in ("embedded", *(["full"] if "full" in s.data_targets else []))]
FLOAT64 = _params((s, v) for s in SPECS for v in s.parity.variants)


@pytest.mark.parametrize("spec,variant", TARGETS)
def test_targets_in_both_frameworks(runs, cfg, spec, variant):
    target = spec.target(variant, cfg.data)
    configs = [cfg if seed == spec.seed else cfg.replace(seed=seed) for seed in target.tol_seeds or (spec.seed,)]
    values = {fw: [runs.both(spec, c)[fw][variant].metrics[target.metric] for c in configs] for fw in FRAMEWORKS}
    assert all(target.check(v) for vs in values.values() for v in vs), values
    if target.framework_tol is not None:
        assert abs(np.mean(values["torch"]) - np.mean(values["jax"])) <= target.framework_tol, values


@pytest.mark.parametrize("spec,variant", TRAIN_LOOPS)
def test_train_loop_gives_the_fast_paths_numbers(runs, spec, variant):
    """`--loop train` (the lesson's own train(), what `lessons run` runs: a DataLoader / an nnx.jit step
    per batch) trains on the same batches as the fast path (and draws the same masks), so each
    framework's per-step losses, per-epoch curves and final metrics agree across the two forms, and
    the own loop's time leaves its compilations out, as the fast path's does."""
    p = spec.parity
    cfg = RunConfig(progress=False, epochs=p.train_loop_epochs, loop=LOOP_FAST)
    fast, course = runs.both(spec, cfg), runs.both(spec, cfg.replace(loop=LOOP_OWN))
    for fw in FRAMEWORKS:
        f, c = fast[fw][variant], course[fw][variant]
        assert f.steps > 0 and len(c.history["loss"]) == len(f.history["loss"]) == f.steps, fw
        np.testing.assert_allclose(c.history["loss"], f.history["loss"], rtol=1e-5, err_msg=fw)
        for k in set(f.history) - {"loss"}:  # per-epoch curves; a train() loop may evaluate once, at the end
            want = f.history[k] if len(c.history[k]) == len(f.history[k]) else f.history[k][-1:]
            np.testing.assert_allclose(c.history[k], want, rtol=1e-4 if "loss" in k else 0,
                                       atol=p.train_loop_tol, err_msg=f"{fw} {k}")
        assert set(c.metrics) == set(f.metrics), fw
        for k, v in f.metrics.items():
            assert abs(c.metrics[k] - v) <= p.train_loop_tol * max(1.0, abs(v)), (fw, k, c.metrics[k], v)
        assert c.train_s > 0 and (fw == "torch" or c.compile_s > 0), (fw, c.compile_s)  # JAX compiles every run


@pytest.mark.parametrize("spec,variant,data", FIRST_STEPS)
def test_first_steps_match_from_torch_weights(runs, cfg, spec, variant, data):
    if data == "full":
        try:
            load_images("fashion_mnist", DataSource("fullsize"))
        except DataError as e:
            pytest.skip(f"full Fashion-MNIST not available offline: {e}")
    p, cfg = spec.parity, cfg.replace(data=data)
    pair = runs.traces(spec, cfg, variant)
    t, j = pair["torch"]["losses"], pair["jax"]["losses"]
    first = p.first_steps or len(t)
    assert t.shape == j.shape and t.dtype == j.dtype == np.float32 and len(t) >= first
    steps = runs.steps(spec, cfg, variant)
    assert steps is None or len(t) == steps
    np.testing.assert_allclose(j[:first], t[:first], rtol=p.loss_rel, atol=0)
    if p.final_rel is not None:
        np.testing.assert_allclose(j[-1], t[-1], rtol=p.final_rel, atol=0)


@pytest.mark.parametrize("spec,variant", FLOAT64)
def test_float64_matches_at_every_step(runs, cfg, spec, variant):
    """`lessons parity LESSON --dtype float64`: every traced step within Parity.float64_rel."""
    cfg = cfg.replace(dtype="float64")
    pair = runs.traces(spec, cfg, variant)
    t, j = pair["torch"]["losses"], pair["jax"]["losses"]
    steps = runs.steps(spec, cfg, variant)
    assert t.dtype == j.dtype == np.float64 and t.shape == j.shape and (steps is None or len(t) == steps)
    rel = parity.rel_diff(t, j)
    assert rel.max() <= spec.parity.float64_rel, (int(rel.argmax()) + 1, float(rel.max()))
