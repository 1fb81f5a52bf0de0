"""The site's course page (course.html): what the course is, in the project's own words.

Five course notes in Korean, each with what it covers, its own words quoted with an English
rendering beside them, the lessons built on it and the settings those lessons take from it
(the course's value beside ours, from the specs).
"""
from __future__ import annotations

import html

from shared import specs
from shared.specs import course
from shared.specs.base import NOT_SET, readable, setting_text

TITLE = "The course"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def anchor(note_id: str) -> str:
    return f"note-{note_id}"


def _quote(q) -> str:
    context = f"<p class=\"muted\">{_e(q.context)}:</p>" if q.context else ""
    return (f"<figure class=\"quote\">{context}<div class=\"quote-pair\">"
            f"<blockquote lang=\"ko\">{_e(q.original)}</blockquote>"
            f"<blockquote lang=\"en\">{_e(q.english)}</blockquote></div></figure>")


def _settings(lesson_names, table) -> str:
    rows = []
    for name in lesson_names:
        spec = specs.get(name)
        for key in course.SETTINGS:
            if key in spec.course:
                ours = spec.ours(key)
                rows.append([name, key, readable(spec.course[key]),
                             "as the course" if ours is NOT_SET else setting_text(key, ours)])
    return table(["lesson", "setting", "the course", "ours"], rows, "settings") if rows else ""


def body(table) -> str:
    """The page's HTML; ``table(headers, rows, classes)`` draws a table as the rest of the site does."""
    out = [f"<h1>{TITLE}</h1>",
           "<p class=\"teaches\">The lessons reproduce five course notes: blog posts written in Korean, with "
           "PyTorch code and the output it printed. Each lesson takes its settings from its note (seeds, "
           "models, learning rates, epochs, batch sizes) and, where the note printed them, its results; where "
           "a lesson's default differs, its page says why. The notes fix nothing of JAX: the JAX twins are "
           "this project's translations. Below, each note in turn, with its own words quoted beside an "
           "English rendering.</p>",
           "<ol class=\"toc-notes\">" + "".join(f"<li><a href=\"#{anchor(n.id)}\">{_e(n.id)}: {_e(n.title)}</a></li>"
                                               for n in course.NOTES) + "</ol>"]
    for n in course.NOTES:
        original = f" <span class=\"muted\" lang=\"ko\">({_e(n.original_title)})</span>" if n.original_title else ""
        lessons = ", ".join(f"<a href=\"{_e(name)}.html\"><code>{_e(name)}</code></a>" for name in n.lessons)
        out.append(f"<section id=\"{anchor(n.id)}\"><h2>Note {_e(n.id)}: {_e(n.title)}{original}</h2>"
                   f"<p>{_e(n.covers)}</p><p>Lessons built on it: {lessons}.</p>"
                   + "".join(_quote(q) for q in n.quotes)
                   + "<h3>The settings its lessons take</h3>" + _settings(n.lessons, table) + "</section>")
    return "\n".join(out)
