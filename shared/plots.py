"""PNG plots with both frameworks overlaid (torch solid, jax dashed). Needs no display."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shared import polyfit  # noqa: E402
from shared.results import Record  # noqa: E402

STYLE = {"torch": dict(linestyle="-"), "jax": dict(linestyle="--")}


def plot_history(records: list[Record], path: Path, title: str, keys: list[str] | None = None) -> Path:
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
    return save(fig, path)


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path


# Lesson-specific figures: lesson name -> function(spec, records, out_dir) -> list of paths.
LESSON_PLOTS: dict = {"poly_fit": polyfit.plot_fits}


def plot_lesson(spec, records: list[Record], out_dir: Path) -> list[Path]:
    """The lesson's plots: its history curves, plus any lesson-specific figure."""
    paths = []
    if any(r.history for r in records):
        paths.append(plot_history(records, out_dir / spec.name / "history.png", spec.title))
    if spec.name in LESSON_PLOTS:
        paths += LESSON_PLOTS[spec.name](spec, records, out_dir)
    return paths
