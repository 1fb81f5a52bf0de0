"""PNG plots with both frameworks overlaid (torch solid, JAX dashed). Needs no display.

Made to be read on a phone: one column of panels 6.4 inches wide, fonts of 11-13 points, 150 dpi
(960 pixels wide, so a phone's screen shows the text at a readable size). A caption under the
panels says whether the two frameworks started from the same weights (results.start_note).
"""
from __future__ import annotations

import io
import textwrap
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from shared.atomic import atomic_write_bytes, atomic_write_group  # noqa: E402
from shared.tools.results import Record, start_note  # noqa: E402

STYLE = {"torch": dict(linestyle="-"), "jax": dict(linestyle="--")}
WIDTH_IN = 6.4      # inches: one column of panels
PANEL_IN = 2.8      # each panel's height
DPI = 150
RC = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "legend.fontsize": 10,
      "xtick.labelsize": 11, "ytick.labelsize": 11, "figure.titlesize": 13}
SMOOTH_ABOVE = 200  # a per-step curve longer than this is drawn faint, with its running mean on top
MARKERS_UPTO = 20   # a curve of this few points shows each one (a single epoch is a point, not a line)


@contextmanager
def readable():
    """Figures made inside use the sizes a phone can show (RC), without touching the caller's rcParams."""
    with plt.rc_context(RC):
        yield


def running_mean(ys, window: int) -> np.ndarray:
    """Each value's mean with its neighbours, ``window`` values centred on it (fewer at the ends), so
    that a drop stays where it happens."""
    c = np.cumsum(np.insert(np.asarray(ys, np.float64), 0, 0.0))
    idx = np.arange(len(ys))
    lo, hi = np.maximum(idx - window // 2, 0), np.minimum(idx + (window + 1) // 2, len(ys))
    return (c[hi] - c[lo]) / (hi - lo)


CAPTION_CHARS = 78   # characters per caption line at 10 points across WIDTH_IN


def caption_inches(text: str) -> float:
    """The height ``text`` takes under the panels (see :func:`caption`)."""
    return 0.12 + 0.17 * len(textwrap.wrap(text, CAPTION_CHARS)) if text else 0.0


def caption(fig, text: str) -> None:
    """``text`` at the bottom of the figure, wrapped to its width; leave it caption_inches(text) of room."""
    if text:
        fig.text(0.02, 0.01, "\n".join(textwrap.wrap(text, CAPTION_CHARS)), ha="left", va="bottom",
                 fontsize=10, color="#333333")


def history_png(records: list[Record], title: str, keys: list[str] | None = None, note: str | None = None) -> bytes:
    """One panel per history key, one above the other; one line per (variant, framework). A
    per-step curve (the training loss) longer than SMOOTH_ABOVE steps is drawn faint with its
    running mean on top. ``note`` (default: results.start_note) is printed under the panels."""
    keys = keys or sorted({k for r in records for k in r.history}, key=lambda k: (k != "loss", k))
    note = start_note(records) if note is None else note
    caption_in = caption_inches(note)
    height = PANEL_IN * len(keys) + 0.5 + caption_in   # 0.5: the suptitle
    with readable():
        fig, axes = plt.subplots(len(keys), 1, figsize=(WIDTH_IN, height), squeeze=False)
        colors = {}
        for ax, key in zip(axes[:, 0], keys):
            per_step = False
            for r in records:
                if key not in r.history:
                    continue
                color = colors.setdefault(r.variant, f"C{len(colors)}")
                ys = np.asarray(r.history[key], np.float64)
                per_step = per_step or (r.steps > 0 and len(ys) == r.steps)
                xs = np.arange(1, len(ys) + 1)
                label = f"{r.variant} · {r.framework}"
                if len(ys) > SMOOTH_ABOVE:
                    ax.plot(xs, ys, color=color, alpha=0.15, linewidth=0.6, **STYLE.get(r.framework, {}))
                    ys = running_mean(ys, max(len(ys) // 50, 2))
                ax.plot(xs, ys, color=color, label=label, marker="o" if len(ys) <= MARKERS_UPTO else None,
                        markersize=4, **STYLE.get(r.framework, {}))
            smoothed = any(len(r.history.get(key, ())) > SMOOTH_ABOVE for r in records)
            ax.set_title(key + (" (faint: each step; line: running mean)" if smoothed else ""))
            ax.set_xlabel("step" if per_step else "epoch")
            if "loss" in key and all(v > 0 for r in records for v in r.history.get(key, [1])):
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(ncol=2 if len(colors) > 1 else 1)
        fig.suptitle(title)
        fig.tight_layout(rect=(0, caption_in / height, 1, 1 - 0.12 / height))   # and above the panels, the suptitle
        caption(fig, note)
        return png_bytes(fig, tight=False)


def png_bytes(fig, tight: bool = True) -> bytes:
    """The figure as PNG bytes at DPI; the figure is closed."""
    if tight:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def save(fig, path: Path, tight: bool = True) -> Path:
    """Write the figure to ``path`` atomically (see shared.atomic)."""
    return atomic_write_bytes(path, png_bytes(fig, tight))


def lesson_pngs(spec, records: list[Record], out_dir: Path) -> dict[Path, bytes]:
    """The lesson's plots, not yet written: its history curves, plus the figures its spec names
    (``spec.figures``: a lesson's neutral helper draws its own, e.g. poly_fit's fitted curves)."""
    pngs = {}
    if any(r.history for r in records):
        pngs[out_dir / spec.name / "history.png"] = history_png(records, spec.title)
    if spec.figures is not None:
        with readable():
            pngs.update(spec.figures(spec, records, out_dir))
    return pngs


def plot_lesson(spec, records: list[Record], out_dir: Path) -> list[Path]:
    """Write the lesson's plots, all or none of them."""
    return atomic_write_group(lesson_pngs(spec, records, out_dir))
