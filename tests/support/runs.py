"""Runs and parity traces of the lessons, computed once per test session and shared by every test
module (the battery in test_every_lesson.py and each lesson's own claims read the same runs).

The ``runs`` fixture: ``runs.both(spec, cfg)`` is each framework's run, ``runs.traces(spec, cfg,
variant)`` both frameworks from torch's initial weights, ``runs.control(...)`` torch from those
weights nudged by one rounding unit.
"""
from __future__ import annotations

import pytest

from shared.harness import runner
from shared.harness.config import FRAMEWORKS, RunConfig
from shared.tools import parity

SPEC_STEPS = "spec"  # traces' default length: the spec's Parity.steps_for(variant, dtype)


class Runs:
    def __init__(self):
        self._memo: dict = {}

    def cached(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def both(self, spec, cfg: RunConfig) -> dict:
        """{framework: {variant: Record}}: the lesson's run in each framework."""
        return self.cached(("run", spec.name, cfg), lambda: {fw: {r.variant: r for r in runner.run(spec, fw, cfg)}
                                                             for fw in FRAMEWORKS})

    def steps(self, spec, cfg: RunConfig, variant: str, steps=SPEC_STEPS) -> int | None:
        return spec.parity.steps_for(variant, cfg.dtype) if steps == SPEC_STEPS else steps

    def traces(self, spec, cfg: RunConfig, variant: str, steps=SPEC_STEPS, hazard: str | None = None) -> dict:
        """{framework: parity trace} from torch's initial weights; ``steps`` "spec": the spec's parity
        steps for the variant and dtype; None: the whole run. ``hazard``: JAX without that fix."""
        steps = self.steps(spec, cfg, variant, steps)

        def compute():
            weights = runner.initial_weights(spec, variant, cfg)
            return {"torch": runner.trace(spec, "torch", cfg, weights, steps, variant),
                    "jax": runner.trace(spec, "jax", cfg, weights, steps, variant, hazard=hazard)}

        return self.cached(("trace", spec.name, cfg, variant, steps, hazard), compute)

    def control(self, spec, cfg: RunConfig, variant: str, steps=SPEC_STEPS) -> dict:
        """torch from its initial weights nudged by one rounding unit: how far rounding alone moves a run."""
        steps = self.steps(spec, cfg, variant, steps)

        def compute():
            weights = parity.nudge(runner.initial_weights(spec, variant, cfg), cfg.dtype)
            return runner.trace(spec, "torch", cfg, weights, steps, variant)

        return self.cached(("control", spec.name, cfg, variant, steps), compute)


@pytest.fixture(scope="session")
def runs() -> Runs:
    return Runs()
