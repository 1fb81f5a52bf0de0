"""Every lesson pair reads as a translation: the same public names in the same order, a visible
train_step wherever the lesson trains, and nothing of the harness in the lesson files."""
import ast
from pathlib import Path

import pytest

from shared import specs

ROOT = Path(__file__).resolve().parent.parent
HARNESS_FUNCTIONS = {"run", "parity_trace", "init_weights", "main", "fit", "course_fit", "train_models",
                     "train_variant", "make_record", "select_device"}
HARNESS_IMPORTS = {"_common", "_harness", "shared.config", "shared.timing", "shared.progress", "shared.results",
                   "shared.runner", "RunConfig", "Stopwatch"}


def tree(framework: str, lesson: str) -> ast.Module:
    return ast.parse((ROOT / f"{framework}_impl" / f"{lesson}.py").read_text())


def public_names(module: ast.Module) -> list[str]:
    names = []
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return [n for n in names if not n.startswith("_")]


def imported(module: ast.Module) -> set[str]:
    out = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out |= {node.module or ""} | {a.name for a in node.names}
    return out


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_twins_have_the_same_public_names_in_the_same_order(lesson):
    assert public_names(tree("torch", lesson)) == public_names(tree("jax", lesson))


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_a_lesson_that_trains_shows_its_train_step_in_both(lesson):
    spec = specs.get(lesson)
    if all(spec.hp(v).get("exercise") for v in spec.variants):
        pytest.skip(f"{lesson} trains nothing")
    for fw in ("torch", "jax"):
        names = public_names(tree(fw, lesson))
        for required in ("load_data", "build_model", "make_optimizer", "train_step", "evaluate", "train"):
            assert required in names, (fw, required)


@pytest.mark.parametrize("lesson", specs.LESSONS)
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_no_harness_in_lesson_files(lesson, framework):
    module = tree(framework, lesson)
    assert not HARNESS_FUNCTIONS & set(public_names(module))
    assert not HARNESS_IMPORTS & imported(module)
    docstring = ast.get_docstring(module)
    assert docstring and len(docstring.splitlines()) <= 16, "a short docstring: what the lesson teaches"
    assert "train_step" in docstring or all(specs.get(lesson).hp(v).get("exercise") for v in specs.get(lesson).variants)


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_no_flax_module_named_after_a_torch_class(lesson):
    import torch.nn

    classes = [n.name for n in tree("jax", lesson).body if isinstance(n, ast.ClassDef)]
    assert not [c for c in classes if hasattr(torch.nn, c)], classes


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_spec_quotes_the_course_and_lists_deviations(lesson):
    spec = specs.get(lesson)
    assert spec.course.get("note"), "which course note the settings come from"
    for setting, reason in spec.deviations.items():
        assert reason, setting
