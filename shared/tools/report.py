"""report.md: a whole `lessons compare` run on one page: the combined table, then per lesson its
comparison, each framework's numbers and times, the course's settings beside ours, and its plots."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from shared.harness.config import LOOP_TEXT
from shared.outputs import OutputDir
from shared.specs import settings
from shared.tools.results import Record, comparison_cells, detail_cells, markdown_table, override_flags

COURSE = ["setting", "course", "ours", "why ours differs"]


def write_report(out: OutputDir, lesson_specs: dict, records: list[Record], plots: dict[str, list[Path]],
                 skipped: dict[str, str], epochs_flag: bool = False) -> Path:
    """Write report.md into --out: run facts, the combined table, then one section per lesson
    (``epochs_flag``: the run's epochs came from --epochs, not --set epochs=)."""
    out_dir = out.root
    versions = {}
    for r in records:
        versions.update(r.versions)
    devices = sorted({r.device for r in records}) or ["-"]
    machines = sorted({", ".join(f"{k} {v}" for k, v in r.machine.items()) for r in records if r.machine}) or ["-"]
    overrides = {k: v for r in records for k, v in r.overrides.items()}
    lines = [
        "# torch-jax-lessons: comparison report", "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- device: {', '.join(devices)}; data: {', '.join(sorted({r.data for r in records})) or '-'}; "
        f"precision: {', '.join(sorted({r.precision for r in records})) or '-'} (TF32 off when strict)",
        f"- versions: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}",
        f"- machine: {'; '.join(machines)}",
        f"- trained by: {'; '.join(sorted({LOOP_TEXT.get(r.loop, r.loop) for r in records if r.loop})) or '-'}",
    ]
    if overrides:
        lines.append(f"- settings overridden: `{override_flags(overrides)}`. The targets hold for the lessons' own "
                     "settings, so no row is judged against them.")
    lines += ["", "## All lessons", "", markdown_table(*comparison_cells(records, lesson_specs)), "",
              "Times are the training seconds of one run, JAX's compile time in parentheses. One run is noisy on "
              "a busy machine: `lessons bench` repeats the runs and reports the median.", ""]
    if skipped:
        lines += ["Skipped:", "", *(f"- **{name}**: {why}" for name, why in skipped.items()), ""]
    for name, spec in lesson_specs.items():
        recs = [r for r in records if r.lesson == name]
        if not recs:
            continue
        lines += [f"## {spec.title} (`{name}`)", "", spec.teaches, "",
                  markdown_table(*comparison_cells(recs, lesson_specs)), "",
                  "Each framework's run:", "", markdown_table(*detail_cells(recs, spec.details)), ""]
        changed = settings.described(spec, [r.overrides for r in recs], epochs_flag=epochs_flag)
        if spec.course:
            rows = spec.course_rows(changed)
            lines += [f"The course (note {spec.course['note']}) and {'this run' if changed else 'our settings'}:", "",
                      markdown_table(COURSE, [[c.replace("\n", " ") for c in row] for row in rows]), ""]
        lines += [f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in plots.get(name, [])] + [""]
    return out.write_text(out_dir / "report.md", "\n".join(lines))
