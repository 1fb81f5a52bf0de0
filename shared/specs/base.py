"""LessonSpec: everything about a lesson that is not framework code, defined once.

A spec has four typed parts besides the prose: ``hparams`` (what a learner would call the
lesson's settings), ``shape`` (:class:`RunShape`: how the harness runs the variants), ``parity``
(:class:`Parity`: the step-by-step comparison and its bounds) and ``bench`` (:class:`Bench`).
Every field is named, so a misspelt switch is a TypeError when the spec is imported, not a
silent "off".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

FLOAT64_REL = 1e-9
NOT_SET = object()   # LessonSpec.ours: no variant has the setting   # float64: torch vs JAX per step, relative, wherever a lesson is deterministic


@dataclass(frozen=True)
class Target:
    """What a variant must reach, and how close the two frameworks must be.

    ``at_least``/``at_most`` bound the metric on the embedded data (CPU, CI); ``approx`` with
    ``rel`` is a published figure to reproduce; ``framework_tol`` bounds |torch - jax|: one run's,
    or with ``tol_seeds`` the gap between the two frameworks' means over those seeds (where one
    seed's gap is noise), and every one of those seeds must meet the bounds.
    """

    metric: str
    at_least: float | None = None
    at_most: float | None = None
    approx: float | None = None
    rel: float | None = None
    framework_tol: float | None = None
    tol_seeds: tuple[int, ...] = ()

    def check(self, value: float) -> bool:
        if self.at_least is not None and not value >= self.at_least:
            return False
        if self.at_most is not None and not value <= self.at_most:
            return False
        if self.approx is not None and not abs(value - self.approx) <= (self.rel or 0.0) * abs(self.approx):
            return False
        return True

    def describe(self) -> str:
        parts = []
        if self.at_least is not None:
            parts.append(f">= {self.at_least:g}")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most:g}")
        if self.approx is not None:
            parts.append(f"~ {self.approx:g} (rel {self.rel:g})")
        return " ".join(parts) or "-"

    def describe_tol(self) -> str:
        if self.framework_tol is None:
            return ""
        if self.tol_seeds:
            return f"|Δ mean over seeds {seeds_text(self.tol_seeds)}|<={self.framework_tol:g}"
        return f"|Δ|<={self.framework_tol:g}"


@dataclass(frozen=True)
class Quote:
    """Words quoted from a course note (../shared/course/, in Korean), with their English beside them.

    ``context``: what the quotation stands for, in our words (e.g. "figures only, no printed numbers").
    """

    original: str
    english: str
    context: str = ""

    def __str__(self) -> str:
        return (f"{self.context}: " if self.context else "") + f"“{self.original}” (in English: “{self.english}”)"


def readable(value) -> str:
    """A setting as text a person reads: ``{"numpy": 1e-06, "optim": "RMSprop(lr=1e-3)"}`` is
    ``numpy 1e-6, optim RMSprop(lr=1e-3)``; no dict repr, no quotes around strings, short floats."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} ({readable(v)})" if isinstance(v, Mapping) else f"{k} {readable(v)}"
                         for k, v in value.items())
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(readable(v) for v in value) + ")"
    if isinstance(value, float):
        return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), f"{value:.6g}")
    if value is None:
        return "none"
    return str(value)


def setting_text(key: str, value) -> str:
    """One setting's value as text: :func:`readable`, where batch_size None is "the whole set"."""
    return "the whole set" if key == "batch_size" and value is None else readable(value)


def seeds_text(seeds: tuple[int, ...]) -> str:
    """(0, 1, 2, 3) -> '0-3'; anything else comma-separated."""
    if len(seeds) > 2 and tuple(seeds) == tuple(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


@dataclass(frozen=True)
class RunShape:
    """How the harness runs a lesson's variants: the switches that are not hyperparameters."""

    exercises: tuple[str, ...] = ()     # variants that train nothing: lesson.<variant>(hp, source, seed) -> metrics
    steps: Mapping[str, str] = field(default_factory=dict)  # variant -> its step function (default train_step)
    together: bool = False              # the variants are the models hp["models"] names: one build_model, one step
    eval_each_epoch: bool = False       # the fast path evaluates after every epoch (per-epoch curves)
    data_parallel: bool = False         # trains on --workers K workers through lesson.distribute and lesson.shard
    workers: tuple[int, ...] = (1,)     # the K that --workers accepts

    def __post_init__(self):
        object.__setattr__(self, "steps", MappingProxyType(dict(self.steps)))

    def step(self, variant: str | None) -> str:
        """The name of the lesson's step function that trains ``variant``."""
        return self.steps.get(variant, "train_step")


@dataclass(frozen=True)
class Parity:
    """`lessons parity` and the tests' step-by-step comparison: both frameworks from torch's initial
    weights on the same batches. Bounds are relative per-step loss differences."""

    variants: tuple[str, ...] = ()      # the deterministic variants compared step by step
    steps: int | None = None            # float32 steps the tests trace (None: the whole run)
    first_steps: int | None = None      # loss_rel holds over these first steps (None: every traced step)
    first_steps_variants: tuple[str, ...] = ()  # the variants loss_rel is checked on (empty: every one)
    loss_rel: float = 1e-5              # float32, torch vs JAX, per step
    final_rel: float | None = None      # float32, the last traced step's loss
    float64_steps: int | None = None    # float64 steps the tests trace (None: the whole run)
    float64_rel: float = FLOAT64_REL    # float64, every traced step
    stable_steps: Mapping[str, int] = field(default_factory=dict)  # variant -> steps before it turns chaotic
    stochastic: bool = False            # masks from different generators: compared by bands over tol_seeds
    train_loop_epochs: int | None = None   # the tests' --loop train vs --loop fast run (None: not compared)
    train_loop_variants: tuple[str, ...] = ()  # which variants that comparison checks (empty: every one that trains)
    train_loop_tol: float = 1e-3       # its final metrics: |train - fast| <= tol * max(1, |fast|)
    notes: str = ""                     # what the parity runs show, and why
    extras: Mapping[str, Any] = field(default_factory=dict)  # one lesson's own bounds, named in its tests

    def __post_init__(self):
        object.__setattr__(self, "stable_steps", MappingProxyType(dict(self.stable_steps)))
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))

    def steps_for(self, variant: str, dtype: str = "float32") -> int | None:
        """The steps to trace for ``variant`` in ``dtype``: steps (float64_steps), cut at its stable steps."""
        steps = self.steps if dtype == "float32" else self.float64_steps
        stable = self.stable_steps.get(variant)
        if stable is None:
            return steps
        return stable if steps is None else min(stable, steps)

    def bound(self, dtype: str) -> float:
        """The per-step bound: loss_rel in float32, float64_rel in float64."""
        return self.loss_rel if dtype == "float32" else self.float64_rel


@dataclass(frozen=True)
class Bench:
    """`lessons bench`: how much to time on --data fullsize."""

    epochs: int                         # epochs timed per run
    workers: tuple[int, ...] = ()       # data_parallel: speed against each of these worker counts
    forms: bool = False                 # the variants are forms of the loop: time each one's own train()
    # forward FLOPs per sample where 2 x parameters undercounts them (a conv reuses each weight at every
    # output position); the floor counts 3x this per sample (forward and backward). None: 6 x parameters.
    forward_flops: int | None = None


@dataclass(frozen=True)
class LessonSpec:
    """One lesson: what it teaches, its data, settings, seed and expected results.

    ``hparams`` maps a variant name (or "common") to its settings; ``targets`` maps a variant
    name to its :class:`Target`. The lessons read the settings; tests and the README table read
    the targets.
    """

    name: str
    title: str
    teaches: str
    dataset: str
    seed: int
    hparams: Mapping[str, Any]
    targets: Mapping[str, Target]
    shape: RunShape = field(default_factory=RunShape)
    parity: Parity = field(default_factory=Parity)
    bench: Bench | None = None
    notes: str = ""
    # metrics shown per framework in the run's detail table, besides the target metric
    details: tuple[str, ...] = ()
    # the course's own settings and printed figures, quoted from its note (../shared/course/)
    course: Mapping[str, Any] = field(default_factory=dict)
    # a lesson beyond the course (no note has it): what it adds, said instead of quoting a note
    beyond_course: str = ""
    # setting -> why our default differs from the course's
    deviations: Mapping[str, str] = field(default_factory=dict)
    # data source -> {variant: Target} where that source needs its own (``targets`` hold for the
    # embedded data, and for any source not named here); read them through target()
    data_targets: Mapping[str, Mapping[str, Target]] = field(default_factory=dict)
    # the lesson's own figures besides its curves: fn(spec, records, out_dir) -> {path: PNG bytes}
    figures: Callable | None = None

    def __post_init__(self):
        object.__setattr__(self, "hparams", MappingProxyType(dict(self.hparams)))
        object.__setattr__(self, "targets", MappingProxyType(dict(self.targets)))
        unknown = [v for v in (*self.shape.exercises, *self.shape.steps, *self.parity.variants,
                               *self.parity.stable_steps, *self.parity.train_loop_variants,
                               *self.parity.first_steps_variants)
                   if v not in self.targets]
        if unknown:
            raise ValueError(f"spec {self.name}: no such variant {unknown[0]!r}; its variants: {', '.join(self.targets)}")

    def course_rows(self, changed: Mapping[str, tuple[str, str]] | None = None) -> list[list[str]]:
        """[setting, the course's, ours, why ours differs] for `lessons compare` and the site.
        ``changed``: setting -> (this run's value, why) for the settings a run changed (--set, --epochs)."""
        changed = dict(changed or {})
        rows = []
        for key in dict.fromkeys([*(k for k in self.course if k not in ("note", "published")), *self.deviations,
                                  *changed]):
            ours = self.ours(key)
            mine = ("differs" if key in self.deviations else "as the course") if ours is NOT_SET else \
                setting_text(key, ours)
            why = self.deviations.get(key, "")
            if key in changed:
                mine, why = changed[key]
            rows.append([key, readable(self.course.get(key, "-")), mine, why])
        for metric, value in self.course.get("published", {}).items():
            rows.append([f"published {metric}", readable(value), "-", "the course's printed figure"])
        return rows

    def ours(self, key: str):
        """Our value of the setting ``key``: one value when every variant that has it agrees, else
        {variant: value}; the seed for "seed"; NOT_SET where no variant has the setting."""
        if key == "seed":
            return self.seed
        values = {v: self.hp(v)[key] for v in self.variants if key in self.hp(v)}
        if not values:
            return NOT_SET
        first = next(iter(values.values()))
        return first if all(v == first for v in values.values()) else values

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(self.targets)

    @property
    def trained(self) -> tuple[str, ...]:
        """The variants that train a model (every one but the exercises)."""
        return tuple(v for v in self.variants if v not in self.shape.exercises)

    def target(self, variant: str, data: str = "embedded") -> Target | None:
        """The variant's target on the ``data`` source (--data): its data_targets entry, else targets'."""
        return self.data_targets.get(data, {}).get(variant, self.targets.get(variant))

    def hp(self, variant: str | None = None) -> dict[str, Any]:
        """Settings for ``variant``: the "common" entry updated with the variant's own."""
        out = dict(self.hparams.get("common", {}))
        if variant is not None:
            out.update(self.hparams.get(variant, {}))
        return out

    def settings(self, variant: str | None, data: str) -> dict[str, Any]:
        """The variant's settings for the ``data`` source (--data): a value given per source
        ({"embedded": .., "full": ..}) is resolved to the one for ``data``."""
        return {k: v[data] if isinstance(v, dict) and data in v else v for k, v in self.hp(variant).items()}
