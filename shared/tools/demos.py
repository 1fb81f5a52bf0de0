"""`lessons hazards --demo NAME`: one translation hazard where it bites, and what it costs a lesson.

The demo (torch_impl/hazards.py and jax_impl/hazards.py, the function named after the hazard)
runs four times on the same inputs (shared/lessons/hazards.py, settings in shared/specs/hazards.py):
torch; the JAX twin with the fix; the JAX twin without it (``as_torch.without(NAME)``: stock Flax
or optax); and torch once more on inputs nudged by one float32 rounding unit, the control (for
init, whose inputs are a seed: torch drawn with the next seed). Each result is compared with
torch's by its largest absolute difference, and that against the control's: the hazard bites
where the gap without the fix is over ``FACTOR`` times the control's (its floor one rounding unit
of torch's largest value), and the fix works where the gap with it is within that.

Then the cost: the lesson named in the registry (``Hazard.cost``) trained by its JAX twin at its
own settings with the fix and without (final metrics; "fails" where the port does not run).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared import specs
from shared.errors import DivergenceError, LessonError
from shared.harness import runner, sides
from shared.harness.config import RunConfig
from shared.lessons import hazards as inputs
from shared.terminal import wrap
from shared.tools import hazards
from shared.tools.results import fmt, format_table

FACTOR = 10.0   # a gap more than this many times the control's is not rounding
RUNS = ("torch", "fixed", "without", "control")


def run_labels(h: hazards.Hazard) -> dict[str, str]:
    fix = h.marker.removeprefix("_") if h.marker != "precision" else "the strict precision policy"
    return {"torch": "torch", "fixed": f"JAX with {fix}", "without": "JAX without it (stock)",
            "control": "torch, the next seed" if h.name == "init" else "torch, inputs nudged 1 ulp"}


@dataclass
class Demo:
    hazard: hazards.Hazard
    device: str
    outputs: dict[str, dict[str, np.ndarray]]     # run -> case label -> array (torch's layout)
    cost: dict | None = None                       # {"lesson", "metric", "rows": [[run, variant, metric, loss]]}
    files: list[Path] = field(default_factory=list)

    @property
    def cases(self) -> list[str]:
        return list(self.outputs["torch"])

    def gap(self, run: str, case: str) -> float:
        """Largest |run - torch| over the case's array; inf where the shapes differ."""
        a, b = self.outputs["torch"][case], self.outputs[run][case]
        if a.shape != b.shape:
            return float("inf")
        return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))

    def floor(self, case: str) -> float:
        """The control's gap, at least one float32 rounding unit of torch's largest value."""
        scale = float(np.max(np.abs(self.outputs["torch"][case]), initial=0.0))
        return max(self.gap("control", case), inputs.EPS32 * scale, np.finfo(np.float32).tiny)

    def ratio(self, run: str, case: str) -> float:
        return self.gap(run, case) / self.floor(case)

    @property
    def bites(self) -> bool:
        return any(self.ratio("without", c) > FACTOR for c in self.cases)

    @property
    def fixed(self) -> bool:
        return all(self.ratio("fixed", c) <= FACTOR for c in self.cases)

    def verdict(self) -> str:
        worst = max(self.cases, key=lambda c: self.ratio("without", c))
        torch_shape, shape = self.outputs["torch"][worst].shape, self.outputs["without"][worst].shape
        if shape != torch_shape:
            head = f"bites: without the fix {worst} has shape {shape} where torch's is {torch_shape}"
        elif self.bites:
            head = (f"bites: without the fix {worst} is {fmt(self.gap('without', worst))} off torch's, "
                    f"{self.ratio('without', worst):,.0f}x the control's gap")
        else:
            head = (f"does not show here: without the fix the gap is at most "
                    f"{self.ratio('without', worst):.2g}x the control's")
        best = max(self.cases, key=lambda c: self.ratio("fixed", c))
        tail = (f"with it, within {FACTOR:g}x the control (rounding)" if self.fixed else
                f"with it still {self.ratio('fixed', best):.3g}x the control ({best})")
        return f"{head}; {tail}"


def _summary(label: str, a: np.ndarray) -> str:
    if label.startswith("loss") and a.ndim == 1:
        return f"{len(a)} steps: {fmt(float(a[0]))} -> {fmt(float(a[-1]))}"
    if a.size <= 4:
        return ", ".join(fmt(float(v)) for v in a.ravel())
    return f"shape {tuple(a.shape)}"


def run(name: str, cfg: RunConfig, *, cost: bool = True) -> Demo:
    """The hazard's demo (and, with ``cost``, its price in its lesson) under ``cfg``'s device and policy."""
    h = hazards.get(name)
    if h.gpu_only and cfg.device == "cpu":
        raise LessonError(f"the {h.name} hazard shows only on a GPU; add --device gpu")
    spec = specs.demos()
    case = inputs.case(name, spec.hp(name), cfg.seed_for(spec))
    plan = {"torch": ("torch", None, case), "fixed": ("jax", None, case), "without": ("jax", name, case),
            "control": ("torch", None, inputs.control_case(name, case))}
    outputs, device = {}, cfg.device
    for run_name, (fw, removed, c) in plan.items():
        side = sides.harness(fw)
        dev = side.select_device(cfg.device)
        device = side.device_kind(dev)
        with side.placed(cfg.replace(dtype="float32"), dev, removed):
            outputs[run_name] = side.demo(getattr(sides.demos(fw), name), c, dev)
    demo = Demo(h, device, outputs)
    if cost and h.cost:
        demo.cost = price(h, cfg)
    return demo


def price(h: hazards.Hazard, cfg: RunConfig) -> dict:
    """The JAX twin of ``h.cost`` at its own settings, with the fix and without: the final target metric
    and loss of each variant the fix changes (every variant, where none changes)."""
    spec = specs.get(h.cost)
    found: dict[str, dict | str] = {}
    for label, removed in (("with the fix", None), ("without it", h.name)):
        try:
            found[label] = {r.variant: r.metrics for r in runner.run(spec, "jax", cfg.replace(progress=False),
                                                                     hazard=removed)}
        except DivergenceError as e:
            found[label] = f"diverges ({e})"
        except (TypeError, ValueError) as e:  # the stock layer does not fit the model: the port does not run
            found[label] = f"fails: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
    fixed, without = found["with the fix"], found["without it"]
    if isinstance(fixed, str):
        raise LessonError(f"{spec.name} does not run with every fix: {fixed}")
    changed = [v for v in fixed if isinstance(without, str) or fixed[v] != without.get(v)] or list(fixed)
    rows = []
    for v in changed:
        metric = spec.targets[v].metric
        for label, metrics in found.items():
            if isinstance(metrics, str):
                rows.append([label, v, metrics, ""])
            else:
                rows.append([label, v, fmt(metrics[v][metric]), fmt(metrics[v].get("loss"))])
    metric = spec.targets[changed[0]].metric
    return {"lesson": spec.name, "metric": metric, "rows": rows,
            "unchanged": [v for v in fixed if v not in changed]}


def report(d: Demo) -> str:
    """What `lessons hazards --demo NAME` prints."""
    h, labels = d.hazard, run_labels(d.hazard)
    lines = [wrap(f"{h.name}: {h.differs}."), wrap(f"fix: {h.fix}."),
             wrap(f"demo: {h.demo} ({d.device}, float32; settings: shared/specs/hazards.py; code: "
                  "`lessons show hazards`)."), ""]
    rows = []
    for case in d.cases:
        for i, r in enumerate(RUNS):
            a = d.outputs[r][case]
            gap = "-" if r == "torch" else fmt(d.gap(r, case))
            ratio = "-" if r == "torch" else f"{d.ratio(r, case):.3g}"
            rows.append([case if i == 0 else "", labels[r], _summary(case, a), gap, ratio])
    lines.append(format_table(["result", "run", "value", "max |Δ| vs torch", "x control"], rows))
    lines += ["", wrap(f"verdict: {d.verdict()}.")]
    if d.cost:
        c = d.cost
        lines += ["", wrap(f"cost in {c['lesson']} at its own settings (JAX twin, {d.device}, embedded data):"), ""]
        lines.append(format_table(["run", "variant", c["metric"], "final loss"], c["rows"]))
        if c["unchanged"]:
            lines.append(wrap(f"(the fix changes nothing in {', '.join(c['unchanged'])})"))
    elif h.cost is None:
        lines.append(wrap(f"cost: no lesson here meets {h.name}; the demo above is its measure."))
    return "\n".join(lines)


def as_json(d: Demo) -> dict:
    return {"hazard": d.hazard.name, "device": d.device, "bites": d.bites, "fixed": d.fixed, "verdict": d.verdict(),
            "cases": {c: {r: {"value": _summary(c, d.outputs[r][c]), "shape": list(d.outputs[r][c].shape),
                              **({} if r == "torch" else {"gap": d.gap(r, c), "ratio": d.ratio(r, c)})}
                          for r in RUNS} for c in d.cases},
            "cost": d.cost}


def plot_png(d: Demo) -> bytes:
    """One panel per result: |Δ| vs torch per step (losses) or the largest |Δ| (other results), log scale."""
    from shared.tools.plots import plt, png_bytes  # matplotlib only when plotting

    labels = run_labels(d.hazard)
    fig, axes = plt.subplots(1, len(d.cases), figsize=(4.5 * len(d.cases), 3.4), squeeze=False)
    for ax, case in zip(axes[0], d.cases):
        series = case.startswith("loss") and d.outputs["torch"][case].ndim == 1
        for i, r in enumerate(RUNS[1:]):
            a, b = d.outputs["torch"][case], d.outputs[r][case]
            if series and a.shape == b.shape:
                diff = np.abs(a.astype(np.float64) - b)
                ax.plot(np.arange(1, len(a) + 1), np.maximum(diff, 1e-12), color=f"C{i}", label=labels[r])
            elif a.shape == b.shape:
                ax.bar(i, max(d.gap(r, case), 1e-12), color=f"C{i}", label=labels[r])
            else:
                ax.text(i, 0.5, f"{labels[r]}:\nshape {tuple(b.shape)}", transform=ax.get_xaxis_transform(),
                        ha="center", va="center", fontsize=7, color=f"C{i}")
        ax.set_yscale("log")
        ax.set_xlabel("step" if series else "")
        if not series:
            ax.set_xticks([])
        ax.set_ylabel("|Δ| vs torch")
        ax.set_title(case, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{d.hazard.name}: with the fix, without it, and the one-ulp control", fontsize=10)
    return png_bytes(fig)


def paths(name: str, out: Path) -> list[Path]:
    """Where the demo's record and plot go: DIR/hazards/NAME.json and .png (the site reads them)."""
    base = Path(out) / "hazards" / name
    return [base.with_suffix(".json"), base.with_suffix(".png")]


def files(d: Demo, out: Path) -> dict[Path, bytes]:
    """The demo's record and plot, not yet written (:func:`paths`)."""
    import json

    record, png = paths(d.hazard.name, out)
    return {record: (json.dumps(as_json(d), indent=1) + "\n").encode(), png: plot_png(d)}
