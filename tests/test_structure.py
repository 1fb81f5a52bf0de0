"""The project's structure, checked: every lesson pair reads as a translation (the same public names
in the same order, a visible train_step wherever the lesson trains, nothing of the harness in a
lesson file); both framework sides keep the declared contract; and the modules import one way,
without a cycle."""
import ast
import importlib
import inspect
from pathlib import Path

import pytest

from shared import specs
from shared.harness import protocol

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "torch_impl", "jax_impl")
# What a lesson file must not define or import: the harness's own names and modules.
HARNESS_FUNCTIONS = {"run", "main", "fit", "select_device", "new_model", "export_weights", "import_weights",
                     "train_as_written", "records", "trace", "initial_weights"}
HARNESS_IMPORTS = {"_harness", "_distributed", "shared.harness", "shared.harness.config", "shared.harness.timing",
                   "shared.harness.runner", "shared.harness.session", "shared.harness.records", "shared.progress",
                   "shared.tools", "shared.tools.results", "RunConfig", "Stopwatch"}


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
    if not spec.trained:
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
    assert "train_step" in docstring or not specs.get(lesson).trained


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_no_flax_module_named_after_a_torch_class(lesson):
    import torch.nn

    classes = [n.name for n in tree("jax", lesson).body if isinstance(n, ast.ClassDef)]
    assert not [c for c in classes if hasattr(torch.nn, c)], classes


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_spec_quotes_the_course_and_lists_deviations(lesson):
    spec = specs.get(lesson)
    # which course note the settings come from; or, for a lesson beyond the course, that it is and why
    assert bool(spec.course.get("note")) != bool(spec.beyond_course)
    for setting, reason in spec.deviations.items():
        assert reason, setting


@pytest.mark.parametrize("side,contract", [("_harness", protocol.HarnessSide), ("_distributed", protocol.DistributedSide)])
def test_both_framework_sides_keep_the_declared_contract(side, contract):
    """<fw>_impl/_harness.py and _distributed.py: every member of the protocol (shared/harness/protocol.py)
    with its signature, the same public functions in both, and nothing public that the protocol lacks."""
    modules = {fw: importlib.import_module(f"{fw}_impl.{side}") for fw in ("torch", "jax")}
    declared = protocol.members(contract)
    for fw, module in modules.items():
        assert protocol.differences(module, contract) == [], fw
        functions = {n for n, v in vars(module).items() if inspect.isfunction(v) and v.__module__ == module.__name__
                     and not n.startswith("_")}
        assert functions == {n for n, sig in declared.items() if sig is not None}, (fw, functions ^ set(declared))
    sigs = {fw: {n: inspect.signature(getattr(m, n)) for n, sig in declared.items() if sig is not None}
            for fw, m in modules.items()}
    assert {n: list(s.parameters) for n, s in sigs["torch"].items()} == \
        {n: list(s.parameters) for n, s in sigs["jax"].items()}


@pytest.mark.parametrize("lesson", specs.LESSONS)
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_every_lesson_keeps_the_lesson_protocol(lesson, framework):
    """What the harness calls (shared/harness/protocol.py: Lesson, and DataParallelLesson where the spec
    runs on workers), with usable signatures; each variant's named step and each exercise exist."""
    spec = specs.get(lesson)
    module = importlib.import_module(f"{framework}_impl.{lesson}")
    for name in [*spec.shape.steps.values(), *spec.shape.exercises]:
        assert callable(getattr(module, name, None)), name
    if not spec.trained:
        return
    contract = protocol.DataParallelLesson if spec.shape.data_parallel else protocol.Lesson
    assert protocol.differences(module, contract, names=False) == []


def _project_imports() -> dict[str, set[str]]:
    """module -> the project modules it imports (every import statement, at any depth), read with ast."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    found.add(t)
        graph[name] = found
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in the graph (as the list of modules round it), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_the_projects_modules():
    """CLI -> runner -> session -> framework side -> lesson, one way: no module reaches itself through its
    imports (function-local imports included)."""
    graph = _project_imports()
    assert {"shared.cli", "shared.harness.runner", "shared.harness.session", "torch_impl._harness"} <= set(graph)
    assert "shared.harness.session" in graph["shared.harness.runner"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_a_misspelt_switch_or_variant_fails_when_the_spec_is_made():
    """The harness's switches are typed fields: a typo is an error at import, never a silent "off"."""
    from shared.specs.base import LessonSpec, Parity, RunShape, Target

    with pytest.raises(TypeError, match="togethr"):
        RunShape(togethr=True)
    with pytest.raises(TypeError, match="loss_rell"):
        Parity(loss_rell=1e-5)
    with pytest.raises(ValueError, match="no such variant 'mpl'"):
        LessonSpec("x", "x", "x", "x", 0, {}, {"mlp": Target("accuracy")}, parity=Parity(variants=("mpl",)))
