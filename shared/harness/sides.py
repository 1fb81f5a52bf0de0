"""Where the harness reaches into a framework: the two framework sides and the lesson modules.

This is the one place shared/ names framework code, by module name (importlib), so shared/ itself
imports no framework. What it returns is typed by the declared contract (shared/harness/protocol.py):
``<fw>_impl/_harness.py`` is a :class:`~shared.harness.protocol.HarnessSide`,
``<fw>_impl/_distributed.py`` a :class:`~shared.harness.protocol.DistributedSide`, and
``<fw>_impl/<lesson>.py`` a :class:`~shared.harness.protocol.Lesson`.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from shared.errors import LessonError
from shared.harness.config import FRAMEWORKS
from shared.harness.protocol import DistributedSide, HarnessSide, Lesson

_FRAMEWORK_PACKAGES = ("torch", "torchvision", "jax", "jaxlib", "flax", "optax")


def _load(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in _FRAMEWORK_PACKAGES:
            raise LessonError(f"{e.name} is not installed; run `python3 bootstrap.py test` to create the environment") from e
        raise


def _check(framework: str) -> None:
    if framework not in FRAMEWORKS:
        raise LessonError(f"unknown framework {framework!r}; choose one of: torch, jax, both")


def harness(framework: str) -> HarnessSide:
    """``<framework>_impl._harness``: devices, precision, the weight exchange, the fast path."""
    _check(framework)
    return _load(f"{framework}_impl._harness")


def distributed(framework: str) -> DistributedSide:
    """``<framework>_impl._distributed``: process groups and meshes for --workers K."""
    harness(framework)
    return _load(f"{framework}_impl._distributed")


def lesson(framework: str, name: str) -> Lesson:
    """``<framework>_impl.<name>``: the lesson (or, in a notebook, the module its cells fill)."""
    harness(framework)
    return _load(f"{framework}_impl.{name}")


def demos(framework: str) -> ModuleType:
    """``<framework>_impl.hazards``: one function per translation hazard's demo (shared/tools/demos.py)."""
    harness(framework)
    return _load(f"{framework}_impl.hazards")
