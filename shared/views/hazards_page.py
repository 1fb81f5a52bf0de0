"""The site's hazards page (``lessons site`` writes it as hazards.html): every translation hazard
with what differs, the fix, where its demo bites (the numbers and plot ``lessons hazards --demo``
wrote into the results dir, hazards/NAME.json and .png), the lessons that meet it, and the demo's
two functions side by side (torch_impl/hazards.py, jax_impl/hazards.py).

site.build() hands it the page's helpers (the table and the code pair), so this module needs only
the registry and the results.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Callable

from shared.tools.demos import RUNS, run_labels
from shared.tools.hazards import HAZARDS, Hazard


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def anchor(h: Hazard) -> str:
    return f"hazard-{h.name}"


def measured(results: Path, h: Hazard) -> dict | None:
    """The demo's record from ``lessons hazards --demo``, or None (missing or unreadable)."""
    try:
        return json.loads((Path(results) / "hazards" / f"{h.name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _numbers(h: Hazard, record: dict, table: Callable) -> str:
    labels = run_labels(h)
    rows = []
    for case, runs in record["cases"].items():
        for i, r in enumerate(RUNS):
            got = runs[r]
            rows.append([case if i == 0 else "", labels[r], got["value"],
                         "-" if r == "torch" else f"{got['gap']:.3g}", "-" if r == "torch" else f"{got['ratio']:.3g}"])
    out = [table(["result", "run", "value", "max |Δ| vs torch", "x control"], rows, "", {3, 4}),
           f"<p><strong>Verdict</strong> ({_e(record['device'])}): {_e(record['verdict'])}.</p>"]
    cost = record.get("cost")
    if cost:
        out.append(f"<p>What it costs <a href=\"{_e(cost['lesson'])}.html\"><code>{_e(cost['lesson'])}</code></a> at "
                   "its own settings (its JAX twin, with the fix and without):</p>")
        out.append(table(["run", "variant", cost["metric"], "final loss"], cost["rows"]))
    return "".join(out)


def _section(h: Hazard, record: dict | None, img: str | None, table: Callable, pair: str) -> str:
    lessons = ", ".join(f"<a href=\"{_e(n)}.html\"><code>{_e(n)}</code></a>" for n in h.lessons) or \
        "none of the lessons (the demo shows it alone)"
    out = [f"<section class=\"hazard-demo\" id=\"{anchor(h)}\"><h2><code>{_e(h.name)}</code>"
           f"{' (GPU only)' if h.gpu_only else ''}</h2>",
           f"<p><strong>What differs:</strong> {_e(h.differs)}.</p>",
           f"<p><strong>The fix:</strong> {_e(h.fix)}.</p>",
           f"<p><strong>Where it bites:</strong> {_e(h.demo)}. See it: <code>{_e(h.demo_command)}</code></p>",
           f"<p><strong>Lessons:</strong> {lessons}.</p>"]
    if record is None:
        out.append(f"<p class=\"none\">Not measured in the results dir yet: run <code>{_e(h.demo_command)}</code> "
                   "(or <code>lessons hazards --demo all</code>), then <code>lessons site</code> again.</p>")
    else:
        out.append(_numbers(h, record, table))
    if img:
        out.append(f"<figure><a href=\"{_e(img)}\"><img src=\"{_e(img)}\" alt=\"{_e(h.name)}: the gap to torch with "
                   f"the fix, without it, and the one-ulp control\"></a><figcaption>{_e(Path(img).name)}</figcaption>"
                   "</figure>")
    out.append(pair)
    out.append("</section>")
    return "".join(out)


def body(demos, results: Path, images: list[str], table: Callable, pair_html: Callable) -> str:
    """The page's body. ``demos``: the demos' twins (shared/views/twins.load("hazards")); ``images``:
    the demo plots copied into the site; ``table(headers, rows, classes, num_cols)`` and
    ``pair_html(pair)``: the site's own table and code pair."""
    pairs = {p.name: p for p in demos.pairs}
    imgs = {Path(src).stem: src for src in images}
    records = {h.name: measured(results, h) for h in HAZARDS}
    rows = [[h.name, ", ".join(h.lessons) or "-", h.differs, h.fix,
             records[h.name]["verdict"] if records[h.name] else "not measured yet"] for h in HAZARDS]
    out = ["<h1>Translation hazards</h1>",
           f"<p class=\"teaches\">{_e(demos.spec.teaches)}</p>",
           f"<p>{len(HAZARDS)} hazards. Each fix is one named function of <code>jax_impl/_as_torch.py</code>; each "
           "demo is one function in <code>torch_impl/hazards.py</code> and its twin in <code>jax_impl/hazards.py"
           "</code> (<code>lessons show hazards</code>). The numbers come from <code>lessons hazards --demo all</code> "
           f"in <code>{_e(results)}</code>.</p>",
           "<p class=\"toc\">" + " · ".join(f"<a href=\"#{anchor(h)}\">{_e(h.name)}</a>" for h in HAZARDS) + "</p>",
           table(["hazard", "lessons", "what differs", "the fix", "its demo"], rows, "hazards")]
    for h in HAZARDS:
        pair = pairs.get(h.name)
        out.append(_section(h, records[h.name], imgs.get(h.name), table, pair_html(pair) if pair else ""))
    helpers = [p for p in demos.pairs if p.name not in records]  # the imports and what the demos share
    if helpers:
        out.append("<section class=\"hazard-demo\" id=\"demo-helpers\"><h2>What the demos share</h2>"
                   "<p>The imports and the helpers the demo functions above call, from the same two files.</p>"
                   + "".join(pair_html(p) for p in helpers) + "</section>")
    return "\n".join(out)
