"""What `lessons run` and `lessons compare` print.

By default: one line per lesson as it finishes (its verdict and how long each framework took),
then the comparison table, then where the rest is (report.md) and what the numbers mean. With
``-v``, each lesson's detail as it finishes: its comparison, the per-framework table, the course's
settings beside ours and the files written. report.md always holds all of it.
"""
from __future__ import annotations

from pathlib import Path

from shared import terminal
from shared.harness.config import LOOP_FAST, LOOP_OWN
from shared.tools import results

NAME_WIDTH = 18   # the longest lesson name (softmax_regression)

TIMES_NOTE = "Times: one run each, noisy on a busy machine; `lessons bench` takes medians."
# What trained the runs, said under the table in one line, and the other loop (report.md says more).
LOOP_NOTE = {LOOP_OWN: "each lesson's own train() (--loop fast: the harness's fast path over its train_step)",
             LOOP_FAST: "the harness's fast path (`lessons run`: each lesson's own train())"}


def verdict(rows: list[dict]) -> str:
    """"5/5 within targets", "4/5 within targets, NO: optim", "not judged (--epochs 1)", or both:
    "3/3 within targets, 2 not judged (--epochs 1)"."""
    judged = [r for r in rows if r["ok"] is not None]
    unjudged = [r for r in rows if r["overrides"]]
    parts = []
    if judged:
        failed = [r["variant"] for r in judged if not r["ok"]]
        parts.append(f"{len(judged) - len(failed)}/{len(judged)} within targets"
                     + (f", NO: {', '.join(failed)}" if failed else ""))
    if unjudged:
        flags = results.override_flags({k: v for r in unjudged for k, v in r["overrides"].items()})
        parts.append(f"{len(unjudged)} not judged ({flags})" if judged else f"not judged ({flags})")
    return ", ".join(parts) or "no targets"


def lesson_line(spec, records, took_s: float) -> str:
    """The lesson's one line: its name, verdict and how long it took (both frameworks, wall clock)."""
    rows = results.comparison_rows(records, {spec.name: spec})
    return terminal.wrap(f"{spec.name:<{NAME_WIDTH}}  {verdict(rows)}  ({took_s:.1f} s)", indent=" " * (NAME_WIDTH + 2))


def lesson_detail(spec, records, written: list[Path], changed: dict | None = None) -> str:
    """-v: the lesson's title, comparison, per-framework table, the course's settings beside ours (and
    ``changed``: setting -> (this run's value, why), what --set and --epochs changed) and its files."""
    parts = [f"\n{terminal.wrap(spec.title)}\n", results.comparison_table(records, {spec.name: spec}), "",
             results.detail_table(records, spec.details)]
    if spec.course:
        parts += ["", terminal.wrap(f"The course (note {spec.course['note']}) and "
                                    + ("this run" if changed else "our settings")), "",
                  results.format_table(["setting", "course", "ours", "why ours differs"], spec.course_rows(changed),
                                       priority=[0, 0, 0, 1])]
    parts += [f"wrote {p}" for p in written]
    return "\n".join(parts)


def table_title(names: list[str], lesson_specs: dict, cfg) -> str:
    what = "All lessons" if len(names) > 1 else lesson_specs[names[0]].title
    return terminal.wrap(f"{what}: torch vs JAX, {cfg.data} data, {cfg.device}")


def closing(records, *, report: Path | None, out: Path, skipped: dict[str, str], loop: str | None = None) -> list[str]:
    """The lines after the table: what trained the runs (``loop``), what the times are, what was
    skipped, where the rest is, and last, when settings were overridden, that the targets were not judged."""
    lines = [f"Trained with {LOOP_NOTE[loop]}."] if loop in LOOP_NOTE else []
    lines.append(TIMES_NOTE)
    lines += [f"skipped {name}: {why}" for name, why in skipped.items()]
    if report is not None:
        lines.append(f"Full report: {report} (-v prints each lesson's detail here; `lessons site --results {out}` "
                     "makes a site of it).")
    else:
        lines.append(f"Records and plots: {out}/; -v prints each lesson's detail.")
    overrides = {k: v for r in records for k, v in r.overrides.items()}
    if overrides:
        lines.append(f"Targets not judged: {results.override_flags(overrides)} replaces the lessons' settings, "
                     "which the targets are for.")
    return [terminal.wrap(line) for line in lines]
