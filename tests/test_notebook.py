"""`lessons notebook`: the notebook holds the lesson's explanation and its pairs as cells, runs in a
real kernel (nbclient + ipykernel), and gives the numbers `lessons run` gives with the same settings."""
from __future__ import annotations

import json
import re
import sys
import types

import nbformat
import pytest

from shared import cli, specs
from shared.harness import runner, sides
from shared.harness.config import FRAMEWORKS, LOOP_FAST, LOOP_OWN, RunConfig
from shared.views import kernel, notebook, twins


def _converted(lesson: str) -> bool:
    """The lesson's files follow the protocol (shared/harness/runner.py): a train_step, no run() of their own."""
    return all(re.search(r"^def train_step\(", twins.lesson_path(fw, lesson).read_text(), re.M)
               and not re.search(r"^def run\(", twins.lesson_path(fw, lesson).read_text(), re.M) for fw in FRAMEWORKS)


# the example when its files are converted, else the reference lesson
EXECUTED = "batchnorm" if _converted("batchnorm") else "multiclass"


def _read(path) -> nbformat.NotebookNode:
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return nb


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_notebook_has_the_explanation_and_each_pair_as_a_torch_cell_then_a_jax_cell(tmp_path, capsys):
    assert cli.main(["notebook", "multiclass", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'multiclass.ipynb'}"
    nb = _read(tmp_path / "multiclass.ipynb")
    spec, lesson = specs.get("multiclass"), twins.load("multiclass")
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    md = re.sub(r"\\([*_\\])", r"\1", md)  # markdown escapes, so that 0.999**t is not bold
    assert spec.teaches in md and lesson.torch.docstring in md and lesson.jax.docstring in md
    for key, why in spec.deviations.items():
        assert why in md
    for h in lesson.hazards:
        assert f"`{twins.see_it(h)}`" in md
    cells = [c for c in _code(nb) if c.startswith("%%")]
    expected = [f"%%{fw}\n{p.side(fw).source}" for p in lesson.pairs if p.kind != "main" for fw in FRAMEWORKS]
    assert cells == expected
    run_cell = next(c for c in _code(nb) if "runner.run(" in c)
    assert ("RunConfig(device='cpu', data='embedded', seed=None, epochs=None, loop='train', "
            "overrides=settings.check(spec, changes), progress=False)") in run_cell
    assert "for fw in ('torch', 'jax',)" in run_cell and "comparison_table" in run_cell


def test_single_framework_notebook_has_only_that_framework(tmp_path):
    assert cli.main(["notebook", "multiclass", "--out", str(tmp_path), "--framework", "jax", "--epochs", "2"]) == 0
    nb = _read(tmp_path / "multiclass-jax.ipynb")
    code = _code(nb)
    assert not any(c.startswith("%%torch") for c in code) and any(c.startswith("%%jax") for c in code)
    assert "kernel.module('jax', 'multiclass')" in code[0] and "torch" not in code[0].split("import kernel")[1]
    run_cell = next(c for c in code if "runner.run(" in c)
    assert "for fw in ('jax',)" in run_cell and "epochs=2" in run_cell


def test_notebook_all_writes_every_lesson(tmp_path):
    assert cli.main(["notebook", "--all", "--out", str(tmp_path), "--framework", "torch"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == sorted(f"{n}-torch.ipynb" for n in specs.LESSONS)
    for path in tmp_path.glob("*.ipynb"):
        _read(path)


def test_notebook_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    for argv, words in ((["notebook", "nope"], "unknown lesson"), (["notebook"], "name a lesson"),
                        (["notebook", "xor", "--all"], "not both"), (["notebook", "xor", "--epochs", "0"], "--epochs"),
                        (["notebook", "xor", "--framework", "tf"], "invalid choice")):
        assert cli.main([*argv, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("lessons: error:") and words in err, err
    assert not list(tmp_path.iterdir())


class _Shell:
    """What kernel.module needs of IPython: register_magic_function."""

    def __init__(self):
        self.magics = {}

    def register_magic_function(self, fn, magic_kind, magic_name):
        assert magic_kind == "cell"
        self.magics[magic_name] = fn


@pytest.fixture
def fresh_modules():
    """Whatever kernel.module puts in sys.modules and on the packages is undone afterwards."""
    import jax_impl
    import torch_impl

    names = [f"{fw}_impl.multiclass" for fw in FRAMEWORKS]
    saved = {n: sys.modules.get(n) for n in names}
    attrs = {pkg: getattr(pkg, "multiclass", None) for pkg in (torch_impl, jax_impl)}
    yield
    for n, mod in saved.items():
        if mod is None:
            sys.modules.pop(n, None)
        else:
            sys.modules[n] = mod
    for pkg, mod in attrs.items():
        if mod is None:
            if hasattr(pkg, "multiclass"):
                delattr(pkg, "multiclass")
        else:
            pkg.multiclass = mod


def test_cells_run_in_their_own_module_and_the_runner_uses_it(fresh_modules):
    """The torch and JAX cells define the same names without clobbering each other, and
    shared.harness.runner.run trains the modules the cells built (what the notebook shows is what runs)."""
    shell = _Shell()
    tx, jx = (kernel.module(fw, "multiclass", shell) for fw in FRAMEWORKS)
    lesson = twins.load("multiclass")
    for pair in lesson.pairs:
        if pair.kind != "main":
            for fw in FRAMEWORKS:
                shell.magics[fw]("", pair.side(fw).source)
    assert isinstance(tx, types.ModuleType) and tx.__name__ == "torch_impl.multiclass"
    assert tx.train_step is not jx.train_step
    assert tx.train_step.__globals__ is vars(tx) and jx.train_step.__globals__ is vars(jx)
    assert "torch" in vars(tx) and "torch" not in vars(jx) and "nnx" in vars(jx)
    assert sides.lesson("torch", "multiclass") is tx and sides.lesson("jax", "multiclass") is jx
    # an edited cell changes the run: a torch step that does nothing leaves the loss where it started
    shell.magics["torch"]("", "def train_step(model, optimizer, x, y):\n    return loss_fn(model, x, y).detach()\n")
    cfg = RunConfig(epochs=3, progress=False)
    losses = runner.run(specs.get("multiclass"), "torch", cfg)[0].history["loss"]
    assert len(losses) == 3 and losses[0] == losses[1] == losses[2]


def test_the_run_trains_the_train_cell_it_shows(fresh_modules):
    """The notebook's run (loop='train', what `lessons run` runs) calls the train cell as edited: a
    train() made to raise makes the run fail; the fast path (loop='fast') does not call it."""
    shell = _Shell()
    for fw in FRAMEWORKS:
        kernel.module(fw, "multiclass", shell)
    for pair in twins.load("multiclass").pairs:
        if pair.kind != "main":
            for fw in FRAMEWORKS:
                shell.magics[fw]("", pair.side(fw).source)
    for fw in FRAMEWORKS:
        shell.magics[fw]("", "def train(model, optimizer, data, hp, *, seed, epochs):\n"
                             "    raise RuntimeError('the edited train() ran')\n")
        with pytest.raises(RuntimeError, match="the edited train"):
            runner.run(specs.get("multiclass"), fw, RunConfig(epochs=1, progress=False, loop=LOOP_OWN))
        (record,) = runner.run(specs.get("multiclass"), fw, RunConfig(epochs=1, progress=False, loop=LOOP_FAST))
        assert record.steps == 1


@pytest.fixture
def jupyter_env(tmp_path, monkeypatch):
    """A kernelspec for this interpreter in a tmp dir, and Jupyter's files kept there too."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "tjl-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "torch-jax-lessons (test)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return "tjl-test"


@pytest.mark.slow
def test_executed_notebook_gives_the_numbers_lessons_run_gives(tmp_path, jupyter_env):
    """`lessons notebook LESSON --epochs 1` run top to bottom in an ipykernel (notebook.execute, what
    `lessons site --execute` runs): its final metrics are exactly those of shared.harness.runner.run
    (what `lessons run --epochs 1` calls) with the same settings, and no output is a stray warning."""
    assert cli.main(["notebook", EXECUTED, "--out", str(tmp_path), "--epochs", "1"]) == 0
    path = tmp_path / f"{EXECUTED}.ipynb"
    path.write_text(notebook.execute(path.read_text(), path.name, timeout=900))
    nb = _read(path)
    assert nb.metadata.kernelspec.name == "python3"   # opens with the usual kernel
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    texts = [o.get("text", "") + json.dumps(o.get("data", {}).get("text/plain", "")) for c in nb.cells
             if c.cell_type == "code" for o in c.outputs]
    assert not [t for t in texts if "Warning" in t or "warn" in t.lower()], texts
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("name") == "stderr"]
    (cell,) = [c for c in nb.cells if notebook.METRICS_TAG in c.metadata.get("tags", [])]
    printed = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
    from_notebook = json.loads(printed)
    run_cell = next(c for c in nb.cells if c.cell_type == "code" and "comparison_table" in c.source)
    table = "".join(o.get("text", "") for o in run_cell.outputs)
    assert "|Δ|" in table and all(f"\n{v} " in table for v in specs.get(EXECUTED).variants)  # the comparison
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))  # the curves
    spec = specs.get(EXECUTED)
    cfg = RunConfig(epochs=1, progress=False)
    expected = {fw: {r.variant: r.metrics for r in runner.run(spec, fw, cfg)} for fw in FRAMEWORKS}
    assert set(from_notebook) == set(FRAMEWORKS)
    assert from_notebook == json.loads(json.dumps(expected))
    assert all(set(from_notebook[fw]) == set(spec.variants) for fw in FRAMEWORKS)


def test_site_execute_runs_every_notebook_it_writes(tmp_path, monkeypatch, capsys):
    from shared.views import site

    def execute(text, name, timeout=1800):   # stands for the kernel: marks what it returns
        ran.append(name)
        return json.dumps({**json.loads(text), "executed": name})

    ran = []
    monkeypatch.setattr(site.notebook, "execute", execute)
    assert cli.main(["site", "--out", str(tmp_path / "s"), "--results", str(tmp_path / "none"), "--execute"]) == 0
    written = {p.name: json.loads(p.read_text()) for p in (tmp_path / "s" / "notebooks").glob("*.ipynb")}
    assert sorted(ran) == sorted(written) and len(written) == 3 * len(specs.LESSONS)
    assert all(nb["executed"] == name for name, nb in written.items())   # the site holds what ran
    ran.clear()
    assert cli.main(["site", "--out", str(tmp_path / "s"), "--results", str(tmp_path / "none")]) == 0
    assert ran == [] and "executed" not in json.loads((tmp_path / "s" / "notebooks" / sorted(written)[0]).read_text())
