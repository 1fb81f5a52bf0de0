"""``lessons exercise LESSON --framework jax|torch``: a starter file for translating a lesson yourself.

Written from the twin files (shared/views/twins.py pairs them): the module docstring says what to
do and the commands that grade and reveal it; the target twin's imports; then, pair by pair,
every function and class with its signature and docstring and a body that raises
NotImplementedError, under the other framework's code as a comment to translate. Module-level
wiring (assignments such as ``COST_FORMS = (...)``) is kept as the twin has it. The hazards the
lesson meets are listed by what differs, not by their fix. `lessons check` grades the file and
names what is still a stub.
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import replace
from pathlib import Path

from shared.atomic import atomic_write_text
from shared.errors import LessonError
from shared.views import twins

LABEL = {"torch": "PyTorch", "jax": "JAX (Flax NNX + optax)"}
RULE = 100


TRANSLATE = ("Write this lesson's twin yourself. `lessons exercise` writes a starter file: every function with "
             "its signature and docstring and a body to fill in, the other framework's code beside it as a "
             "comment, and the hazards the lesson meets. `lessons check` grades your file stage by stage against "
             "the project's twins, from the same weights and batches (structure, data, init, forward, loss, "
             "gradients, update, training, evaluation, loop), names the first stage that differs and the tensor, "
             "and, where your code computes what a stock call computes, the hazard you fell into.")


def commands(lesson: str, framework: str = "jax") -> list[str]:
    """The two commands of "Translate it yourself": write the starter, grade it."""
    return [f"lessons exercise {lesson} --framework {framework}",
            f"lessons check {lesson} --{framework} exercises/{lesson}.py"]


def _stub_function(node, lines: list[str], start: int) -> list[str]:
    """The function's own lines up to its body, its docstring, then `raise NotImplementedError`.
    ``lines`` are the segment's, ``start`` the file line of lines[0]."""
    first = node.body[0]
    doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
        and isinstance(first.value.value, str)
    if first.lineno == node.lineno:  # a body on the def line: rebuild the header
        head = ast.unparse(node).split("\n")[0] if not node.decorator_list else None
        if head is None:
            raise LessonError(f"cannot cut line {node.lineno + start - 1} into a stub")
        indent = " " * node.col_offset
        return [indent + head, indent + "    raise NotImplementedError"]
    top = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    out = lines[top - 1:first.lineno - 1]
    if doc:
        out += lines[first.lineno - 1:first.end_lineno]
    out.append(" " * first.col_offset + "raise NotImplementedError")
    return out


def _stub(segment: twins.Segment) -> list[str]:
    """A def or class segment as a stub (a class keeps its header, docstring and attributes; each
    method becomes a stub)."""
    lines = segment.source.split("\n")
    tree = ast.parse(textwrap.dedent(segment.source))
    node = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    lead = lines[:min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1]  # comments above it
    if not isinstance(node, ast.ClassDef):
        return lead + _stub_function(node, lines, segment.first_line)
    out = lead + lines[min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1:node.body[0].lineno - 1]
    for i, stmt in enumerate(node.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if i:
                out.append("")
            out += _stub_function(stmt, lines, segment.first_line)
        else:
            top = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
            out += lines[top - 1:stmt.end_lineno]
    return out


def _commented(segment: twins.Segment, twin: twins.Twin) -> list[str]:
    head = f"# {twin.display_path}:{segment.first_line}, to translate:"
    return [head, *("#" if not line.strip() else f"#   {line}" for line in segment.source.split("\n"))]


def _rule(title: str) -> str:
    return f"# -- {title} " + "-" * max(3, RULE - len(title) - 6)


def _docstring(lesson: twins.Lesson, framework: str, other: str, path_hint: str) -> list[str]:
    spec = lesson.spec
    found = lesson.hazards
    text = [f"{spec.name}: translate {lesson.twin(other).display_path} into {LABEL[framework]}.", "",
            *textwrap.wrap(f"{spec.title}. Each function and class below has its signature and docstring, "
                           "and a body that raises NotImplementedError; above each, the "
                           f"{LABEL[other].split(' ')[0]} code to translate. Fill them in, in order, then grade "
                           "your file:", RULE - 4), "",
            f"    lessons check {spec.name} --{framework} {path_hint}    # stage by stage: where and why it differs",
            f"    lessons show {spec.name}    # peek: both project twins side by side", ""]
    if found:
        text.append("The translation hazards this lesson meets (`lessons hazards`), where torch and Flax/optax differ:")
        for h in found:
            text += textwrap.wrap(f"- {h.name}: {h.differs}" + (" (GPU only)" if h.gpu_only else ""), RULE - 4,
                                  subsequent_indent="  ")
    return ['"""' + text[0], *text[1:], '"""']


def _starter(lesson: str, framework: str, path_hint: str) -> tuple[twins.Lesson, list[str], dict]:
    """The starter file's lines, and for each pair the segment it holds there (a stub for a function
    or class, the twin's own code for imports and module wiring), keyed by the pair's anchor."""
    if framework not in twins.SIDES:
        raise LessonError(f"unknown framework {framework!r}; choose one of: torch, jax")
    other = "torch" if framework == "jax" else "jax"
    found = twins.load(lesson)
    for fw in (framework, other):
        if found.twin(fw).error:
            raise LessonError(f"{found.twin(fw).display_path}: {found.twin(fw).error}")
    out, placed = _docstring(found, framework, other, path_hint), {}

    def place(pair, lines: list[str], mine: twins.Segment) -> None:
        placed[pair.anchor] = twins.Segment(mine.name, mine.kind, "\n".join(lines), len(out) + 1, mine.names)
        out.extend(lines)

    for pair in found.pairs:
        mine, theirs = pair.side(framework), pair.side(other)
        if pair.kind == "main":
            continue
        if pair.kind == "imports":
            out.append("")
            if mine:
                place(pair, mine.source.split("\n"), mine)
            continue
        out += ["", ""]
        if pair.kind not in ("def", "class"):  # module wiring: as the twin has it
            if mine:
                out.append(f"# as {found.twin(framework).display_path} has it:")
                place(pair, mine.source.split("\n"), mine)
            else:
                out += [f"# {found.twin(other).display_path} only:", *_commented(theirs, found.twin(other))[1:]]
            continue
        out.append(_rule(pair.name))
        out += _commented(theirs, found.twin(other)) if theirs else [f"# (no {other} counterpart: {framework} only)"]
        marked = [h for h in pair.hazards if h in found.hazards]
        for h in marked:
            out += textwrap.wrap(f"hazard here: {h.name}: {h.differs}", RULE, initial_indent="# ", subsequent_indent="#   ")
        if mine:
            place(pair, _stub(mine), mine)
        else:
            out.append(f"# nothing to write: {framework}'s twin has no {pair.name}")
    out += ["", "", f'if __name__ == "__main__":  # python {path_hint}: grade this file',
            "    import sys", "    from shared.cli import main",
            f'    raise SystemExit(main(["check", "{lesson}", "--{framework}", __file__, *sys.argv[1:]]))', ""]
    return found, out, placed


def build(lesson: str, framework: str, path_hint: str) -> str:
    """The starter file's text."""
    return "\n".join(_starter(lesson, framework, path_hint)[1])


def beside(lesson: str, framework: str, path_hint: str) -> twins.Lesson:
    """The lesson as `lessons show --exercise` shows it: the other framework's twin beside the
    starter for ``framework`` (its docstring, imports, wiring and stubs, at the starter's lines)."""
    found, lines, placed = _starter(lesson, framework, path_hint)
    doc = "\n".join(lines[:lines.index('"""', 1) + 1]).strip('"').strip()
    starter = twins.Twin(framework, Path(path_hint), doc, tuple(placed.values()))
    pairs = tuple(replace(p, **{framework: placed.get(p.anchor)}) for p in found.pairs if p.kind != "main")
    return replace(found, **{framework: starter}, pairs=pairs)


def write(lesson: str, framework: str, out_dir: Path, *, force: bool = False) -> Path:
    """DIR/LESSON.py; an existing file is an error unless ``force``."""
    path = Path(out_dir) / f"{lesson}.py"
    if path.is_dir():
        raise LessonError(f"{path} is a directory; pass another --out")
    if path.exists() and not force:
        raise LessonError(f"{path} exists (your work?); pass --force to overwrite it, or another --out")
    text = build(lesson, framework, str(path))
    try:
        return atomic_write_text(path, text)
    except OSError as e:
        raise LessonError(f"cannot write {path}: {e.strerror or e}; pass another --out") from None


def command(args) -> int:
    """The CLI's ``exercise``."""
    from shared import specs

    name = specs.get(args.lesson).name
    path = write(name, args.framework, args.out, force=args.force)
    print(f"wrote {path}: fill in each function, then `lessons check {name} --{args.framework} {path}`")
    return 0
