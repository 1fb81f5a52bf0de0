"""Result records read into tables: the comparison of both frameworks against the targets, the
detail per record, and plain and Markdown table formatting."""
from __future__ import annotations

import math

from shared.harness.records import Record


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}" if abs(value) >= 1e4 or 0 < abs(value) < 1e-3 else f"{value:.{digits}f}"


def comparison_rows(records: list[Record], specs: dict) -> list[dict]:
    """Pair torch and jax records per (lesson, variant, device, data) against the spec's target."""
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
        ok = None
        if target is not None:
            ok = all(target.check(v) for v in (tv, jv) if v is not None)
            if delta is not None and target.framework_tol is not None and not target.tol_seeds:
                ok = ok and delta <= target.framework_tol   # a seed-mean tolerance is not judged on one run
        rows.append(dict(lesson=lesson, variant=variant, device=device, data=data, metric=metric,
                         torch=tv, jax=jv, delta=delta, ok=ok, target=target,
                         torch_s=t.train_s if t else None, jax_s=j.train_s if j else None,
                         torch_compile_s=t.compile_s if t else None, jax_compile_s=j.compile_s if j else None))
    return rows


def comparison_cells(records: list[Record], specs: dict) -> tuple[list[str], list[list[str]]]:
    """The combined table: lesson, variant, metric, torch, jax, |Δ|, target, within tolerance, times."""
    headers = ["lesson", "variant", "metric", "torch", "jax", "|Δ|", "target", "ok",
               "torch s", "jax s (+compile)"]
    rows = []
    for r in comparison_rows(records, specs):
        tol = r["target"].describe_tol() if r["target"] else ""
        target = (r["target"].describe() if r["target"] else "-") + (f", {tol}" if tol else "")
        jax_s = "-" if r["jax_s"] is None else f"{r['jax_s']:.2f} (+{r['jax_compile_s']:.2f})"
        rows.append([r["lesson"], r["variant"], r["metric"], fmt(r["torch"]), fmt(r["jax"]), fmt(r["delta"]),
                     target, {True: "yes", False: "NO", None: "-"}[r["ok"]],
                     "-" if r["torch_s"] is None else f"{r['torch_s']:.2f}", jax_s])
    return headers, rows


def comparison_table(records: list[Record], specs: dict) -> str:
    return format_table(*comparison_cells(records, specs))


def detail_cells(records: list[Record], metrics: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """One row per record: variant, framework, the given metrics, steps, steps/s and times."""
    headers = ["variant", "framework", *metrics, "steps", "steps/s", "train s", "compile s"]
    order = list(dict.fromkeys(r.variant for r in records))
    rows = [[r.variant, r.framework, *(fmt(r.metrics.get(m)) for m in metrics), str(r.steps),
             f"{r.steps_per_s:,.0f}" if r.steps and r.train_s > 0 else "-", f"{r.train_s:.3f}", f"{r.compile_s:.2f}"]
            for r in sorted(records, key=lambda r: (order.index(r.variant), r.framework != "torch"))]
    return headers, rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    esc = lambda c: str(c).replace("|", "\\|")
    return "\n".join(["| " + " | ".join(map(esc, headers)) + " |", "|" + "---|" * len(headers),
                      *("| " + " | ".join(map(esc, row)) + " |" for row in rows)])
