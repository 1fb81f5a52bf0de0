"""LessonSpec: everything about a lesson that is not framework code, defined once."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


@dataclass(frozen=True)
class Target:
    """What a variant must reach, and how close the two frameworks must be.

    ``at_least``/``at_most`` bound the metric on the embedded data (CPU, CI); ``approx`` with
    ``rel`` is a published figure to reproduce; ``framework_tol`` bounds |torch - jax|: one run's,
    or with ``tol_seeds`` the gap between the two frameworks' means over those seeds (where one
    seed's gap is noise), and every one of those seeds must meet the bounds.
    """

    metric: str
    at_least: float | None = None
    at_most: float | None = None
    approx: float | None = None
    rel: float | None = None
    framework_tol: float | None = None
    tol_seeds: tuple[int, ...] = ()

    def check(self, value: float) -> bool:
        if self.at_least is not None and not value >= self.at_least:
            return False
        if self.at_most is not None and not value <= self.at_most:
            return False
        if self.approx is not None and not abs(value - self.approx) <= (self.rel or 0.0) * abs(self.approx):
            return False
        return True

    def describe(self) -> str:
        parts = []
        if self.at_least is not None:
            parts.append(f">= {self.at_least:g}")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most:g}")
        if self.approx is not None:
            parts.append(f"~ {self.approx:g} (rel {self.rel:g})")
        return " ".join(parts) or "-"

    def describe_tol(self) -> str:
        if self.framework_tol is None:
            return ""
        if self.tol_seeds:
            return f"|Δ mean over seeds {seeds_text(self.tol_seeds)}|<={self.framework_tol:g}"
        return f"|Δ|<={self.framework_tol:g}"


def seeds_text(seeds: tuple[int, ...]) -> str:
    """(0, 1, 2, 3) -> '0-3'; anything else comma-separated."""
    if len(seeds) > 2 and tuple(seeds) == tuple(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


@dataclass(frozen=True)
class LessonSpec:
    """One lesson: what it teaches, its data, hyperparameters, seed and expected results.

    ``hparams`` maps a variant name (or "common") to its settings; ``targets`` maps a variant
    name to its :class:`Target`. The implementations read both; tests and the README table too.
    """

    name: str
    title: str
    teaches: str
    dataset: str
    seed: int
    hparams: Mapping[str, Any]
    targets: Mapping[str, Target]
    notes: str = ""
    parity: Mapping[str, Any] = field(default_factory=dict)
    # `lessons bench`: {"rows": training rows, "classes": label count, "epochs": epochs timed}
    bench: Mapping[str, Any] = field(default_factory=dict)
    # metrics shown per framework in the run's detail table, besides the target metric
    details: tuple[str, ...] = ()
    # the course's own settings and printed figures, quoted from its note (../shared/course/)
    course: Mapping[str, Any] = field(default_factory=dict)
    # setting -> why our default differs from the course's
    deviations: Mapping[str, str] = field(default_factory=dict)
    # data source -> {variant: Target} where that source needs its own (``targets`` hold for the
    # embedded data, and for any source not named here); read them through target()
    data_targets: Mapping[str, Mapping[str, Target]] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "hparams", MappingProxyType(dict(self.hparams)))
        object.__setattr__(self, "targets", MappingProxyType(dict(self.targets)))

    def course_rows(self) -> list[list[str]]:
        """[setting, the course's, ours, why ours differs] for `lessons compare` and the site."""
        ours = {**self.hp(), "seed": self.seed}
        rows = []
        for key in dict.fromkeys([*(k for k in self.course if k not in ("note", "published")), *self.deviations]):
            course = self.course.get(key, "-")
            mine = ours.get(key, "differs" if key in self.deviations else "as the course")
            rows.append([key, str(course), str(mine), self.deviations.get(key, "")])
        for metric, value in self.course.get("published", {}).items():
            rows.append([f"published {metric}", str(value), "-", "the course's printed figure"])
        return rows

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(self.targets)

    def target(self, variant: str, data: str = "embedded") -> Target | None:
        """The variant's target on the ``data`` source (--data): its data_targets entry, else targets'."""
        return self.data_targets.get(data, {}).get(variant, self.targets.get(variant))

    def hp(self, variant: str | None = None) -> dict[str, Any]:
        """Settings for ``variant``: the "common" entry updated with the variant's own."""
        out = dict(self.hparams.get("common", {}))
        if variant is not None:
            out.update(self.hparams.get(variant, {}))
        return out
