"""The stage comparison, written once: where two runs of a lesson part, and why.

One step of a lesson is cut into stages (shared/harness/session.py ``probe``): forward (train and
eval mode, and the input of every ReLU and sigmoid), loss, gradients, update (each parameter's
change, the optimizer's state, BatchNorm statistics). A stage is a dict of named tensors in
torch's names. Two probes are compared tensor by tensor: the largest difference relative to the
tensor's scale. The control, the reference run again from weights nudged by one rounding unit,
says how far rounding alone moves each tensor; a tensor passes when its gap is within
CONTROL_FACTOR times its control's (at least that many rounding units), or, for a translation a
user wrote, TWIN_FACTOR times the gap of the project's own twin in that framework (summing in
another order moves a float32 mean of 100,000 terms further than the one-ulp nudge does). Per-step
losses are judged per window of steps, each against the control's drift in that window, so an
early gap is never excused by later chaos.

`lessons check` (shared/tools/check.py), `lessons parity --localize` (shared/tools/parity.py) and
the tests of the hazards all use these functions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

EPS = {"float32": 2.0 ** -23, "float64": 2.0 ** -52}   # one rounding unit, relative
CONTROL_FACTOR = 10.0
TWIN_FACTOR = 2.0     # `lessons check`: a translation may depart as far as twice the project's own twin does
WINDOWS = ((0, 10), (10, 100), (100, None))           # steps 1-10, 11-100, 101-...
ORDER = ("forward", "loss", "gradients", "update")    # a step's stages, in the order they run


def rel_diff(a, b) -> np.ndarray:
    """Per element |a - b| / |a| (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) / np.maximum(np.abs(a), np.finfo(np.float64).tiny)


def gap(ref, got) -> float:
    """max |got - ref| over the larger of the two tensors' largest magnitudes: 0 when equal, 1 when
    one is zero and the other not, inf for another shape or a non-finite value where the other has
    none (the same inf or nan in both counts as equal)."""
    a, b = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    if a.shape != b.shape:
        return math.inf
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.all(same | finite):
        return math.inf
    diff = np.where(same, 0.0, np.abs(np.where(finite, a - b, 0.0)))
    scale = max(float(np.abs(a[finite]).max(initial=0.0)), float(np.abs(b[finite]).max(initial=0.0)))
    return float(diff.max(initial=0.0)) / scale if scale > 0 else 0.0


@dataclass(frozen=True)
class Gap:
    """One tensor (or window of steps): its gap, the control's gap and the limit they set."""

    tensor: str
    gap: float
    control: float | None   # None: no control ran; the limit is the floor
    limit: float

    @property
    def ok(self) -> bool:
        return self.gap <= self.limit

    @property
    def excess(self) -> float:
        """How many times the limit the gap is (above 1: a failure)."""
        return self.gap / self.limit if self.limit > 0 else (math.inf if self.gap > 0 else 0.0)


def limit(control: float | None, floor: float, twin: float | None = None) -> float:
    """CONTROL_FACTOR times the control's gap, TWIN_FACTOR times the twin's, or the floor: the largest."""
    return max(CONTROL_FACTOR * (control or 0.0), TWIN_FACTOR * (twin or 0.0), floor)


def compare(ref: dict, got: dict, control: dict | None, dtype: str, *, twin: dict | None = None) -> list[Gap]:
    """Each tensor of ``ref`` against ``got`` (a missing one: inf), within CONTROL_FACTOR times
    ``control``'s gap (ref against the nudged run), TWIN_FACTOR times ``twin``'s (the project's own
    twin in got's framework: as close as a translation gets) or CONTROL_FACTOR rounding units."""
    out = []
    for name, want in ref.items():
        c = gap(want, control[name]) if control is not None and name in control else None
        t = gap(want, twin[name]) if twin is not None and name in twin else None
        g = gap(want, got[name]) if name in got else math.inf
        out.append(Gap(name, g, c, limit(c, CONTROL_FACTOR * EPS[dtype], t)))
    return out


def worst(gaps: list[Gap]) -> Gap | None:
    """The tensor furthest past its limit (or nearest to it, when all pass)."""
    return max(gaps, key=lambda g: (g.excess, g.gap), default=None)


def within(gaps: list[Gap]) -> bool:
    return all(g.ok for g in gaps)


def matches(got: dict, other: dict, gaps: list[Gap]) -> bool:
    """``got`` computes what ``other`` computes: every tensor both have within the limit the stage's
    comparison (``gaps``) set for it."""
    limits = {g.tensor: g.limit for g in gaps}
    common = [k for k in other if k in got and k in limits]
    return bool(common) and all(gap(other[k], got[k]) <= limits[k] for k in common)


def by_window(losses) -> dict[str, np.ndarray]:
    """Per-step losses cut into WINDOWS ("steps 1-10": ..., "steps 11-100": ...): each window is
    compared as one tensor, against the control's drift in that window."""
    losses = np.asarray(losses)
    out = {}
    for lo, hi in WINDOWS:
        part = losses[lo:hi]
        if not len(part):
            break
        out[f"steps {lo + 1}-{lo + len(part)}"] = part
    return out


def jump(rel, control, dtype: str) -> int | None:
    """The first step (1-based) whose gap is CONTROL_FACTOR times past every gap before it, the
    control's included (at least one rounding unit): where the runs leave the rounding level."""
    rel, control = np.asarray(rel, np.float64), np.asarray(control, np.float64)
    before = np.maximum.accumulate(np.maximum(np.maximum(rel, control), EPS[dtype]))
    over = np.flatnonzero(rel[1:] > CONTROL_FACTOR * before[:-1])
    return int(over[0]) + 2 if over.size else None


def fastest_growth(rel, dtype: str, span: int = 10) -> int:
    """The step (1-based) at which the gap has grown most over the ``span`` steps before it (from
    at least one rounding unit): where training amplifies differences most."""
    rel = np.maximum(np.asarray(rel, np.float64), EPS[dtype])
    if len(rel) <= span:
        return int(np.argmax(rel)) + 1
    growth = rel[span:] / np.maximum.accumulate(rel)[:-span]
    return int(np.argmax(growth)) + span + 1


# -- activations: ReLU sign flips and the first layer that differs ---------------------------------

@dataclass(frozen=True)
class Flips:
    """ReLU inputs whose sign differs between two probes (the unit is on in one, off in the other)."""

    count: int = 0
    total: int = 0
    smallest: float = math.inf        # the smallest |input| among the flipped ones
    per_relu: dict = field(default_factory=dict)   # "relu 1" -> count

    def describe(self) -> str:
        if not self.total:
            return "no ReLU in this network"
        if not self.count:
            return f"no ReLU pre-activation changed sign (of {self.total:,})"
        where = ", ".join(f"{k}: {v}" for k, v in self.per_relu.items() if v)
        return (f"{self.count} ReLU pre-activation{'s' if self.count > 1 else ''} of {self.total:,} changed sign "
                f"({where}; smallest |z| {self.smallest:.2g})")


def activation_names(seen: list) -> list[str]:
    """["relu 1", "relu 2", "sigmoid 1", ...] for [(kind, input)], numbered per kind in call order."""
    counts: dict[str, int] = {}
    names = []
    for kind, _ in seen:
        counts[kind] = counts.get(kind, 0) + 1
        names.append(f"{kind} {counts[kind]}")
    return names


def activations(seen: list) -> dict[str, np.ndarray]:
    """{"relu 1 input": array, ...}: the stage's tensors of one probe's activations."""
    return {f"{n} input": a for n, (_, a) in zip(activation_names(seen), seen)}


def flips(ref_seen: list, got_seen: list) -> Flips:
    """Sign changes of the ReLU inputs present in both probes with the same shape."""
    count, total, smallest, per = 0, 0, math.inf, {}
    for name, (kind, a), (_, b) in zip(activation_names(ref_seen), ref_seen, got_seen):
        if kind != "relu" or np.shape(a) != np.shape(b):
            continue
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        flipped = (a > 0) != (b > 0)
        n = int(flipped.sum())
        per[name] = n
        count, total = count + n, total + a.size
        if n:
            smallest = min(smallest, float(np.minimum(np.abs(a), np.abs(b))[flipped].min()))
    return Flips(count, total, smallest, per)


# -- how one probe's tensors relate to another's -----------------------------------------------------

def scale_between(ref: dict, got: dict) -> float | None:
    """The one factor c with got = c * ref on every tensor they share (e.g. a learning rate c times
    the reference's), or None when no single factor fits."""
    pairs = [(np.asarray(ref[k], np.float64).ravel(), np.asarray(got[k], np.float64).ravel())
             for k in ref if k in got and np.shape(ref[k]) == np.shape(got[k])]
    a = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros(0)
    b = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros(0)
    big = np.abs(a) > 1e-3 * np.abs(a).max(initial=0.0)
    if big.sum() < 2 or not np.all(np.isfinite(b)):
        return None  # one number always has a factor: it says nothing
    c = float(np.median(b[big] / a[big]))
    return c if c != 0 and gap(c * a, b) < 1e-3 and abs(c - 1) > 1e-2 else None
