"""``lessons site --out DIR``: a static site that works offline, from the file system.

    DIR/index.html               the lessons in course order: what each teaches, its latest comparison
    DIR/<lesson>.html            one page per lesson (see ``lesson_page``)
    DIR/style.css                the only stylesheet (pygments' colours included); no CDN, no script
    DIR/img/<lesson>/*.png       the plots, copied from the results dir (``--results``, default out/)
    DIR/notebooks/*.ipynb        each lesson's notebooks (``lessons notebook``), both and one framework

Every link is relative, so the directory can be moved or zipped. Two code columns from
``BREAKPOINT`` pixels up, one below; code scrolls inside its block, never the page.
"""
from __future__ import annotations

import datetime
import html
import re
import shutil
from pathlib import Path

from shared import results, specs
from shared.atomic import atomic_write_text
from shared.config import FRAMEWORKS
from shared.errors import LessonError
from shared.views import notebook, twins

BREAKPOINT = 900  # px: narrower than this, the columns stack
LABEL = {"torch": "PyTorch", "jax": "JAX"}
PARITY_PNG = re.compile(r"^parity-(float32|float64)(?:-(.+))?\.png$")

CSS = """
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       background: #fff; overflow-wrap: break-word; }
a { color: #0b5cad; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
code { font-size: .9em; overflow-wrap: anywhere; }
.top { background: #24292f; color: #fff; }
.top nav, main, footer { max-width: 1500px; margin: 0 auto; padding: 0 24px; }
.top nav { display: flex; flex-wrap: wrap; gap: 4px 18px; align-items: center; padding-top: 10px; padding-bottom: 10px; }
.top a { color: #fff; text-decoration: none; }
.top a:hover { text-decoration: underline; }
.top .home { font-weight: 600; margin-right: auto; }
h1 { font-size: 1.7rem; line-height: 1.25; margin: 24px 0 8px; overflow-wrap: anywhere; }
h1 .name, h2 code, h3 code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
h2 { font-size: 1.3rem; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.05rem; margin: 0; }
.teaches { font-size: 1.05rem; max-width: 75ch; }
.muted, .none { color: #59636e; }
.none { font-style: italic; }
.links { display: flex; flex-wrap: wrap; gap: 6px 16px; padding: 0; list-style: none; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: .9rem; margin: 8px 0 16px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ok-yes { color: #1a7f37; font-weight: 600; }
td.ok-NO { color: #cf222e; font-weight: 600; }
.settings td { max-width: 48ch; }
#results h3 { margin: 24px 0 8px; }
.pair { border: 1px solid #d0d7de; border-radius: 8px; margin: 18px 0; background: #fff; }
.pair > header { display: flex; flex-wrap: wrap; gap: 2px 12px; align-items: baseline; padding: 8px 12px;
                 background: #f6f8fa; border-bottom: 1px solid #d0d7de; border-radius: 8px 8px 0 0; }
.pair > header a.self { color: inherit; text-decoration: none; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
.col { min-width: 0; padding: 8px 12px 12px; }
.col + .col { border-left: 1px solid #d0d7de; }
.file { font-size: .8rem; color: #59636e; margin: 0 0 4px; display: flex; gap: 8px; align-items: baseline; }
.badge { display: inline-block; font-size: .72rem; font-weight: 700; padding: 0 6px; border-radius: 10px;
         color: #fff; letter-spacing: .02em; }
.badge.torch { background: #c4361d; }
.badge.jax { background: #3367d6; }
.absent { color: #59636e; font-style: italic; font-size: .9rem; }
.hl { background: #fafbfc; border: 1px solid #eaeef2; border-radius: 6px; }
.hl pre { margin: 0; padding: 8px 10px 8px 4px; overflow-x: auto; font-size: 13px; line-height: 1.45; tab-size: 4;
          white-space: pre-wrap; overflow-wrap: anywhere; }
/* one block per source line; a long line wraps under its own indentation (--i spaces, at most --cap) */
.hl pre { --cap: 40; }
.hl .line { display: block; position: relative; --hang: calc(min(var(--i), var(--cap)) * 1ch + 2ch);
            padding-left: calc(var(--g) + var(--hang)); text-indent: calc(var(--i) * 1ch - var(--hang)); }
/* the indentation is laid out by text-indent above: its spaces stay in the text (copied) but out of the
   flow, so that a long line cannot wrap right after them */
.hl .ind { position: absolute; left: 0; top: 0; }
/* out of the flow, so that a line cannot wrap right after its number */
.hl .lno { position: absolute; left: 0; width: var(--g); text-indent: 0; text-align: right; padding-right: 1ch;
           color: #8c959f; user-select: none; -webkit-user-select: none; }
.doc { padding: 4px 12px; font-size: .92rem; background: #fafbfc; border: 1px solid #eaeef2; border-radius: 6px; }
.doc p, .doc ul { margin: 8px 0; }
.doc ul { padding-left: 20px; }
.hazard { margin: 10px 0 0; padding: 8px 12px; border-left: 4px solid #bf8700; background: #fff8c5;
          border-radius: 0 6px 6px 0; font-size: .9rem; }
.pair > .hazard { margin: 0 12px 12px; }
.hazard p { margin: 4px 0; }
.hazard .title { font-weight: 700; }
.hazard img { display: block; max-width: 100%; height: auto; margin-top: 6px; border: 1px solid #d0d7de; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; max-width: 100%; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #d0d7de; border-radius: 4px; }
figcaption { font-size: .85rem; color: #59636e; }
.lessons { list-style: none; padding: 0; counter-reset: lesson; }
.lessons > li { border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 16px; margin: 14px 0; }
.lessons h2 { border: 0; margin: 0 0 4px; padding: 0; font-size: 1.15rem; }
.lessons h2::before { counter-increment: lesson; content: counter(lesson) ". "; color: #59636e; }
.toc { font-size: .9rem; }
.toc a { white-space: nowrap; }
.banner { background: #ddf4ff; border: 1px solid #54aeff; border-radius: 6px; padding: 8px 12px; }
footer { color: #59636e; font-size: .85rem; padding-top: 24px; padding-bottom: 32px; }
@media (max-width: NARROWpx) {
  .top nav, main, footer { padding-left: 12px; padding-right: 12px; }
  .cols { grid-template-columns: minmax(0, 1fr); }
  .col + .col { border-left: 0; border-top: 1px solid #d0d7de; }
  h1 { font-size: 1.35rem; }
  .hl pre { font-size: 12px; --cap: 6; }
  table.stack, .stack tbody, .stack tr, .stack td { display: block; }
  .stack thead { display: none; }
  .stack tr { border: 1px solid #d0d7de; border-radius: 6px; margin: 0 0 8px; padding: 4px 0; }
  .stack td { border: 0; padding: 2px 10px; max-width: none; white-space: normal; }
  .stack td:empty { display: none; }
  .stack td::before { content: attr(data-label) ": "; font-weight: 600; color: #59636e; }
}
""".replace("NARROW", str(BREAKPOINT - 1))


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, nav: str, body: str) -> str:
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)}</title>\n<link rel=\"stylesheet\" href=\"style.css\">\n</head>\n<body>\n"
            f"<header class=\"top\"><nav>{nav}</nav></header>\n<main>\n{body}\n</main>\n"
            "<footer>Generated by <code>lessons site</code> from the lesson files, specs and results of "
            "torch-jax-lessons. Works offline.</footer>\n</body>\n</html>\n")


def _table(headers, rows, classes: str = "", num_cols=()) -> str:
    """A table in a box that scrolls sideways if it must; on a phone each row becomes a card."""
    classes = f"{classes} stack".strip()
    head = "".join(f"<th scope=\"col\">{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = []
            if i in num_cols:
                cls.append("num")
            if headers[i] == "ok":
                cls.append(f"ok-{c}")
            attr = f" class=\"{' '.join(cls)}\"" if cls else ""
            attr += f" data-label=\"{_e(headers[i])}\""
            cells.append(f"<td{attr}>{_e(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cls = f" class=\"{classes}\"" if classes else ""
    return f"<div class=\"scroll\"><table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


# -- results -------------------------------------------------------------------------------------------

class Results:
    """The JSON records and PNGs ``lessons compare``/``parity`` wrote under one results dir."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def groups(self, lesson: str) -> list[dict]:
        """Per (device, data): the records of both frameworks, newest group first."""
        found: dict[tuple, dict] = {}
        folder = self.root / lesson
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            parts = path.stem.split("-", 2)
            if len(parts) != 3 or parts[0] not in FRAMEWORKS:
                continue
            try:
                recs = [r for r in results.load(path) if r.lesson == lesson]
            except (ValueError, TypeError, KeyError, OSError):
                continue  # a record from another version of the code: not shown
            if not recs:
                continue
            g = found.setdefault((parts[1], parts[2]), {"device": parts[1], "data": parts[2], "records": [],
                                                        "files": [], "mtime": 0.0})
            g["records"] += recs
            g["files"].append(path)
            g["mtime"] = max(g["mtime"], path.stat().st_mtime)
        return sorted(found.values(), key=lambda g: -g["mtime"])

    def images(self, lesson: str) -> list[Path]:
        folder = self.root / lesson
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*.png") if not p.name.startswith(".") and p.is_file())


def _when(mtime: float) -> str:
    return datetime.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M")


def _comparison(records, spec, drop_lesson: bool = True) -> str:
    headers, rows = results.comparison_cells(records, {spec.name: spec})
    if drop_lesson:
        headers, rows = headers[1:], [r[1:] for r in rows]
    nums = {i for i, h in enumerate(headers) if h in ("torch", "jax", "|Δ|", "torch s", "jax s (+compile)")}
    return _table(headers, rows, "comparison", nums)


# -- pages ---------------------------------------------------------------------------------------------

def _nav(lesson: str | None) -> str:
    parts = ["<a class=\"home\" href=\"index.html\">torch-jax-lessons</a>"]
    if lesson is not None:
        i = specs.LESSONS.index(lesson)
        if i > 0:
            prev = specs.LESSONS[i - 1]
            parts.append(f"<a rel=\"prev\" href=\"{prev}.html\">&larr; {_e(prev)}</a>")
        if i + 1 < len(specs.LESSONS):
            nxt = specs.LESSONS[i + 1]
            parts.append(f"<a rel=\"next\" href=\"{nxt}.html\">{_e(nxt)} &rarr;</a>")
    return " ".join(parts)


class _Highlighter:
    def __init__(self):
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
        self.HtmlFormatter, self.lexer = HtmlFormatter, PythonLexer(stripnl=False, ensurenl=True)

    def __call__(self, source: str, first_line: int) -> str:
        """Highlighted code, one block per source line with its file line number. A line too long for
        its column wraps with a hanging indent under its own indentation, so nothing is cut off."""
        import pygments
        source = source.expandtabs(4)
        raw = source.split("\n")
        lines = pygments.highlight(source, self.lexer, self.HtmlFormatter(nowrap=True)).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != len(raw):  # never seen; plain text rather than misnumbered lines
            lines = [_e(line) for line in raw]
        gutter = len(str(first_line + len(raw) - 1)) + 2
        out = []
        for i, (code, text) in enumerate(zip(lines, raw)):
            indent = len(text) - len(text.lstrip(" ")) if text.strip() else 0
            if indent:  # the indentation in its own span, laid out by CSS (see .ind)
                code, n = re.subn(r"^(<span class=\"[^\"]*\">)?( +)",
                                  lambda m: f"<span class=\"ind\">{m.group(2)}</span>" + (m.group(1) or ""), code, count=1)
                indent = indent if n else 0
            out.append(f"<span class=\"line\" style=\"--i:{indent}\"><span class=\"lno\">{first_line + i}</span>"
                       f"{code or '<br>'}</span>")  # <br>: a blank line is copied as one
        return f"<div class=\"hl\"><pre style=\"--g:{gutter}ch\">{''.join(out)}</pre></div>"

    def css(self) -> str:
        return self.HtmlFormatter(style="default").get_style_defs(".hl")


def _callout(lesson: str, h, img: str | None) -> str:
    cmd = twins.parity_command(lesson, h)
    out = [f"<aside class=\"hazard\" data-hazard=\"{_e(h.name)}\">",
           f"<p class=\"title\">Hazard: {_e(h.name)}{' (GPU only)' if h.gpu_only else ''}</p>",
           f"<p>{_e(h.differs)}.</p>", f"<p><strong>The JAX twin:</strong> {_e(h.fix)}.</p>"]
    if cmd:
        out.append(f"<p>See it: <code>{_e(cmd)}</code></p>")
    if img:
        out.append(f"<a href=\"{_e(img)}\"><img src=\"{_e(img)}\" alt=\"{_e(lesson)}: |Δloss| per step "
                   f"without the {_e(h.name)} fix\"></a>")
    out.append("</aside>")
    return "".join(out)


def _pair_html(lesson: twins.Lesson, pair: twins.Pair, hl: _Highlighter, hazard_imgs: dict) -> str:
    name = lesson.name
    title = "imports" if pair.kind == "imports" else pair.name
    kind = {"def": "function", "class": "class", "imports": "", "main": "", "assign": "", "code": ""}.get(pair.kind, "")
    cols, shared_notes = [], []
    per_side: dict[str, list[str]] = {fw: [] for fw in twins.SIDES}
    for h in pair.hazards:
        sides = pair.sides.get(h.name, ())
        note = _callout(name, h, hazard_imgs.get(h.name))
        if len(sides) == 1:
            per_side[sides[0]].append(note)
        else:
            shared_notes.append(note)
    for fw in twins.SIDES:
        seg, twin = pair.side(fw), lesson.twin(fw)
        head = f"<div class=\"file\"><span class=\"badge {fw}\">{LABEL[fw]}</span>"
        if seg is None:
            body = head + f"<span>{_e(twin.display_path)}</span></div><p class=\"absent\">No <code>{_e(pair.name)}</code> in " \
                          f"{_e(twin.display_path)}.</p>"
        else:
            body = head + f"<span>{_e(twin.display_path)}:{seg.first_line}</span></div>" + hl(seg.source, seg.first_line)
        cols.append(f"<div class=\"col\" data-framework=\"{fw}\">{body}{''.join(per_side[fw])}</div>")
    return (f"<article class=\"pair\" id=\"{pair.anchor}\"><header><h3><a class=\"self\" href=\"#{pair.anchor}\">"
            f"<code>{_e(title)}</code></a></h3><span class=\"muted\">{kind}</span></header>"
            f"<div class=\"cols\">{''.join(cols)}</div>{''.join(shared_notes)}</article>")


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", lambda m: f"<code>{m.group(1)}</code>", _e(text))


def _prose(text: str) -> str:
    """A docstring as paragraphs and bullet lists: lines of a paragraph joined, `code` as code."""
    blocks: list[list] = []  # ["p", text] or ["li", text]
    for para in re.split(r"\n\s*\n", text.strip()):
        for line in para.split("\n"):
            stripped = line.strip()
            if re.match(r"^[-*] ", stripped):
                blocks.append(["li", stripped[2:]])
            elif blocks and (blocks[-1][0] == "p" or (blocks[-1][0] == "li" and line[:1] == " ")):
                blocks[-1][1] += " " + stripped  # the paragraph or the item goes on
            else:
                blocks.append(["p", stripped])
        blocks.append(["end", ""])  # a blank line ends paragraphs and lists
    out, in_list = [], False
    for kind, body in blocks:
        if kind == "li" and not in_list:
            out.append("<ul>")
            in_list = True
        if kind != "li" and in_list:
            out.append("</ul>")
            in_list = False
        if kind == "li":
            out.append(f"<li>{_inline(body)}</li>")
        elif kind == "p":
            out.append(f"<p>{_inline(body)}</p>")
    return "".join(out)


def _docstring_pair(lesson: twins.Lesson) -> str:
    cols = []
    for fw in twins.SIDES:
        t = lesson.twin(fw)
        text = t.docstring or (f"({t.error})" if t.error else "(no module docstring)")
        cols.append(f"<div class=\"col\" data-framework=\"{fw}\"><div class=\"file\"><span class=\"badge {fw}\">"
                    f"{LABEL[fw]}</span><span>{_e(t.display_path)}</span></div><div class=\"doc\">{_prose(text)}</div></div>")
    return (f"<article class=\"pair\" id=\"pair-docstrings\"><header><h3><a class=\"self\" href=\"#pair-docstrings\">"
            f"The lesson, as each file tells it</a></h3><span class=\"muted\">module docstrings</span></header>"
            f"<div class=\"cols\">{''.join(cols)}</div></article>")


def _settings_html(spec) -> str:
    out = []
    if spec.course:
        note = spec.course.get("note")
        out.append(f"<p>The course{': ' + _e(note) if note else ''}. Each setting where our default differs "
                   "says why.</p>")
        out.append(_table(["setting", "course", "ours", "why ours differs"], notebook.settings_rows(spec),
                          "settings"))
    else:
        out.append("<p class=\"none\">The spec does not quote the course's settings for this lesson yet.</p>")
    out.append(f"<p>Our settings, from <code>shared/specs/{_e(spec.name)}.py</code> (seed {spec.seed}):</p>")
    out.append(_table(["variant", "settings"], notebook.hp_rows(spec), "settings"))
    out.append(_table(["variant", "metric", "target", "torch vs jax"], notebook.target_rows(spec)))
    return "".join(out)


def lesson_page(lesson: twins.Lesson, res: Results, images: dict, notebooks: dict, hl: _Highlighter) -> str:
    spec, name = lesson.spec, lesson.name
    imgs = images.get(name, {})
    body = [f"<h1><span class=\"name\">{_e(name)}</span>: {_e(spec.title)}</h1>",
            f"<p class=\"teaches\">{_e(spec.teaches)}</p>"]
    nb_links = [f"<li><a href=\"{_e(href)}\" download>{_e(label)}</a></li>" for label, href in notebooks.get(name, [])]
    if nb_links:
        body.append("<p>Notebooks (Jupyter; run them with the project's environment):</p>"
                    f"<ul class=\"links\">{''.join(nb_links)}</ul>")
    else:
        body.append(f"<p class=\"none\">No notebook: <code>lessons notebook {_e(name)}</code> needs both files to "
                    "parse.</p>")
    toc = ["<a href=\"#settings\">settings</a>", "<a href=\"#code\">the code</a>", "<a href=\"#results\">results</a>"]
    body.append(f"<p class=\"toc\">On this page: {' · '.join(toc)}</p>")
    body.append(f"<section id=\"settings\"><h2>The course's settings and ours</h2>{_settings_html(spec)}</section>")
    code = [f"<section id=\"code\"><h2>The twins, function by function</h2>",
            f"<p>Left <code>{_e(lesson.torch.display_path)}</code>, right <code>{_e(lesson.jax.display_path)}"
            "</code>: each pair of same-named functions side by side, in the files' order. A hazard note sits "
            "next to the code that applies its fix.</p>"]
    for t in (lesson.torch, lesson.jax):
        if t.error:
            code.append(f"<p class=\"hazard\">{_e(t.display_path)}: {_e(t.error)}</p>")
    rest = lesson.unplaced_hazards
    if rest:
        code.append("<p>Hazards handled outside these functions (by the harness):</p>")
        code += [_callout(name, h, imgs.get("hazards", {}).get(h.name)) for h in rest]
    code.append(_docstring_pair(lesson))
    code += [_pair_html(lesson, p, hl, imgs.get("hazards", {})) for p in lesson.pairs]
    code.append("</section>")
    body += code
    body.append(_results_html(name, spec, res, imgs))
    nav_bottom = _nav(name).replace("class=\"home\" ", "")
    body.append(f"<p class=\"links\">{nav_bottom}</p>")
    return _page(f"{name} · torch-jax-lessons", _nav(name), "\n".join(body))


def _results_html(name: str, spec, res: Results, imgs: dict) -> str:
    out = ["<section id=\"results\"><h2>Results</h2>"]
    groups = res.groups(name)
    if not groups:
        out.append(f"<p class=\"none\">No results for {_e(name)} in <code>{_e(res.root)}</code>: run "
                   f"<code>lessons compare {_e(name)}</code>, then <code>lessons site</code> again.</p>")
    for g in groups:
        recs = g["records"]
        fws = sorted({r.framework for r in recs}, key=FRAMEWORKS.index)
        out.append(f"<h3>{_e(g['device'])} · {_e(g['data'])} data · {_e(recs[0].dtype)}</h3>"
                   f"<p class=\"muted\">{', '.join(_e(p.name) for p in g['files'])}, written {_when(g['mtime'])}"
                   + ("" if len(fws) == 2 else f"; only {_e(fws[0])} ran") + "</p>")
        out.append(_comparison(recs, spec))
        out.append(_table(*results.detail_cells(recs, spec.details)))
    plots_ = imgs.get("plots", [])
    if plots_:
        out.append("<h3>Plots</h3><div class=\"plots\">" + "".join(
            f"<figure><a href=\"{_e(src)}\"><img src=\"{_e(src)}\" alt=\"{_e(name)}: {_e(Path(src).stem)}\"></a>"
            f"<figcaption>{_e(Path(src).name)}: torch solid, JAX dashed</figcaption></figure>" for src in plots_)
            + "</div>")
    out.append("<h3>Parity</h3>")
    parity_imgs = imgs.get("parity", [])
    if parity_imgs:
        out.append("<p>Both frameworks from the same weights on the same batches: |Δloss| per step, against "
                   "the one-ulp control (torch against itself with the weights nudged by one rounding unit).</p>")
        out.append("<div class=\"plots\">" + "".join(
            f"<figure><a href=\"{_e(src)}\"><img src=\"{_e(src)}\" alt=\"{_e(name)}: parity {_e(Path(src).stem)}\"></a>"
            f"<figcaption>{_e(Path(src).name)}</figcaption></figure>" for src in parity_imgs) + "</div>")
    else:
        out.append(f"<p class=\"none\">No parity plot yet: <code>lessons parity {_e(name)}</code> writes it.</p>")
    out.append("</section>")
    return "".join(out)


def index_page(lessons: list[twins.Lesson], res: Results) -> str:
    body = ["<h1>torch-jax-lessons</h1>",
            "<p class=\"teaches\">The classic beginner deep-learning lessons, each written twice: in PyTorch and "
            "in JAX with Flax NNX and optax. Each page lines the twins up function by function, next to the "
            "numbers that show they compute the same thing.</p>"]
    any_results = any(res.groups(l.name) for l in lessons)
    if not any_results:
        body.append(f"<p class=\"banner\">No results in <code>{_e(res.root)}</code> yet: run <code>lessons compare "
                    "--all</code>, then <code>lessons site</code> again, to see each lesson's numbers here.</p>")
    body.append("<ol class=\"lessons\">")
    for lesson in lessons:
        spec = lesson.spec
        item = [f"<li id=\"{_e(spec.name)}\"><h2><a href=\"{_e(spec.name)}.html\"><code>{_e(spec.name)}</code></a>: "
                f"{_e(spec.title)}</h2><p>{_e(spec.teaches)}</p>"]
        groups = res.groups(spec.name)
        if groups:
            g = groups[0]
            item.append(f"<p class=\"muted\">Latest comparison ({_e(g['device'])}, {_e(g['data'])} data, "
                        f"{_when(g['mtime'])}):</p>{_comparison(g['records'], spec)}")
        else:
            item.append(f"<p class=\"none\">No results yet: <code>lessons compare {_e(spec.name)}</code>.</p>")
        item.append("</li>")
        body.append("".join(item))
    body.append("</ol>")
    return _page("torch-jax-lessons", _nav(None), "\n".join(body))


def _copy_images(name: str, res: Results, out: Path) -> dict:
    """Copy the lesson's PNGs into the site: {"plots": [src], "parity": [src], "hazards": {hazard: src}}."""
    found = {"plots": [], "parity": [], "hazards": {}}
    pngs = res.images(name)
    stale = out / "img" / name
    for old in stale.glob("*.png") if stale.is_dir() else []:
        if old.name not in {p.name for p in pngs}:
            old.unlink()  # a plot from an earlier build that the results dir no longer has
    for png in pngs:
        dest = out / "img" / name / png.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, dest)
        src = f"img/{name}/{png.name}"
        m = PARITY_PNG.match(png.name)
        if m and m.group(2):
            if m.group(1) == "float32" or m.group(2) not in found["hazards"]:
                found["hazards"][m.group(2)] = src
        elif m:
            found["parity"].append(src)
        else:
            found["plots"].append(src)
    return found


def build(out: Path, results_dir: Path = Path("out")) -> list[Path]:
    """Write the site into ``out``; returns the HTML pages written (index first)."""
    out, res = Path(out), Results(results_dir)
    if out.resolve() == Path(results_dir).resolve():
        raise LessonError("--out and --results are the same directory; give the site its own (e.g. --out site)")
    if out.exists() and not out.is_dir():
        raise LessonError(f"--out {out} is a file; give a directory")
    hl = _Highlighter()
    lessons = [twins.load(n) for n in specs.LESSONS]
    atomic_write_text(out / "style.css", CSS + "\n" + hl.css() + "\n")
    images, notebooks = {}, {}
    for lesson in lessons:
        images[lesson.name] = _copy_images(lesson.name, res, out)
        links = []
        for fw, label in (("both", "torch and JAX"), ("torch", "PyTorch only"), ("jax", "JAX only")):
            try:
                path = notebook.write(lesson.name, out / "notebooks", fw)
            except LessonError:
                continue  # a twin that does not parse: the page says there is no notebook
            links.append((f"{label} ({path.name})", f"notebooks/{path.name}"))
        notebooks[lesson.name] = links
    pages = [atomic_write_text(out / "index.html", index_page(lessons, res))]
    for lesson in lessons:
        pages.append(atomic_write_text(out / f"{lesson.name}.html", lesson_page(lesson, res, images, notebooks, hl)))
    return pages


def command(args) -> int:
    """The CLI's ``site``."""
    pages = build(args.out, args.results)
    print(f"wrote {len(pages)} pages to {args.out}/ (open {args.out / 'index.html'})")
    return 0
