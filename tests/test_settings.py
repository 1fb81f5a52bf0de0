"""`--set KEY=VALUE`: each lesson's settings reach the run (the lesson gets the value, the record notes
it), and a bad key or value is one line naming the lesson's settings, exit 2, before anything runs."""
from __future__ import annotations

import contextlib
import json
import re
import types

import pytest

from shared import cli, specs
from shared.errors import LessonError
from shared.harness import distributed, sides
from shared.harness.config import LOOP_OWN, RunConfig
from shared.harness.session import Session, records
from shared.specs import settings
from shared.views import twins


def another(key: str, value):
    """A valid value other than the spec's, small enough for a quick run."""
    if key == "epochs":
        return 1
    if key in ("n", "points"):
        return 500
    if key == "batch_size":
        return 8
    if isinstance(value, bool):
        return not value
    if isinstance(value, tuple):
        return tuple(another(key, v) for v in value)
    if isinstance(value, int):
        return value + 1
    return 0.5 if value == 0 else value * 0.8


def changes_for(spec) -> dict:
    return {k: another(k, next((v for v in vs if v is not None), None)) for k, vs in settings.values(spec).items()}


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_each_setting_is_read_by_both_twins(lesson):
    """A setting --set changes is one the lesson's code reads (hp["key"]), in both files, so its own
    train() and the fast path both use it; epochs is passed to train() by the harness."""
    for key in settings.keys(specs.get(lesson)):
        if key == "epochs":
            continue
        for fw in ("torch", "jax"):
            text = twins.lesson_path(fw, lesson).read_text()
            assert f'hp["{key}"]' in text, (lesson, fw, key)


class Spy(types.ModuleType):
    """The lesson module, recording the settings each of its functions is given."""

    def __init__(self, module):
        super().__init__(module.__name__)
        self._module, self.seen = module, []

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if not callable(value) or name.startswith("_"):
            return value

        def call(*args, **kwargs):
            self.seen += [a for a in args if isinstance(a, dict)]  # the settings (no other argument is a dict)
            return value(*args, **kwargs)
        return call


@pytest.mark.parametrize("lesson", [n for n in specs.LESSONS if settings.keys(specs.get(n))])
def test_every_setting_of_every_lesson_changes_the_run(lesson):
    """All of a lesson's settings changed at once (torch, its own train()): every function of the
    lesson that takes the settings gets the new values, and each record notes what it changed."""
    spec = specs.get(lesson)
    changes = settings.check(spec, changes_for(spec))
    cfg = RunConfig(progress=False, loop=LOOP_OWN, overrides=changes)
    spy = Spy(sides.lesson("torch", lesson))
    with contextlib.ExitStack() as stack:
        parallel = None
        if spec.shape.data_parallel:  # a process group of one, as `lessons run data_parallel` makes
            d = sides.distributed("torch")
            stack.enter_context(d.joined(0, 1, None, distributed.GROUP_TIMEOUT_S, cfg.device))
            parallel = distributed.Hooks(d)
        got = records(Session(spec, "torch", cfg, lesson=spy, parallel=parallel))
    assert spy.seen
    for hp in spy.seen:
        for key, value in changes.items():
            if key in hp:
                assert hp[key] == value, (key, hp[key], value)
    for r in got:
        want = {k: v for k, v in changes.items() if k in spec.settings(r.variant, cfg.data)}
        assert r.overrides == want, (r.variant, r.overrides)


def test_set_runs_with_the_value_and_prints_it_beside_the_course(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", "multiclass", "--framework", "jax", "--epochs", "2", "--set", "lr=0.05",
                     "--set", "hidden=16", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    (record,) = json.loads((out / "multiclass" / "jax-cpu-embedded.json").read_text())
    assert record["overrides"] == {"lr": 0.05, "hidden": 16, "epochs": 2}
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()[:1] in (["lr"], ["hidden"], ["epochs"])}
    assert re.fullmatch(r"lr\s+-\s+0\.05\s+this run \(--set\); the spec's: 0\.001", rows["lr"]), rows["lr"]
    assert re.fullmatch(r"hidden\s+-\s+16\s+this run \(--set\); the spec's: 32", rows["hidden"]), rows["hidden"]
    assert re.fullmatch(r"epochs\s+100\s+2\s+this run \(--epochs\); the spec's: 100", rows["epochs"]), rows["epochs"]


def test_parsing_to_each_settings_type():
    xor, quick, mc = specs.get("xor"), specs.get("quickstart"), specs.get("multiclass")
    assert settings.parse(mc, ["lr=0.05", "hidden=16", "shuffle=yes", "batch_size=all"]) == \
        {"lr": 0.05, "hidden": 16, "shuffle": True, "batch_size": None}
    assert settings.parse(xor, ["hidden=8,8,8"]) == {"hidden": (8, 8, 8)}
    assert settings.parse(quick, ["betas=(0.8, 0.99)", "momentum=0"]) == {"betas": (0.8, 0.99), "momentum": 0.0}
    assert settings.check(mc, {"lr": 1, "batch_size": None}) == {"lr": 1.0, "batch_size": None}


def never_runs(monkeypatch):
    monkeypatch.setattr(cli, "run_lesson", lambda *a: pytest.fail("a lesson ran before --set was checked"))
    monkeypatch.setattr(cli.runner, "run", lambda *a, **k: pytest.fail("a lesson ran before --set was checked"))


@pytest.mark.parametrize("args,words", [
    (["run", "multiclass", "--set", "lrr=0.1"], "--set lrr: not a setting of multiclass"),
    (["run", "multiclass", "--set", "classes=0,1"], "classes, but it is part of what the lesson is, not a setting"),
    (["run", "multiclass", "--set", "lr=abc"], "lr (learning rate) takes a number > 0; the spec's: 0.001"),
    (["run", "multiclass", "--set", "lr=-1"], "takes a number > 0"),
    (["run", "multiclass", "--set", "lr=nan"], "takes a number > 0"),
    (["run", "multiclass", "--set", "batch_size=0"], "batch_size (samples per batch (all: the whole set)) takes a "
                                                     "whole number >= 1, or all"),
    (["run", "multiclass", "--set", "hidden=1.5"], "takes a whole number >= 1"),
    (["run", "dropout", "--set", "p=1"], "p (dropout probability) takes a number >= 0 and < 1; the spec's: 0.3"),
    (["run", "dropout", "--set", "p=-0.1"], "takes a number >= 0 and < 1"),
    (["run", "xor", "--set", "hidden=8"], "takes 3 comma-separated values, each a whole number >= 1; the spec's: "
                                          "10,10,10"),
    (["run", "dropout", "--set", "shuffle=maybe"], "shuffle (shuffle the samples every epoch) takes true or false"),
    (["run", "multiclass", "--set", "lr"], "--set lr: write KEY=VALUE"),
    (["run", "multiclass", "--set", "lr=0.1", "--set", "lr=0.2"], "--set lr is given twice"),
    (["run", "multiclass", "--set", "epochs=3", "--epochs", "2"], "give --epochs N or --set epochs=N, not both"),
    (["compare", "--all", "--set", "lr=0.1"], "--set changes one lesson's settings; name the lesson instead of --all"),
    (["parity", "multiclass", "--set", "momentum=0.5"], "not a setting of multiclass"),
])
def test_bad_settings_are_one_line_naming_the_settings_and_exit_2(monkeypatch, capsys, tmp_path, args, words):
    never_runs(monkeypatch)
    assert cli.main([*args, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    if "--all" not in args and "epochs" not in " ".join(args):
        assert err[0].endswith(f"{args[1]}'s settings: {', '.join(settings.keys(specs.get(args[1])))} "
                               "(--set KEY=VALUE)"), err[0]
    assert list(tmp_path.iterdir()) == []


def test_notebook_settings_cell_takes_the_same_changes(tmp_path):
    assert cli.main(["notebook", "dropout", "--set", "p=0.5", "--out", str(tmp_path)]) == 0
    nb = json.loads((tmp_path / "dropout.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    (cell,) = [c for c in code if c.startswith("changes = ")]
    assert cell.splitlines()[0].startswith("changes = {'p': 0.5}")
    for key in settings.keys(specs.get("dropout")):
        assert re.search(rf"^#\s+{key}\s", cell, re.M), key
    run_cell = next(c for c in code if "runner.run(" in c)
    assert "overrides=settings.check(spec, changes)" in run_cell and "loop='train'" in run_cell
    scope: dict = {}
    exec(cell, scope)
    assert settings.check(specs.get("dropout"), scope["changes"]) == {"p": 0.5}
    with pytest.raises(LessonError, match="p .dropout probability. takes a number >= 0 and < 1"):
        settings.check(specs.get("dropout"), {"p": 2})
