"""The lesson registry. Each lesson's spec lives in its own module here, named like the lesson."""
from __future__ import annotations

import importlib

from shared.errors import LessonError
from shared.specs.base import LessonSpec, Target

# Course order. A lesson is listed here once its spec module and both implementations exist.
LESSONS: tuple[str, ...] = ("poly_fit", "datasets", "gd_vs_sgd", "multiclass", "softmax_regression", "compiled_loop",
                           "quickstart", "xor", "dropout", "batchnorm", "data_parallel", "cnn")


def get(name: str) -> LessonSpec:
    if name not in LESSONS:
        raise LessonError(f"unknown lesson {name!r}; choose one of: {', '.join(LESSONS)} (see `lessons list`)")
    return importlib.import_module(f"shared.specs.{name}").SPEC


def all_specs() -> list[LessonSpec]:
    return [get(n) for n in LESSONS]


DEMOS = "hazards"  # the hazards' demos: twin files like a lesson's, not in the course order


def demos() -> LessonSpec:
    """The demos' settings (shared/specs/hazards.py): one entry of ``hparams`` per hazard."""
    return importlib.import_module(f"shared.specs.{DEMOS}").SPEC


def twin_spec(name: str) -> LessonSpec:
    """The spec of a pair of twin files: a lesson's, or the hazards' demos' (``lessons show hazards``)."""
    return demos() if name == DEMOS else get(name)


__all__ = ["LESSONS", "DEMOS", "LessonSpec", "Target", "get", "all_specs", "demos", "twin_spec"]
