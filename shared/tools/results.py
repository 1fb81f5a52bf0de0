"""Result records read into tables: the comparison of both frameworks against the targets, the
detail per record; and the tables themselves, for a terminal (sized to it) and in Markdown."""
from __future__ import annotations

import io
import math
import textwrap

from shared import terminal
from shared.harness.records import Record
from shared.specs.base import readable

WRAP_MIN = 12      # a column whose cells wrap keeps at least this many characters (or its longest word)
LOW = 2            # a column of this priority or more is low-value: it goes when others would wrap much
UNBOUNDED = 10**6  # no terminal: the table's full width


def format_table(headers: list[str], rows: list[list[str]], *, priority: list[int] | None = None,
                 width: int | None = None) -> str:
    """The table as text that fits ``width`` columns: by default the terminal's (shared.terminal);
    without a terminal (a pipe, a file) the full table, nothing wrapped or left out.

    Long cells wrap inside their column. ``priority`` gives each column a number: 0 (the default)
    is always kept, and while the table cannot fit, the column with the highest number is left
    out (the rightmost of equals first); one of LOW or more also goes when that spares a quarter
    of the lines the others would wrap into. A last line names what was left out. When even the
    columns kept cannot each have their longest word (and at least WRAP_MIN characters where a
    cell wraps), each row is printed as a block instead: its first cell, then a line per column.
    """
    headers = [str(h) for h in headers]
    rows = [[str(c) for c in row] for row in rows]
    width = terminal.width() if width is None else width
    if not width:
        return _render(headers, rows, None)
    priority = list(priority or [0] * len(headers))
    needs = [_need([h, *(r[i] for r in rows)]) for i, h in enumerate(headers)]
    fits = lambda cols: sum(needs[i] for i in cols) + 2 * (len(cols) - 1) <= width
    keep = list(range(len(headers)))
    while not fits(keep) and _next_out(keep, priority, 1) is not None:
        keep.remove(_next_out(keep, priority, 1))
    # a low-value column also goes when that saves a quarter of the lines the others wrap into
    while fits(keep) and _next_out(keep, priority, LOW) is not None:
        fewer = [i for i in keep if i != _next_out(keep, priority, LOW)]
        if _line_count(headers, rows, fewer, needs, width) > 0.75 * _line_count(headers, rows, keep, needs, width):
            break
        keep = fewer
    pick = lambda cells: [cells[i] for i in keep]
    left_out = [headers[i] for i in range(len(headers)) if i not in keep]
    if not fits(keep):
        text = _blocks(pick(headers), [pick(r) for r in rows], width)
    else:
        text = _render(pick(headers), [pick(r) for r in rows], _widths(pick(headers), [pick(r) for r in rows], width,
                                                                       pick(needs)))
    if left_out:
        text += "\n" + terminal.wrap(f"(left out to fit {width} columns: {', '.join(left_out)})", width)
    return text


def _next_out(keep: list[int], priority: list[int], lowest: int) -> int | None:
    """The column to leave out next: the highest priority (at least ``lowest``), the rightmost of equals."""
    top = max((priority[i] for i in keep), default=0)
    return max(i for i in keep if priority[i] == top) if top >= lowest else None


def _line_count(headers, rows, keep: list[int], needs: list[int], width: int) -> int:
    """How many lines the table takes with the columns ``keep``, each row as tall as its tallest cell."""
    pick = lambda cells: [cells[i] for i in keep]
    widths = _widths(pick(headers), [pick(r) for r in rows], width, pick(needs))
    return sum(max(len(textwrap.wrap(c, w) or [""]) for c, w in zip(pick(r), widths)) for r in [headers, *rows])


def _lines(cell: str) -> list[str]:
    return cell.split("\n")


def _need(cells: list[str]) -> int:
    """The narrowest a column reads well: its longest word, and WRAP_MIN where its cells wrap."""
    natural = max(len(line) for c in cells for line in _lines(c))
    word = max((len(w) for c in cells for w in c.split()), default=0)
    return min(natural, max(word, WRAP_MIN))


def _widths(headers, rows, width: int, needs: list[int]) -> list[int]:
    """Each column's width: its natural one, the widest cut first (never below its need) until the
    table fits ``width``."""
    widths = [max(len(line) for c in [h, *(r[i] for r in rows)] for line in _lines(c)) for i, h in enumerate(headers)]
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    while excess > 0:
        i = max((i for i in range(len(widths)) if widths[i] > needs[i]), key=lambda i: widths[i] - needs[i])
        widths[i] -= 1
        excess -= 1
    return widths


def _console(width: int | None):
    """A rich console that draws into a string: plain text, never markup, never Jupyter's display."""
    from rich.console import Console
    return Console(file=io.StringIO(), width=width or UNBOUNDED, color_system=None, force_terminal=False,
                   force_jupyter=False, highlight=False, markup=False, emoji=False, legacy_windows=False)


def _text(console) -> str:
    return "\n".join(line.rstrip() for line in console.file.getvalue().rstrip("\n").split("\n"))


def _render(headers, rows, widths: list[int] | None) -> str:
    """The table drawn by rich: the header, a rule of dashes under each column, the rows; columns two
    spaces apart; each column ``widths[i]`` wide (None: as wide as its widest cell)."""
    from rich.table import Table
    from rich.text import Text

    widths = widths or [max(len(line) for c in [h, *(r[i] for r in rows)] for line in _lines(c))
                        for i, h in enumerate(headers)]
    # every column, the last too, pads 2 on its right (stripped): the same layout in rich 13 and 15
    table = Table(box=None, show_edge=False, pad_edge=True, padding=(0, 2, 0, 0), header_style="", highlight=False)
    for h, w in zip(headers, widths):
        table.add_column(Text(h), overflow="fold", width=w)
    for row in [["-" * w for w in widths], *rows]:
        table.add_row(*map(Text, row))
    console = _console(sum(widths) + 2 * len(widths))
    console.print(table)
    return _text(console)


def _blocks(headers, rows, width: int) -> str:
    """Each row as a block: its first cell on a line, then each other column's header and value, the
    value wrapping in its own column; a blank line between blocks."""
    from rich.table import Table
    from rich.text import Text

    console = _console(width)
    for n, row in enumerate(rows):
        if n:
            console.print()
        console.print(Text(row[0]), overflow="fold")
        grid = Table.grid(padding=(0, 0, 0, 2), pad_edge=True)
        grid.add_column(max_width=max(12, width // 3), overflow="fold")
        grid.add_column(overflow="fold")
        for h, c in zip(headers[1:], row[1:]):
            if c.strip():
                grid.add_row(Text(h), Text(c))
        if grid.row_count:
            console.print(grid)
    return _text(console)


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}" if abs(value) >= 1e4 or 0 < abs(value) < 1e-3 else f"{value:.{digits}f}"


def override_flags(overrides: dict) -> str:
    """{"epochs": 1, "lr": 0.1} -> "--epochs 1 --set lr=0.1": the options that replaced the lesson's settings."""
    return " ".join(f"--epochs {v}" if k == "epochs" else f"--set {k}={readable(v)}" for k, v in overrides.items())


def comparison_rows(records: list[Record], specs: dict) -> list[dict]:
    """Pair torch and jax records per (lesson, variant, device, data) against the spec's target.

    A run whose settings were overridden (``Record.overrides``: --epochs, --set) is not judged:
    the targets hold for the lesson's own settings. Its row's ``ok`` is None.
    """
    by_key: dict[tuple, dict[str, Record]] = {}
    for r in records:
        by_key.setdefault((r.lesson, r.variant, r.device, r.data), {})[r.framework] = r
    rows = []
    for (lesson, variant, device, data), fws in by_key.items():
        target = specs[lesson].target(variant, data)
        metric = target.metric if target else next(iter(next(iter(fws.values())).metrics))
        t, j = fws.get("torch"), fws.get("jax")
        tv = t.metrics.get(metric) if t else None
        jv = j.metrics.get(metric) if j else None
        delta = abs(tv - jv) if tv is not None and jv is not None else None
        overrides = {k: v for r in fws.values() for k, v in r.overrides.items()}
        ok = None
        if target is not None and not overrides:
            ok = all(target.check(v) for v in (tv, jv) if v is not None)
            if delta is not None and target.framework_tol is not None and not target.tol_seeds:
                ok = ok and delta <= target.framework_tol   # a seed-mean tolerance is not judged on one run
        rows.append(dict(lesson=lesson, variant=variant, device=device, data=data, metric=metric,
                         torch=tv, jax=jv, delta=delta, ok=ok, target=target, overrides=overrides,
                         torch_s=t.train_s if t else None, jax_s=j.train_s if j else None,
                         torch_compile_s=t.compile_s if t else None, jax_compile_s=j.compile_s if j else None))
    return rows


def ok_text(row: dict) -> str:
    """The ok column: yes, NO, - (no target), or "not judged (--epochs 1)" for overridden settings."""
    if row["overrides"]:
        return f"not judged ({override_flags(row['overrides'])})"
    return {True: "yes", False: "NO", None: "-"}[row["ok"]]


TIMES = ("torch s (1 run)", "jax s (1 run, +compile)")
# Left out first on a narrow terminal: the times (one run each, see `lessons bench`), then the
# target (its numbers are in report.md), the metric's name, then |Δ|.
COMPARISON_PRIORITY = [0, 0, 2, 0, 0, 1, 3, 0, 4, 4]


def comparison_cells(records: list[Record], specs: dict) -> tuple[list[str], list[list[str]]]:
    """The combined table: lesson, variant, metric, torch, jax, |Δ|, target, within tolerance, times."""
    headers = ["lesson", "variant", "metric", "torch", "jax", "|Δ|", "target", "ok", *TIMES]
    rows = []
    for r in comparison_rows(records, specs):
        tol = r["target"].describe_tol() if r["target"] else ""
        target = (r["target"].describe() if r["target"] else "-") + (f", {tol}" if tol else "")
        jax_s = "-" if r["jax_s"] is None else f"{r['jax_s']:.2f} (+{r['jax_compile_s']:.2f})"
        rows.append([r["lesson"], r["variant"], r["metric"], fmt(r["torch"]), fmt(r["jax"]), fmt(r["delta"]),
                     target, ok_text(r), "-" if r["torch_s"] is None else f"{r['torch_s']:.2f}", jax_s])
    return headers, rows


def comparison_table(records: list[Record], specs: dict, width: int | None = None) -> str:
    """The comparison for a terminal: for one lesson without the lesson column; for several, each
    lesson's name on a line of its own above its variants (a narrow first column)."""
    headers, rows = comparison_cells(records, specs)
    lessons = list(dict.fromkeys(row[0] for row in rows))
    if len(lessons) <= 1:
        return format_table(headers[1:], [row[1:] for row in rows], priority=COMPARISON_PRIORITY[1:], width=width)
    grouped = []
    for lesson in lessons:
        own = [row for row in rows if row[0] == lesson]
        if len(own) == 1:   # one variant: one row
            grouped.append([f"{lesson}: {own[0][1]}", *own[0][2:]])
            continue
        grouped.append([lesson] + [""] * (len(headers) - 2))
        grouped += [[f"  {row[1]}", *row[2:]] for row in own]
    return format_table(["lesson / variant", *headers[2:]], grouped, priority=COMPARISON_PRIORITY[1:], width=width)


def detail_cells(records: list[Record], metrics: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """One row per record: variant, framework, the given metrics, steps, steps/s and times."""
    headers = ["variant", "framework", *metrics, "steps", "steps/s", "train s", "compile s"]
    order = list(dict.fromkeys(r.variant for r in records))
    rows = [[r.variant, r.framework, *(fmt(r.metrics.get(m)) for m in metrics), str(r.steps),
             f"{r.steps_per_s:,.0f}" if r.steps and r.train_s > 0 else "-", f"{r.train_s:.3f}", f"{r.compile_s:.2f}"]
            for r in sorted(records, key=lambda r: (order.index(r.variant), r.framework != "torch"))]
    return headers, rows


def detail_table(records: list[Record], metrics: tuple[str, ...], width: int | None = None) -> str:
    """:func:`detail_cells` for a terminal: steps and times are left out first."""
    headers, rows = detail_cells(records, metrics)
    return format_table(headers, rows, priority=[0, 0, *(0 for _ in metrics), 1, 2, 1, 2], width=width)


def start_note(records: list[Record]) -> str:
    """Whether torch and JAX started from the same weights (Record.extras["start"]: a digest of the
    initial weights), and what that means for reading their curves side by side."""
    starts: dict[str, dict[str, str]] = {}
    for r in records:
        if "start" in r.extras:
            starts.setdefault(r.variant, {})[r.framework] = r.extras["start"]
    pairs = {v: fws for v, fws in starts.items() if len(fws) == 2}
    if not pairs:
        return ""
    differ = [v for v, fws in pairs.items() if len(set(fws.values())) > 1]
    lesson = records[0].lesson
    if not differ:
        return "torch (solid) and JAX (dashed) start from the same weights, so where their curves part is " \
               "where the frameworks' arithmetic differs."
    which = "" if len(differ) == len(pairs) else f" ({', '.join(differ)})"
    return (f"torch (solid) and JAX (dashed) start from different random weights{which}: the same "
            "distribution, different draws. Their curves differ as two seeds of one framework would, so "
            "compare their shapes, not the step where each drops; a later drop is not slower learning. "
            f"`lessons parity {lesson}` starts both from the same weights.")


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    esc = lambda c: str(c).replace("|", "\\|")
    return "\n".join(["| " + " | ".join(map(esc, headers)) + " |", "|" + "---|" * len(headers),
                      *("| " + " | ".join(map(esc, row)) + " |" for row in rows)])
