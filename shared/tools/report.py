"""report.md: a whole `lessons compare` run on one page, with its plots embedded."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from shared.harness.config import LOOP_TEXT
from shared.outputs import OutputDir
from shared.tools.results import Record, comparison_cells, markdown_table


def write_report(out: OutputDir, lesson_specs: dict, records: list[Record], plots: dict[str, list[Path]],
                 skipped: dict[str, str]) -> Path:
    """Write report.md into --out: run facts, the combined table, then one section per lesson."""
    out_dir = out.root
    versions = {}
    for r in records:
        versions.update(r.versions)
    devices = sorted({r.device for r in records}) or ["-"]
    machines = sorted({", ".join(f"{k} {v}" for k, v in r.machine.items()) for r in records if r.machine}) or ["-"]
    lines = [
        "# torch-jax-lessons: comparison report", "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- device: {', '.join(devices)}; data: {', '.join(sorted({r.data for r in records})) or '-'}; "
        f"precision: {', '.join(sorted({r.precision for r in records})) or '-'} (TF32 off when strict)",
        f"- versions: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}",
        f"- machine: {'; '.join(machines)}",
        f"- trained by: {'; '.join(sorted({LOOP_TEXT.get(r.loop, r.loop) for r in records if r.loop})) or '-'}", "",
        "## All lessons", "", markdown_table(*comparison_cells(records, lesson_specs)), "",
        "Times are steady training seconds; JAX's compile time is in parentheses.", "",
    ]
    if skipped:
        lines += ["Skipped:", "", *(f"- **{name}**: {why}" for name, why in skipped.items()), ""]
    for name, spec in lesson_specs.items():
        recs = [r for r in records if r.lesson == name]
        if not recs:
            continue
        lines += [f"## {spec.title} (`{name}`)", "", spec.teaches, "",
                  markdown_table(*comparison_cells(recs, lesson_specs)), ""]
        lines += [f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in plots.get(name, [])] + [""]
    return out.write_text(out_dir / "report.md", "\n".join(lines))
