"""``lessons show LESSON``: the torch and JAX twins in two terminal columns, function by function.

Each pair of same-named functions (or classes) starts on the same row; the shorter side is padded.
Long lines wrap inside their column (continuation lines start with a hook). Under each pair come
the notes of the hazards whose fix the pair's code calls. Narrower than ``TWO_COLUMNS`` the view is
one column: torch, then JAX, per function. Syntax is highlighted (pygments) when stdout is a
terminal, ``NO_COLOR`` is unset and ``TERM`` is not ``dumb``; otherwise the text is plain.
"""
from __future__ import annotations

import os
import shutil
import sys
import textwrap

from shared import terminal
from shared.errors import LessonError
from shared.views import twins

TWO_COLUMNS = 120   # at least this many columns: two columns; fewer: one
MIN_WIDTH = 40
MAX_WIDTH = 1000    # wider than any screen; a bigger --width is a typo (COLUMNS is capped here)
FALLBACK_WIDTH = 160  # no terminal anywhere (output to a pipe or a file) and no COLUMNS

UNICODE = {"bar": "│", "rule": "─", "cross": "┼", "hook": "↪ ", "warn": "⚠"}
ASCII = {"bar": "|", "rule": "-", "cross": "+", "hook": "> ", "warn": "!"}


def terminal_width(stream=None) -> int:
    """COLUMNS (at most MAX_WIDTH), else the size of the terminal on stdout or stderr, else FALLBACK_WIDTH."""
    columns = (terminal.width(stream or sys.stdout) or terminal.width(sys.stderr)
               or shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns)
    return min(columns, MAX_WIDTH)


class _Painter:
    """Turns a code segment into lines of at most ``width`` visible characters, highlighted or not."""

    def __init__(self, color: bool, glyphs: dict):
        self.color, self.g = color, glyphs
        if color:
            from pygments.formatters import TerminalFormatter
            from pygments.lexers import PythonLexer
            self.formatter = TerminalFormatter()
            self.lexer = PythonLexer(stripnl=False, ensurenl=False)
        else:
            self.lexer = None

    def _token_lines(self, source: str):
        source = source.expandtabs(4)
        if self.lexer is None:
            return [[(None, line)] for line in source.split("\n")]
        lines, current = [], []
        for ttype, value in self.lexer.get_tokens(source):
            parts = value.split("\n")
            for i, part in enumerate(parts):
                if i:
                    lines.append(current)
                    current = []
                if part:
                    current.append((ttype, part))
        lines.append(current)
        return lines

    def _paint(self, tokens) -> str:
        if not self.color:
            return "".join(v for _, v in tokens)
        import pygments
        return pygments.format(tokens, self.formatter).rstrip("\n")

    def lines(self, source: str, width: int, plain: bool = False) -> list[tuple[str, int]]:
        """[(text, visible length)] of ``source`` wrapped at ``width``; ``plain``: no highlighting."""
        out = []
        hook = self.g["hook"]
        token_lines = [[(None, line)] for line in source.expandtabs(4).split("\n")] if plain else \
            self._token_lines(source)
        for tokens in token_lines:
            text = "".join(v for _, v in tokens)
            lead = " " * min(len(text) - len(text.lstrip(" ")), width // 2)  # continuations keep the indent
            cuts = _breaks(text, width, width - len(lead) - len(hook))
            pieces, offset, k = [[]], 0, 0
            for ttype, value in tokens:
                while value:
                    if k < len(cuts) and offset == cuts[k]:
                        pieces.append([])
                        k += 1
                    stop = cuts[k] if k < len(cuts) else offset + len(value)
                    take = value[:stop - offset]
                    pieces[-1].append((ttype, take))
                    value, offset = value[len(take):], offset + len(take)
            for i, piece in enumerate(pieces):
                if i:  # a continuation: no leading blanks after the hook
                    while piece and not piece[0][1].strip():
                        piece.pop(0)
                    if piece:
                        piece[0] = (piece[0][0], piece[0][1].lstrip())
                while piece and not piece[-1][1].rstrip():  # no trailing blanks
                    piece.pop()
                if piece:
                    piece[-1] = (piece[-1][0], piece[-1][1].rstrip())
                painted = self._paint(piece) if (self.color and not plain) else "".join(v for _, v in piece)
                n = sum(len(v) for _, v in piece)
                if i:
                    painted, n = lead + self.dim(hook) + painted, n + len(lead) + len(hook)
                out.append((painted, n))
        return out

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.color else text

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.color else text

    def warn(self, text: str) -> str:
        return f"\x1b[33m{text}\x1b[0m" if self.color else text


def _breaks(text: str, first: int, rest: int) -> list[int]:
    """Offsets at which to cut ``text`` so the first piece fits ``first`` columns and the others
    ``rest`` (after the hook): after a space, a comma or an opening bracket when one is in the
    second half of the piece, else exactly at the edge."""
    cuts, start, room = [], 0, first
    while len(text) - start > room:
        edge = start + room
        best = max((i + 1 for i in range(start + room // 2, edge) if text[i] in " ,([{"), default=edge)
        # a cut after a space leaves the space at the end of the piece; strip happens at the next one
        cuts.append(best)
        start, room = best, rest
        while start < len(text) and text[start] == " " and len(text) - start > room:
            start += 1  # leading spaces of a continuation are dropped by the caller
    return cuts


def _rule(p: _Painter, label: str, width: int) -> tuple[str, int]:
    g = p.g
    head = f"{g['rule'] * 2} {label} "
    if len(head) > width:
        head = head[:width]
    n = len(head)
    return p.bold(head) + p.dim(g["rule"] * (width - n)), width


def _pad(cell: tuple[str, int], width: int) -> str:
    text, n = cell
    return text + " " * max(0, width - n)


def _hazard_notes(p: _Painter, lesson: twins.Lesson, pair: twins.Pair, width: int, fixes: bool) -> list[str]:
    """Each hazard the pair meets: what differs; with ``fixes``, the side that applies the fix and how."""
    out = []
    for h in pair.hazards:
        sides = " and ".join({"torch": "torch", "jax": "JAX"}[s] for s in pair.sides.get(h.name, ()))
        body = [f"{p.g['warn']} hazard {h.name} ({sides} side): {h.differs}.", f"fix: {h.fix}.",
                f"see it: {twins.see_it(h)}"] if fixes else [f"{p.g['warn']} hazard {h.name}: {h.differs}."]
        for i, para in enumerate(body):
            lines = textwrap.wrap(para, width, initial_indent="  " if i == 0 else "    ", subsequent_indent="    ")
            out.extend(p.warn(line) if i == 0 else line for line in lines)
    return out


def _segment_label(twin: twins.Twin, seg: twins.Segment | None, name: str) -> str:
    if seg is None:
        return ""
    return f"{name}  {twin.display_path}:{seg.first_line}"


def render(lesson: twins.Lesson, width: int, color: bool = False, glyphs: dict = UNICODE, fixes: bool = True) -> str:
    """The whole view as one string (ANSI colors when ``color``); without ``fixes`` (an exercise) the
    hazard notes say what differs, not the fix."""
    p = _Painter(color, glyphs)
    g = glyphs
    spec = lesson.spec
    out = [p.bold(line) for line in textwrap.wrap(f"{spec.name}: {spec.title}", width)]
    out += textwrap.wrap(spec.teaches, width) if spec.teaches else []
    out += textwrap.wrap(f"Notes: {spec.notes}", width) if spec.notes else []
    out.append("")
    two = width >= TWO_COLUMNS
    col = (width - 3) // 2 if two else width
    sep = f" {p.dim(g['bar'])} "

    def block(pair_name, left: tuple | None, right: tuple | None, notes: list[str]):
        """left/right: (label, source, plain) or None for a blank column."""
        if two:
            lrule = _rule(p, left[0], col) if left else ("", 0)
            rrule = _rule(p, right[0], col) if right else ("", 0)
            out.append((_pad(lrule, col) + sep + _pad(rrule, col)).rstrip())
            ll = p.lines(left[1], col, left[2]) if left else []
            rl = p.lines(right[1], col, right[2]) if right else []
            for i in range(max(len(ll), len(rl))):
                a = ll[i] if i < len(ll) else ("", 0)
                b = rl[i] if i < len(rl) else ("", 0)
                out.append((_pad(a, col) + sep + b[0]).rstrip())
        else:
            for side in (left, right):
                if side is None:
                    continue
                if side is not left and left is not None:
                    out.append("")
                out.append(_pad(_rule(p, side[0], col), col).rstrip())
                out.extend(t for t, _ in p.lines(side[1], col, side[2]))
        out.extend(notes)
        out.append("")

    # The module docstrings first: the lesson's explanation in each framework's words.
    docs = [(f"module docstring  {t.display_path}", t.docstring, True) if t.docstring else None
            for t in (lesson.torch, lesson.jax)]
    if any(docs):
        block("docstring", *docs, [])
    for t in (lesson.torch, lesson.jax):
        if t.error:
            out.append(p.warn(f"{g['warn']} {t.display_path}: {t.error}"))
    if lesson.torch.error or lesson.jax.error:
        out.append("")
    for pair in lesson.pairs:
        sides = []
        for fw in twins.SIDES:
            seg = pair.side(fw)
            sides.append((_segment_label(lesson.twin(fw), seg, pair.name), seg.source, False) if seg else None)
        block(pair.name, *sides, _hazard_notes(p, lesson, pair, width, fixes))
    rest = lesson.unplaced_hazards
    if rest:
        out += [p.bold(line) for line in textwrap.wrap(
            "Hazards handled outside these functions (by the harness or the data):", width)]
        for h in rest:
            text = f"{h.name}: {h.differs}. fix: {h.fix}. see it: {twins.see_it(h)}" if fixes else f"{h.name}: {h.differs}."
            out.extend(textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="    "))
    return "\n".join(out).rstrip("\n") + "\n"


def _glyphs_for(stream) -> dict:
    enc = getattr(stream, "encoding", None) or "ascii"
    try:
        "".join(UNICODE.values()).encode(enc)
        return UNICODE
    except (UnicodeEncodeError, LookupError):
        return ASCII


def command(args) -> int:
    """The CLI's ``show``: validates --width, picks color and glyphs from stdout."""
    if args.width is not None and not MIN_WIDTH <= args.width <= MAX_WIDTH:
        raise LessonError(f"--width must be between {MIN_WIDTH} and {MAX_WIDTH}, got {args.width}")
    if args.framework is not None and not args.exercise:
        raise LessonError("--framework picks the starter `--exercise` shows; add --exercise, or leave --framework out")
    if args.exercise:
        from shared import specs
        from shared.views import exercise

        if args.lesson == specs.DEMOS:
            raise LessonError(f"{specs.DEMOS} holds the hazards' demos, not a lesson to translate; "
                              "`lessons show hazards` shows them, `lessons list` names the lessons")
        name = specs.get(args.lesson).name
        framework = args.framework or "jax"
        lesson = exercise.beside(name, framework, f"exercises/{name}.py")
    else:
        lesson = twins.load(args.lesson)
    width = args.width or terminal_width()
    width = min(max(width, MIN_WIDTH), MAX_WIDTH)
    stream = sys.stdout
    color = stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    glyphs = _glyphs_for(stream)
    text = render(lesson, width, color, glyphs, fixes=not args.exercise)
    if glyphs is ASCII:  # code or notes with characters the stream cannot encode: "?" rather than a crash
        enc = getattr(stream, "encoding", None) or "ascii"
        text = text.encode(enc, "replace").decode(enc)
    stream.write(text)
    stream.flush()
    return 0
