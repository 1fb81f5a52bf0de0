"""Parity: both frameworks from identical initial weights on the identical batch plan, step by step.

The torch side's freshly initialised weights go through the weight exchange into both
implementations; each returns its per-step losses and final weights (``parity_trace``). The
summary gives the relative loss difference over steps 1-10, 11-100 and the whole run, the
first step past 1e-3, and each parameter tensor's final difference.

A control separates rounding from real differences: torch is run again from weights nudged by
one rounding unit (relative 2**-52 in float64, 2**-23 in float32). The two are compared window by
window (steps 1-10, 11-100, 101-1000, ...): where torch-vs-jax stays within ``FACTOR`` times what
torch-vs-nudged-torch has drifted by the end of each window, the gap is rounding amplified by the
training dynamics. A gap that opens before the control drifts (from step 1, say) is not, however
far the control drifts later.

``--localize`` says where and why a run parts: it reruns both frameworks (and the control) to the
first step past the control, or, for a run that stays within the control's drift, to the step
where the gap grows fastest, and compares that step stage by stage (shared/tools/stages.py):
which stage, which tensor, how many ReLU inputs changed sign.
"""
from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass, field

import numpy as np

from shared.harness import runner
from shared.tools import hazards, stages
from shared.tools.results import fmt, format_table
from shared.tools.stages import EPS, rel_diff

FLOAT64_BOUND = 1e-9
FACTOR = 10.0   # a window's gap within this many times the control's drift so far is rounding
LOCALIZE_UNITS = 1000   # --localize: a run whose loss gap stays within this many rounding units has not parted


def nudge(weights: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """The same weights in ``dtype``, each scaled by (1 + one rounding unit of ``dtype``)."""
    return {k: v.astype(dtype) * (1 + EPS[dtype]) if np.issubdtype(v.dtype, np.floating) else v
            for k, v in weights.items()}


def windows(n: int) -> list[tuple[int, int]]:
    """Steps 1-10, 11-100, 101-1000, ... as [lo, hi) index ranges covering ``n`` steps."""
    out, lo, hi = [], 0, 10
    while lo < n:
        out.append((lo, min(hi, n)))
        lo, hi = hi, hi * 10
    return out


@dataclass
class ParityResult:
    variant: str
    dtype: str
    rel: np.ndarray                     # per step, torch vs jax
    control: np.ndarray | None          # per step, torch vs nudged torch
    weight_diffs: dict[str, float] = field(default_factory=dict)  # max |Δ| per tensor
    control_weight_diffs: dict[str, float] = field(default_factory=dict)  # the same, torch vs nudged torch
    hazard: str | None = None           # the hazard whose fix this JAX run went without
    unchanged: bool = False             # without the fix, the same losses and weights as with it
    failure: str | None = None          # without the fix the JAX twin does not run: why

    @property
    def max_weight_diff(self) -> float:
        return max(self.weight_diffs.values(), default=0.0)

    @property
    def control_max_weight_diff(self) -> float:
        return max(self.control_weight_diffs.values(), default=float("nan"))

    def window_max(self, lo: int, hi: int | None = None, series: np.ndarray | None = None) -> float:
        s = (self.rel if series is None else series)[lo:hi]
        return float(s.max()) if s.size else float("nan")

    @property
    def first_over_1e3(self) -> int | None:
        over = np.flatnonzero(self.rel > 1e-3)
        return int(over[0]) + 1 if over.size else None

    @property
    def first_over_bound(self) -> int | None:
        over = np.flatnonzero(self.rel > FLOAT64_BOUND)
        return int(over[0]) + 1 if over.size else None

    @property
    def unexplained_window(self) -> tuple[int, int] | None:
        """The first window ([lo, hi) steps) whose gap passes FACTOR x the control's drift by its end
        (at least one rounding unit); None where every window is within it, or without a control."""
        if self.control is None:
            return None
        drift = np.maximum.accumulate(self.control)
        for lo, hi in windows(len(self.rel)):
            if self.rel[lo:hi].max() > FACTOR * max(drift[hi - 1], EPS[self.dtype]):
                return lo, hi
        return None

    @property
    def explained_by_rounding(self) -> bool:
        """In every window torch vs jax stays within FACTOR x torch's own sensitivity to a one-ulp nudge."""
        return self.control is not None and self.unexplained_window is None


def _weight_diffs(a: dict, b: dict) -> dict[str, float]:
    return {k: float(np.max(np.abs(np.asarray(v, np.float64) - np.asarray(b[k], np.float64)))) for k, v in a.items()}


def compare(variant: str, dtype: str, torch_trace: dict, jax_trace: dict, control_trace: dict | None) -> ParityResult:
    rel = rel_diff(torch_trace["losses"], jax_trace["losses"])
    control = None if control_trace is None else rel_diff(torch_trace["losses"], control_trace["losses"])
    control_w = {} if control_trace is None else _weight_diffs(torch_trace["weights"], control_trace["weights"])
    return ParityResult(variant, dtype, rel, control, _weight_diffs(torch_trace["weights"], jax_trace["weights"]),
                        control_w)


def run_variant(spec, cfg, variant: str, steps: int | None, *, control: bool = True,
                hazard: str | None = None) -> list[ParityResult]:
    """torch and JAX from torch's initial weights, the one-ulp control, and with ``hazard``, the
    JAX twin once more with that fix removed ("<variant> without <hazard>").

    The init hazard is about the starting weights themselves, so with it both JAX runs start from
    their own initialisation (torch's distribution, and Flax's default) instead of torch's weights.
    """
    weights = runner.initial_weights(spec, variant, cfg)
    torch_trace = runner.trace(spec, "torch", cfg, weights, steps, variant)
    own_init = hazard is not None and hazards.get(hazard).evidence == "init"
    jax_trace = runner.trace(spec, "jax", cfg, None if own_init else weights, steps, variant)
    control_trace = runner.trace(spec, "torch", cfg, nudge(weights, cfg.dtype), steps, variant) if control else None
    found = [compare(variant, cfg.dtype, torch_trace, jax_trace, control_trace)]
    if hazard is not None:
        label = f"{variant} without {hazard}"
        try:
            removed = runner.trace(spec, "jax", cfg, None if own_init else weights, steps, variant, hazard=hazard)
        except (TypeError, ValueError) as e:  # a stock layer that does not fit the model (conv_padding, pool_stride)
            why = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
            return [*found, ParityResult(label, cfg.dtype, np.zeros(0), None, hazard=hazard, failure=why)]
        r = compare(label, cfg.dtype, torch_trace, removed, control_trace)
        r.hazard = hazard
        r.unchanged = not own_init and np.array_equal(removed["losses"], jax_trace["losses"]) and all(
            np.array_equal(v, jax_trace["weights"][k]) for k, v in removed["weights"].items())
        found.append(r)
    return found


def header(spec, cfg, steps: int, hazard: str | None = None) -> str:
    """The title and where each run starts."""
    seed = cfg.seed_for(spec)
    title = f"{spec.title}: torch vs jax, {cfg.dtype}, {steps} steps, seed {seed}, by the harness's fast path"
    if hazard is not None and hazards.get(hazard).evidence == "init":
        starts = ["torch from its own initial weights", "JAX from its own initialisation with as_torch.linear_init "
                  "(torch's distribution, other draws)", "JAX without init from Flax's default initialisation",
                  "the control from torch's weights nudged by one rounding unit"]
    else:
        starts = ["torch from its own initial weights", "JAX from the same weights (the weight exchange)",
                  *([f"JAX without {hazard} from them too"] if hazard else []),
                  "the control: torch from them nudged by one rounding unit"]
    return f"{title}\nstarts: {'; '.join(starts)}."


def summary_table(results: list[ParityResult], notes: bool = False) -> str:
    headers = ["variant", "dtype", "steps", "max rel 1-10", "11-100", "all", "first > 1e-3",
               "control (all)", "max |Δw|", "control |Δw|", "verdict"]
    rows = []
    for r in results:
        if r.failure:
            rows.append([r.variant, r.dtype, "-", "-", "-", "-", "-", "-", "-", "-", verdict(r, notes)])
            continue
        rows.append([r.variant, r.dtype, len(r.rel), fmt(r.window_max(0, 10)), fmt(r.window_max(10, 100)),
                     fmt(r.window_max(0)), r.first_over_1e3 or "-",
                     "-" if r.control is None else fmt(float(r.control.max())), fmt(r.max_weight_diff),
                     "-" if r.control is None else fmt(r.control_max_weight_diff), verdict(r, notes)])
    # on a narrow terminal: dtype and steps are in the title line; the windows and weights go first
    return format_table(headers, rows, priority=[0, 4, 4, 1, 3, 0, 2, 0, 2, 3, 0])


def verdict(r: ParityResult, notes: bool = False) -> str:
    """Rounding only where every window is within the control's drift; otherwise where the gap opens
    and what it is: the hazard whose fix the run went without, or what to read next."""
    if r.failure:
        return f"does not run without the fix ({r.failure}): the {r.hazard} hazard"
    if r.unchanged:
        return f"the same as with the fix: this variant does not use {r.hazard}'s"
    if r.dtype == "float64" and r.first_over_bound is None:
        return f"within {FLOAT64_BOUND:g} at every step"
    head = f"past {FLOAT64_BOUND:g} at step {r.first_over_bound}" if r.dtype == "float64" else "float32"
    if r.control is None:
        return f"{head}; no control run to compare with (drop --no-control)"
    if r.explained_by_rounding:
        if r.hazard is not None and r.max_weight_diff > FACTOR * max(r.control_max_weight_diff, EPS[r.dtype]):
            return (f"{head}; the same losses within rounding, but the final weights differ "
                    f"{r.max_weight_diff / max(r.control_max_weight_diff, EPS[r.dtype]):,.0f}x the control's: "
                    f"the {r.hazard} hazard")
        return f"{head}; rounding amplified by training (within {FACTOR:g}x the control in every window)"
    lo, hi = r.unexplained_window
    drift = float(np.max(r.control[:hi]))
    where = f"larger than rounding from steps {lo + 1}-{hi} ({fmt(r.window_max(lo, hi))} vs the control's {fmt(drift)})"
    if r.hazard is not None:
        return f"{head}; {where}: the {r.hazard} hazard"
    return (f"{head}; {where}: " + ("see the notes below; " if notes else "")
            + "--localize names the step and the stage (forward, loss, gradients, update) where they part")


def weights_table(r: ParityResult) -> str:
    return format_table(["tensor", "max |Δ| after training"], [[k, fmt(v)] for k, v in r.weight_diffs.items()])


# -- --localize: where and why a run leaves the control --------------------------------------------

@dataclass
class Localized:
    """One variant's step at which torch and JAX part, cut into stages (shared/tools/stages.py)."""

    variant: str
    step: int                  # the loss that parts; the stages are those of the step before (its update made it)
    jumped: bool               # the gap leaves the rounding level at ``step``; else it grows fastest there
    rel: float                 # torch vs jax loss at that step
    before: float              # the largest gap before it (torch vs jax)
    control: float             # torch vs nudged torch at that step
    gaps: dict[str, list]      # stage -> [stages.Gap]: torch vs jax, against torch vs nudged torch
    flips: stages.Flips        # torch vs jax, the step's ReLU inputs
    control_flips: stages.Flips  # torch vs nudged torch
    why: str = ""


def localize(spec, cfg, r: ParityResult) -> Localized:
    """Rerun both frameworks (and the control) to the step where the gap leaves the rounding level,
    or, where it never jumps, where it grows fastest; compare that step stage by stage."""
    weights = runner.initial_weights(spec, r.variant, cfg)
    loss_step = stages.jump(r.rel, r.control, cfg.dtype)
    jumped = loss_step is not None
    loss_step = loss_step if jumped else stages.fastest_growth(r.rel, cfg.dtype)
    step = max(1, loss_step - 1)  # the step whose update the loss of ``loss_step`` is the first to see
    starts = {"torch": ("torch", weights), "jax": ("jax", weights), "control": ("torch", nudge(weights, cfg.dtype))}
    probes = {k: runner.probe(spec, fw, cfg, w, r.variant, at_step=step) for k, (fw, w) in starts.items()}

    def tensors(p, stage):
        return {**p["forward"], **stages.activations(p["activations"]["train"])} if stage == "forward" else p[stage]

    gaps = {stage: stages.compare(tensors(probes["torch"], stage), tensors(probes["jax"], stage),
                                  tensors(probes["control"], stage), cfg.dtype) for stage in stages.ORDER}
    train = {k: p["activations"]["train"] for k, p in probes.items()}
    found = Localized(r.variant, loss_step, jumped, float(r.rel[loss_step - 1]),
                      float(r.rel[:loss_step - 1].max(initial=0.0)), float(r.control[loss_step - 1]), gaps,
                      stages.flips(train["torch"], train["jax"]), stages.flips(train["torch"], train["control"]))
    found.why = _why(found)
    return found


def _why(loc: Localized) -> str:
    """What the stages say: a ReLU sign flip, or the stage that amplifies the difference most; and
    whether the control (torch nudged one ulp) does the same there."""
    worst = {stage: stages.worst(g) for stage, g in loc.gaps.items()}
    if loc.flips.count:
        g = worst["gradients"]
        text = (f"{loc.flips.describe()}: a ReLU input within rounding of the kink is on in one framework and off "
                f"in the other, so that sample's gradient changes (largest gradient gap {g.gap:.1e}, in {g.tensor}, "
                f"against {worst['forward'].gap:.1e} in the forward pass).")
        if loc.control_flips.count:
            return (text + f" The control flips {loc.control_flips.count} there too: a one-ulp nudge decides it "
                    "as well, so this is rounding amplified by training, not a difference in the algorithm.")
        return text + " The control flips none there."
    ratios = [(worst[b].gap / max(worst[a].gap, EPS["float64"]), a, b) for a, b in zip(stages.ORDER, stages.ORDER[1:])]
    ratio, a, b = max(ratios)
    control = {s: worst[s].control or 0.0 for s in (a, b)}   # as the table shows them
    # the control started its drift elsewhere: what it shares with a rounding difference is the amplification
    same = (control[b] / control[a] >= ratio / stages.CONTROL_FACTOR if control[a] > 0
            else control[b] >= worst[b].gap / stages.CONTROL_FACTOR)
    return (f"{loc.flips.describe()}; from the {a} to the {b} the difference grows {ratio:.2g}x "
            f"({worst[b].tensor}: {worst[b].gap:.1e})"
            + ("; the control (torch nudged one ulp) grows as much there: rounding amplified by training." if same
               else "; the control grows less there: more than rounding."))


def localize_report(spec, cfg, r: ParityResult) -> str:
    """``--localize`` for one variant: the stages of the step where it parts, or one line for a run
    that stays at the rounding level (nothing to localize)."""
    if float(r.rel.max()) <= LOCALIZE_UNITS * EPS[r.dtype]:
        return (f"{r.variant}: within {LOCALIZE_UNITS:,} rounding units at every step (at most {fmt(float(r.rel.max()))})"
                ": nothing to localize.")
    return localized_text(localize(spec, cfg, r))


def localized_text(loc: Localized) -> str:
    head = (f"{loc.variant}: the loss leaves the rounding level at step {loc.step}: torch vs jax {fmt(loc.rel)}, "
            f"up from at most {fmt(loc.before)} (control {fmt(loc.control)})" if loc.jumped else
            f"{loc.variant}: the loss never jumps; its gap grows fastest at step {loc.step}: torch vs jax "
            f"{fmt(loc.rel)} (control {fmt(loc.control)})")
    head += f". Step {max(1, loc.step - 1)}, whose update that loss is the first to see, stage by stage:"
    rows = [[stage, fmt(w.gap), fmt(w.control), w.tensor] for stage, w in
            ((stage, stages.worst(gaps)) for stage, gaps in loc.gaps.items())]
    table = format_table(["stage", "gap", "control", "largest gap in"], rows)
    width = shutil.get_terminal_size((80, 24)).columns
    return f"{textwrap.fill(head, width)}\n\n{table}\n\n{textwrap.fill(loc.why, width)}"


def plot_png(results: list[ParityResult], title: str) -> bytes:
    """|Δloss| / |loss| per step on a log scale, each variant against its one-ulp control. A step
    where the two losses are exactly equal has no place on a log scale: it is drawn as a tick on
    the bottom edge, in the legend as "exactly equal", not as a spike to an arbitrary floor. A PNG,
    not yet written."""
    from shared.tools.plots import WIDTH_IN, caption, caption_inches, plt, png_bytes, readable

    note = ("Both frameworks start from torch's initial weights and train on the same batches. Under the "
            "control's dotted line the gap is what rounding alone does; above it, the frameworks differ.")
    height = 4.2 + caption_inches(note)
    with readable():
        fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
        edge = ax.get_xaxis_transform()   # x in steps, y in axes fractions: the bottom edge
        any_positive, drawn = False, []
        for i, r in enumerate(results):
            if r.failure:
                continue   # a run that does not run without a hazard's fix has no curve
            steps = np.arange(1, len(r.rel) + 1)
            for series, style, label in ((r.rel, dict(linestyle="-"), f"{r.variant}: torch vs JAX"),
                                         (r.control, dict(linestyle=":", alpha=0.5), f"{r.variant}: torch vs torch "
                                                                                       "nudged 1 ulp")):
                if series is None or any(np.array_equal(series, d) for d in drawn):
                    continue   # the run without a hazard's fix shares the normal run's control
                drawn.append(series)
                positive = np.where(series > 0, series, np.nan)
                any_positive = any_positive or bool(np.isfinite(positive).any())
                ax.plot(steps, positive, color=f"C{i}", label=label, **style)
                zero = steps[series == 0]
                if zero.size and style["linestyle"] == "-":
                    ax.plot(zero, np.full(zero.size, 0.015), transform=edge, linestyle="none", marker="|",
                            markersize=9, color=f"C{i}", label=f"{r.variant}: exactly equal ({zero.size} of "
                                                                 f"{len(series)} steps)")
        if any_positive:
            ax.set_yscale("log")
            ax.axhline(1e-3, color="grey", linewidth=0.5)
        else:
            ax.text(0.5, 0.5, "the losses are exactly equal at every step", transform=ax.transAxes, ha="center")
        ax.set_xlabel("step")
        ax.set_ylabel("|Δ loss| / |loss|")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
        ax.set_title(title)
        fig.tight_layout(rect=(0, caption_inches(note) / height, 1, 1))
        caption(fig, note)
        return png_bytes(fig, tight=False)
