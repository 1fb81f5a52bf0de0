"""PNG plots with both frameworks overlaid (torch solid, jax dashed). Needs no display."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shared.atomic import atomic_write_bytes, atomic_write_group  # noqa: E402
from shared.tools.results import Record  # noqa: E402

STYLE = {"torch": dict(linestyle="-"), "jax": dict(linestyle="--")}


def history_png(records: list[Record], title: str, keys: list[str] | None = None) -> bytes:
    """One panel per history key; one line per (variant, framework)."""
    keys = keys or sorted({k for r in records for k in r.history})
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4), squeeze=False)
    colors = {}
    for ax, key in zip(axes[0], keys):
        for r in records:
            if key not in r.history:
                continue
            color = colors.setdefault(r.variant, f"C{len(colors)}")
            ys = r.history[key]
            ax.plot(range(1, len(ys) + 1), ys, color=color, label=f"{r.variant} · {r.framework}",
                    **STYLE.get(r.framework, {}))
        ax.set_title(key)
        ax.set_xlabel("epoch" if "step" not in key else "step")
        if "loss" in key and all(v > 0 for r in records for v in r.history.get(key, [1])):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    return png_bytes(fig)


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def save(fig, path: Path) -> Path:
    """Write the figure to ``path`` atomically (see shared.atomic)."""
    return atomic_write_bytes(path, png_bytes(fig))


def lesson_pngs(spec, records: list[Record], out_dir: Path) -> dict[Path, bytes]:
    """The lesson's plots, not yet written: its history curves, plus the figures its spec names
    (``spec.figures``: a lesson's neutral helper draws its own, e.g. poly_fit's fitted curves)."""
    pngs = {}
    if any(r.history for r in records):
        pngs[out_dir / spec.name / "history.png"] = history_png(records, spec.title)
    if spec.figures is not None:
        pngs.update(spec.figures(spec, records, out_dir))
    return pngs


def plot_lesson(spec, records: list[Record], out_dir: Path) -> list[Path]:
    """Write the lesson's plots, all or none of them."""
    return atomic_write_group(lesson_pngs(spec, records, out_dir))
