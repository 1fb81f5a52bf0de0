"""RunConfig: how a lesson is run (device, data, seed, ...). Passed explicitly, never global.

Every setting is checked here, once, so a bad value is one line before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from shared.data.source import KINDS as DATA_SOURCES, DataSource
from shared.errors import LessonError
from shared.harness.launchers import Launch
from shared.harness.precision import DTYPES, POLICIES, STRICT

DEVICES = ("cpu", "gpu", "auto")
FRAMEWORKS = ("torch", "jax")
LOOP_OWN = "train"           # the lesson's own train(), as the learner reads it: `lessons run`'s default
LOOP_FAST = "fast"           # the harness's fast path over the lesson's train_step: compare, parity, bench
LOOPS = (LOOP_OWN, LOOP_FAST)
LOOP_TEXT = {LOOP_OWN: "each lesson's own train(), the loop its file shows",
             LOOP_FAST: "the harness's fast path over each lesson's train_step (device-resident batches in torch, "
                        "an epoch per lax.scan in JAX)"}
# Seeds every generator here takes: torch.manual_seed, jax.random.key, nnx.Rngs, np.random.default_rng
# and np.random.seed all accept 0 .. 2**32 - 1 (numpy refuses negatives, np.random.seed stops at 2**32 - 1).
SEED_LIMIT = 2**32
MAX_EPOCHS = 100_000         # well above every lesson's own epochs (or steps); more is a typo


@dataclass(frozen=True)
class RunConfig:
    device: str = "cpu"
    data: str = "embedded"
    seed: int | None = None      # None: the lesson spec's seed
    epochs: int | None = None    # an override for quick runs; None: the spec's
    dtype: str = "float32"
    precision: str = STRICT
    progress: bool = True
    mirror: str | None = None    # a download mirror tried before the built-in list
    local_data: bool = True      # search the automatic local data directories (Debian's, TJL_LOCAL_DATA)
    loop: str = LOOP_OWN         # LOOP_OWN: the lesson's train(); LOOP_FAST: the harness's fast path
    workers: int = 1             # data_parallel: workers sharing each global batch (shared/harness/distributed.py)
    launch: Launch | None = None  # this process is one of a run torchrun or JAX's coordinator started
    # --set KEY=VALUE: settings used instead of the spec's, as sorted (key, value) pairs (a dict is
    # accepted); shared/specs/settings.py checks them against the lesson before a RunConfig is made
    overrides: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "overrides", tuple(sorted(dict(self.overrides).items())))
        for value, allowed, what in (
            (self.device, DEVICES, "device"),
            (self.data, DATA_SOURCES, "data"),
            (self.dtype, DTYPES, "dtype"),
            (self.precision, POLICIES, "precision"),
            (self.loop, LOOPS, "loop"),
        ):
            if value not in allowed:
                raise LessonError(f"unknown {what} {value!r}; choose one of: {', '.join(allowed)}")
        if self.epochs is not None and self.epochs < 1:
            raise LessonError(f"--epochs must be at least 1, got {self.epochs}")
        if self.epochs is not None and self.epochs > MAX_EPOCHS:
            raise LessonError(f"--epochs must be at most {MAX_EPOCHS:,}, got {self.epochs}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise LessonError(f"--workers must be a whole number of at least 1, got {self.workers}")
        if self.seed is not None and not 0 <= self.seed < SEED_LIMIT:
            raise LessonError(f"--seed must be between 0 and {SEED_LIMIT - 1} (what both torch and JAX accept), "
                              f"got {self.seed}")

    def seed_for(self, spec) -> int:
        return spec.seed if self.seed is None else self.seed

    def source(self) -> DataSource:
        """Where this run's image data may come from (see shared.data.DataSource)."""
        return DataSource(kind=self.data, mirror=self.mirror, local=self.local_data, progress=self.progress)

    def replace(self, **changes) -> "RunConfig":
        return replace(self, **changes)
