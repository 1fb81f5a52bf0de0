"""A lesson's twin files, read with ``ast`` and paired function by function.

The twins have the same top-level names in the same order (functions and classes). This module
cuts each file into segments (one per top-level function or class; runs of imports, of
assignments and the ``if __name__ == "__main__"`` block are segments too), pairs the segments of
the two files by name, keeping the order, and attaches to each pair the hazards whose ``marker``
(``shared/tools/hazards.py``: the name a lesson calls to apply a fix, e.g. ``as_torch.adam``) is a name
the pair's code uses. Comments and docstrings do not count; ``from jax_impl._as_torch import adam``
followed by ``adam(...)`` does.

Nothing is imported or executed: a file that does not parse is reported, not raised, so the
views keep working while lessons are being rewritten.
"""
from __future__ import annotations

import ast
import difflib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from shared.tools import hazards
from shared import specs
from shared.harness.config import FRAMEWORKS

ROOT = Path(__file__).resolve().parents[2]
SIDES = FRAMEWORKS  # ("torch", "jax"): left column, right column


def lesson_path(framework: str, lesson: str, root: Path = ROOT) -> Path:
    return root / f"{framework}_impl" / f"{lesson}.py"


@dataclass(frozen=True)
class Segment:
    name: str              # the function or class name; "imports", "__main__", or the names assigned
    kind: str              # "def", "class", "imports", "main", "assign", "code"
    source: str            # the exact text, decorators and the comments just above included
    first_line: int        # 1-based line of the first line of ``source`` in the file
    names: frozenset = frozenset()  # dotted names the code uses, imports resolved ("jax_impl._as_torch.adam")

    @property
    def last_line(self) -> int:
        return self.first_line + self.source.count("\n")

    def uses(self, marker: str) -> bool:
        return any(d == marker or d.endswith("." + marker) or d.startswith(marker + ".") for d in self.names)


@dataclass(frozen=True)
class Twin:
    """One lesson file: its path, module docstring and segments (or why it could not be read)."""
    framework: str
    path: Path
    docstring: str = ""
    segments: tuple[Segment, ...] = ()
    error: str | None = None
    future_flags: int = 0  # compile() flags of the file's ``from __future__`` imports

    @property
    def display_path(self) -> str:
        try:
            return str(self.path.relative_to(ROOT))
        except ValueError:
            return str(self.path)


@dataclass(frozen=True)
class Pair:
    name: str
    torch: Segment | None
    jax: Segment | None
    hazards: tuple[hazards.Hazard, ...] = ()
    # hazard name -> the sides whose code uses its marker ("torch", "jax")
    sides: dict = field(default_factory=dict)
    anchor: str = ""  # a unique HTML id on the lesson's page

    def side(self, framework: str) -> Segment | None:
        return self.torch if framework == "torch" else self.jax

    @property
    def kind(self) -> str:
        return (self.torch or self.jax).kind


@dataclass(frozen=True)
class Lesson:
    spec: specs.LessonSpec
    torch: Twin
    jax: Twin
    pairs: tuple[Pair, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    def twin(self, framework: str) -> Twin:
        return self.torch if framework == "torch" else self.jax

    @property
    def hazards(self) -> list[hazards.Hazard]:
        """The hazards the lesson meets (``lessons hazards``) plus any whose marker its code uses;
        for the hazards' demos, every one."""
        used = {h.name for p in self.pairs for h in p.hazards}
        return [h for h in hazards.HAZARDS if self.name in h.lessons or h.name in used or self.name == specs.DEMOS]

    @property
    def unplaced_hazards(self) -> list[hazards.Hazard]:
        """Hazards of the lesson no function pair applies (the harness does, e.g. the TF32 policy)."""
        used = {h.name for p in self.pairs for h in p.hazards}
        return [h for h in self.hazards if h.name not in used]


def see_it(hazard: hazards.Hazard) -> str:
    """The command that shows ``hazard`` making a difference: its demo (`lessons hazards --demo NAME`)."""
    return hazard.demo_command


def changed_lines(pair: Pair) -> dict[str, frozenset]:
    """Per side, the indices of the lines of its code with no counterpart in the twin's (compared
    without indentation, blank lines never counted): what differs inside a pair."""
    lines = {fw: (pair.side(fw).source.split("\n") if pair.side(fw) else []) for fw in SIDES}
    torch, jax = ([line.strip() for line in lines[fw]] for fw in SIDES)
    same: dict[str, set] = {fw: set() for fw in SIDES}
    for block in difflib.SequenceMatcher(None, torch, jax, autojunk=False).get_matching_blocks():
        same["torch"].update(range(block.a, block.a + block.size))
        same["jax"].update(range(block.b, block.b + block.size))
    return {fw: frozenset(i for i, line in enumerate(lines[fw]) if line.strip() and i not in same[fw]) for fw in SIDES}


# -- reading one file ------------------------------------------------------------------------------

def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it refers to, from the module's imports ("adam" -> "jax_impl._as_torch.adam")."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
    return out


def _names(nodes, aliases: dict[str, str]) -> frozenset:
    found = set()
    for stmt in nodes:
        for node in ast.walk(stmt):
            d = _dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
            if d:
                found.add(d)
                head, _, rest = d.partition(".")
                if head in aliases:
                    found.add(aliases[head] + ("." + rest if rest else ""))
    return frozenset(found)


def _category(stmt) -> str:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "def"
    if isinstance(stmt, ast.ClassDef):
        return "class"
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return "imports"
    if (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Compare) and _dotted(stmt.test.left) == "__name__"
            and not stmt.orelse):
        return "main"
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return "assign"
    return "code"


def _targets(stmts) -> list[str]:
    names = []
    for s in stmts:
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        for t in targets:
            for node in ast.walk(t):
                d = _dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
                if d and d not in names and not any(n.startswith(d + ".") for n in names):
                    names.append(d)
    return names


def _group_name(category: str, stmts) -> str:
    if category in ("def", "class"):
        return stmts[0].name
    if category == "imports":
        return "imports"
    if category == "main":
        return "__main__"
    if category == "assign":
        return ", ".join(_targets(stmts)) or "module code"
    return "module code"


def read(framework: str, path: Path) -> Twin:
    """Parse one lesson file into its docstring and segments; a missing or broken file gives ``error``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        return Twin(framework, path, error=f"cannot read {path.name}: {e.strerror or e}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. an invalid escape sequence: the lesson's tests report it
            tree = ast.parse(text, filename=str(path))
    except SyntaxError as e:
        return Twin(framework, path, error=f"{path.name} does not parse (line {e.lineno}: {e.msg})")
    lines = text.splitlines()
    body = list(tree.body)
    docstring = ast.get_docstring(tree, clean=True) or ""
    prev_end = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        prev_end = body[0].end_lineno
        body = body[1:]
    aliases = _aliases(tree)
    groups: list[tuple[str, list]] = []
    for stmt in body:
        cat = _category(stmt)
        if groups and cat == groups[-1][0] and cat not in ("def", "class"):
            groups[-1][1].append(stmt)
        else:
            groups.append((cat, [stmt]))
    segments = []
    flags = 0
    for cat, stmts in groups:
        start = prev_end + 1
        while start <= len(lines) and not lines[start - 1].strip():
            start += 1
        end = stmts[-1].end_lineno
        prev_end = end
        source = "\n".join(lines[start - 1:end])
        kind = {"main": "main"}.get(cat, cat)
        segments.append(Segment(_group_name(cat, stmts), kind, source, start, _names(stmts, aliases)))
        for s in stmts:
            if isinstance(s, ast.ImportFrom) and s.module == "__future__":
                import __future__
                for a in s.names:
                    feature = getattr(__future__, a.name, None)
                    flags |= getattr(feature, "compiler_flag", 0)
    return Twin(framework, path, docstring, tuple(segments), None, flags)


# -- pairing ------------------------------------------------------------------------------------------

def _keyed(segments) -> list[tuple[tuple[str, int], Segment]]:
    """(name, n-th occurrence of that name) for each segment: a repeated name pairs in order."""
    seen: dict[str, int] = {}
    out = []
    for s in segments:
        n = seen.get(s.name, 0)
        seen[s.name] = n + 1
        out.append(((s.name, n), s))
    return out


def pair_segments(left, right) -> list[tuple[Segment | None, Segment | None]]:
    """Pair by name in the left file's order; a name on one side only gets None on the other.

    A right-only segment comes just before the next right segment that has a partner (where it
    sits in its own file), and anything left over at the end.
    """
    lk, rk = _keyed(left), _keyed(right)
    right_by_key = dict(rk)
    left_keys = {k for k, _ in lk}
    r_index = {k: i for i, (k, _) in enumerate(rk)}
    done: set = set()
    out: list[tuple[Segment | None, Segment | None]] = []

    def flush_right_only(upto: int):
        for k, s in rk[:upto]:
            if k not in left_keys and k not in done:
                done.add(k)
                out.append((None, s))

    for k, s in lk:
        if k in right_by_key:
            flush_right_only(r_index[k])
            done.add(k)
            out.append((s, right_by_key[k]))
        else:
            out.append((s, None))
    flush_right_only(len(rk))
    return out


def _hazards_of(t: Segment | None, j: Segment | None):
    found, sides = [], {}
    for h in hazards.HAZARDS:
        where = tuple(fw for fw, seg in (("torch", t), ("jax", j)) if seg is not None and seg.uses(h.marker))
        if where:
            found.append(h)
            sides[h.name] = where
    return tuple(found), sides


def load(lesson: str, root: Path = ROOT) -> Lesson:
    """The lesson's spec, both twins and their pairs (``hazards``: the hazards' demos). An unknown
    lesson raises LessonError."""
    spec = specs.twin_spec(lesson)
    t, j = (read(fw, lesson_path(fw, spec.name, root)) for fw in SIDES)
    pairs, anchors = [], set()
    for a, b in pair_segments(t.segments, j.segments):
        found, sides = _hazards_of(a, b)
        name = (a or b).name
        anchor = base = "pair-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        n = 1
        while anchor in anchors:
            n += 1
            anchor = f"{base}-{n}"
        anchors.add(anchor)
        pairs.append(Pair(name, a, b, found, sides, anchor))
    return Lesson(spec, t, j, tuple(pairs))
