"""The settings a learner changes without editing a file: ``--set KEY=VALUE``, checked before anything runs.

A key is a setting of a lesson when its spec's hparams have it (in "common" or in a variant) and
it is described in ``SETTINGS`` below: what it is, the type of its value and the values that make
sense. A value is parsed to that type; a tuple setting (xor's hidden (10, 10, 10)) takes as many
comma-separated values as the spec's. The run uses the value in every variant that has the
setting, and each record notes what it changed (``Record.overrides``). An unknown key, a value of
the wrong type or an impossible one is one line that names the lesson's settings (LessonError).
``lessons notebook`` writes the same settings into a cell, checked by :func:`check` when it runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from shared.errors import LessonError
from shared.harness.config import MAX_EPOCHS


@dataclass(frozen=True)
class Setting:
    help: str                   # one line: what it is
    kind: type                  # int, float or bool: the value's type (each item's, for a tuple setting)
    low: float | None = None    # the smallest value that makes sense
    high: float | None = None   # the largest
    above: bool = False         # low itself is not allowed (a rate must be positive)
    below: bool = False         # high itself is not allowed (a probability below 1)
    or_all: bool = False        # "all" (None in the spec): the whole set in one batch

    def allowed(self) -> str:
        """What a value may be, in words: "a number > 0", "a whole number >= 1, or all"."""
        if self.kind is bool:
            return "true or false"
        what = "a whole number" if self.kind is int else "a number"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.above else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.below else '<='} {self.high:g}")
        return " ".join([what, " and ".join(bounds)]).strip() + (", or all" if self.or_all else "")

    def fits(self, value) -> bool:
        if self.low is not None and (value < self.low or (self.above and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.below and value == self.high))


SETTINGS: dict[str, Setting] = {
    "lr": Setting("learning rate", float, low=0, above=True),
    "epochs": Setting("epochs (xor and poly_fit: steps)", int, low=1, high=MAX_EPOCHS),
    "batch_size": Setting("samples per batch (all: the whole set)", int, low=1, or_all=True),
    "shuffle": Setting("shuffle the samples every epoch", bool),
    "drop_last": Setting("drop each epoch's last, smaller batch", bool),
    "hidden": Setting("units in each hidden layer", int, low=1),
    "p": Setting("dropout probability", float, low=0, high=1, below=True),
    "momentum": Setting("SGD's momentum", float, low=0, high=1, below=True),
    "alpha": Setting("RMSprop's smoothing constant", float, low=0, high=1, below=True),
    "eps": Setting("the optimizer's epsilon", float, low=0, above=True),
    "betas": Setting("Adam's decay rates", float, low=0, high=1, below=True),
    "bn_momentum": Setting("BatchNorm's momentum, as torch counts it (the new batch's weight)", float, low=0,
                           high=1),
    "bn_eps": Setting("BatchNorm's epsilon", float, low=0, above=True),
    "points": Setting("points on the sine curve", int, low=1),
    "n": Setting("points on the line", int, low=1),
    "noise": Setting("the line's noise (its standard deviation)", float, low=0),
}


def values(spec) -> dict[str, list]:
    """The lesson's settings -> the distinct values its variants give each (resolved per data source, a
    value given per source counts once per source)."""
    found: dict[str, list] = {}
    for hp in spec.hparams.values():
        for key, value in hp.items():
            if key in SETTINGS:
                for v in (value.values() if isinstance(value, dict) else [value]):
                    if v not in found.setdefault(key, []):
                        found[key].append(v)
    return dict(sorted(found.items()))


def keys(spec) -> list[str]:
    """The names ``--set`` accepts for this lesson, sorted."""
    return list(values(spec))


def _spec_value(spec, key: str) -> str:
    return ", ".join("all" if v is None else _text(v) for v in values(spec)[key])


def _text(value) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def _problem(spec, key: str, why: str) -> LessonError:
    return LessonError(f"{why}; {spec.name}'s settings: {', '.join(keys(spec))} (--set KEY=VALUE)")


def _one(spec, key: str, raw, text: bool):
    """``raw`` (a string from the command line when ``text``, else a Python value) as the setting's type."""
    s = SETTINGS[key]
    shape = next((v for v in values(spec)[key] if v is not None), None)
    length = len(shape) if isinstance(shape, (tuple, list)) else None
    want = s.allowed() if length is None else f"{length} comma-separated values, each {s.allowed()}"
    bad = _problem(spec, key, f"--set {key}={_text(raw) if not text else raw}: {key} ({s.help}) takes {want}; "
                              f"the spec's: {_spec_value(spec, key)}")
    if s.or_all and (raw is None or (text and raw.strip().lower() in ("all", "none"))):
        return None
    items = raw.strip().strip("()[]").split(",") if text and length else raw if length else [raw]
    if not isinstance(items, (tuple, list)) or len(items) != (length or 1):
        raise bad
    out = []
    for item in items:
        value = _parse(s.kind, item.strip() if text else item)
        if value is None or (s.kind is not bool and not s.fits(value)):
            raise bad
        out.append(value)
    return tuple(out) if length else out[0]


def _parse(kind: type, item):
    """``item`` as ``kind``, or None where it is not one."""
    if kind is bool:
        if isinstance(item, bool):
            return item
        word = str(item).lower() if isinstance(item, str) else None
        return {"true": True, "yes": True, "on": True, "1": True,
                "false": False, "no": False, "off": False, "0": False}.get(word)
    if isinstance(item, bool):
        return None
    if kind is int:
        if isinstance(item, int):
            return item
        try:
            return int(item) if isinstance(item, str) else None
        except ValueError:
            return None
    try:
        value = float(item) if isinstance(item, (str, int, float)) else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def parse(spec, assignments: list[str]) -> dict:
    """``["lr=0.05", "hidden=16"]`` -> ``{"lr": 0.05, "hidden": 16}`` for ``spec``'s lesson, or a LessonError."""
    raw: dict[str, str] = {}
    for text in assignments:
        key, eq, value = text.partition("=")
        key = key.strip()
        if not eq or not key:
            raise _problem(spec, key, f"--set {text}: write KEY=VALUE, e.g. --set {keys(spec)[0]}=..."
                           if keys(spec) else f"--set {text}: write KEY=VALUE")
        if key in raw:
            raise _problem(spec, key, f"--set {key} is given twice; give each setting once")
        raw[key] = value
    return _checked(spec, raw, text=True)


def check(spec, changes: dict) -> dict:
    """Python values (a notebook's settings cell) checked like ``--set``: ``{"lr": 0.05}`` -> the same dict, typed."""
    return _checked(spec, dict(changes), text=False)


def _checked(spec, raw: dict, text: bool) -> dict:
    if raw and not keys(spec):
        raise LessonError(f"--set {next(iter(raw))}: {spec.name} has no settings to change")
    out = {}
    for key, value in raw.items():
        if key not in values(spec):
            why = (f"--set {key}: {spec.name} has {key}, but it is part of what the lesson is, not a setting"
                   if any(key in hp for hp in spec.hparams.values()) else f"--set {key}: not a setting of {spec.name}")
            raise _problem(spec, key, why)
        out[key] = _one(spec, key, value, text)
    return out


def apply(hp: dict, overrides) -> dict:
    """The variant's settings with the overrides it has (a setting the variant lacks changes nothing)."""
    changes = dict(overrides)
    return {k: changes.get(k, v) for k, v in hp.items()}


def changed(hp: dict, overrides) -> dict:
    """The overrides this variant's settings have: what its record notes."""
    return {k: v for k, v in dict(overrides).items() if k in hp}


def described(spec, overrides: list[dict], *, epochs_flag: bool) -> dict[str, tuple[str, str]]:
    """setting -> (this run's value, why) for the course table, from the records' overrides: each
    --set, and epochs from --epochs (``epochs_flag``), beside the spec's values."""
    out = {}
    for changes in overrides:
        for key, value in changes.items():
            how = "--epochs" if key == "epochs" and epochs_flag else "--set"
            spec_values = values(spec).get(key, ["-"])
            out[key] = (show(value), f"this run ({how}); the spec's: " + ", ".join(map(show, spec_values)))
    return out


def show(value) -> str:
    """A setting's value as ``--set`` takes it: 0.05, 10,10,10, true, all."""
    return "all" if value is None else _text(value)
