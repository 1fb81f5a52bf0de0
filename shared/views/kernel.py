"""What a lesson notebook's kernel uses: one fresh module per twin, filled by the twin's cells.

``module("torch", "xor")`` makes an empty module named ``torch_impl.xor``, puts it in
``sys.modules`` in place of the file's module, and registers the cell magic ``%%torch``: a cell
that starts with it runs inside that module, as if it were the file's next lines. ``%%jax``
does the same for ``jax_impl.xor``. So the torch cells and the JAX cells never share a
namespace (both define ``build_model``, ``train_step``, ...), and ``shared.harness.runner.run`` finds
the modules the cells built: the notebook's run trains the code the notebook shows, edits
included.

No framework is imported here; the cells import what the lesson files import.
"""
from __future__ import annotations

import importlib
import sys
import types

from shared.harness.config import FRAMEWORKS
from shared.errors import LessonError
from shared.views import twins


def module(framework: str, lesson: str, shell=None) -> types.ModuleType:
    """A new, empty ``<framework>_impl.<lesson>`` that ``%%<framework>`` cells run in; see the module doc."""
    if framework not in FRAMEWORKS:
        raise LessonError(f"unknown framework {framework!r}; choose one of: {', '.join(FRAMEWORKS)}")
    twin = twins.read(framework, twins.lesson_path(framework, lesson))
    package = importlib.import_module(f"{framework}_impl")
    name = f"{framework}_impl.{lesson}"
    mod = types.ModuleType(name, twin.docstring or None)
    mod.__file__ = str(twin.path)
    mod.__package__ = package.__name__
    sys.modules[name] = mod
    setattr(package, lesson, mod)
    flags = twin.future_flags  # e.g. `from __future__ import annotations` holds in every cell, as in the file
    label = f"{twin.display_path} (notebook cell)"

    def run_cell(line: str, cell: str):
        exec(compile(cell, label, "exec", flags=flags, dont_inherit=True), mod.__dict__)

    run_cell.__doc__ = f"Run the cell inside {name} (the {framework} twin), not in the notebook's namespace."
    if shell is None:
        from IPython import get_ipython  # only inside a kernel
        shell = get_ipython()
    if shell is not None:
        shell.register_magic_function(run_cell, magic_kind="cell", magic_name=framework)
    return mod
