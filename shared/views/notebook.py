"""``lessons notebook LESSON``: a Jupyter notebook (nbformat 4) written from the lesson's twin files.

The notebook holds: the lesson's explanation (the spec's ``teaches``, both module docstrings, the
course's settings beside ours, the hazards); each function pair as a ``%%torch`` cell and a
``%%jax`` cell; then cells that run the lesson in both frameworks through
``shared.harness.runner.run`` and print the comparison. ``--framework torch|jax`` writes a notebook with
one framework's cells only.

Name clashes: both twins define the same names. Each ``%%torch`` / ``%%jax`` cell runs inside its
own module (``shared/views/kernel.py``), which stands in for ``torch_impl.<lesson>`` /
``jax_impl.<lesson>``, so the run trains the code the cells define. The notebook is plain JSON:
writing one needs no Jupyter package; running it needs ipykernel (the ``test`` extra). A notebook
in ``--out`` that the user edited is never replaced without ``--force`` (shared/outputs.py).
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

from shared.tools import results
from shared.harness.config import FRAMEWORKS, LOOP_OWN, RunConfig
from shared.errors import LessonError
from shared.outputs import OutputDir
from shared.specs import settings as settings_mod
from shared.specs.base import setting_text
from shared.views import exercise, twins

LABEL = {"torch": "PyTorch", "jax": "JAX"}
METRICS_TAG = "final-metrics"  # the cell that prints the final metrics as JSON (read by tests)


def file_name(lesson: str, framework: str = "both") -> str:
    return f"{lesson}.ipynb" if framework == "both" else f"{lesson}-{framework}.ipynb"


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


class _Cells:
    def __init__(self):
        self.cells = []

    def md(self, text: str):
        self.cells.append({"cell_type": "markdown", "id": f"c{len(self.cells):03d}", "metadata": {},
                           "source": _lines(text.strip("\n"))})

    def code(self, text: str, tags: tuple[str, ...] = ()):
        self.cells.append({"cell_type": "code", "id": f"c{len(self.cells):03d}",
                           "metadata": {"tags": list(tags)} if tags else {}, "execution_count": None,
                           "outputs": [], "source": _lines(text.strip("\n"))})


def _md(text) -> str:
    """Plain text in markdown: ``*`` and ``_`` shown as themselves (``0.999**t``, ``**as_torch...``);
    `code spans` are left as they are."""
    parts = re.split(r"(`[^`]*`)", str(text))
    return "".join(p if p.startswith("`") else re.sub(r"([\\*_])", r"\\\1", p) for p in parts)


def _fenced(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def settings_rows(spec) -> list[list[str]]:
    """[setting, the course's, ours, why ours differs] (LessonSpec.course_rows)."""
    return spec.course_rows()


def hp_rows(spec) -> list[list[str]]:
    """[variant, settings] from the spec: "common" first, then each variant's own, as text
    ("lr: 0.01; batch_size: 32; ...")."""
    return [[name, "; ".join(f"{k}: {setting_text(k, v)}" for k, v in dict(hp).items())]
            for name, hp in spec.hparams.items()]


def target_rows(spec) -> list[list[str]]:
    return [[v, t.metric, t.describe(), t.describe_tol() or "-"] for v, t in spec.targets.items()]


def settings_cell(spec, changes: dict) -> str:
    """The notebook's settings cell: ``changes`` (what ``--set`` gave) and every setting as a comment."""
    rows = [(key, ", ".join(settings_mod.show(v) for v in values), settings_mod.SETTINGS[key].help)
            for key, values in settings_mod.values(spec).items()]
    if not rows:
        return f"changes = {{}}  # {spec.name} has no settings to change"
    width = max(len(k) for k, _, _ in rows) + 2
    lines = [f"changes = {changes!r}  # setting: value, as `lessons run {spec.name} --set KEY=VALUE`",
             "# the settings and the spec's values:"]
    lines += [f"#   {key:<{width}}{value:<14}{what}" for key, value, what in rows]
    return "\n".join(lines)


def _one_line(rows):
    return [[_md(str(c).replace("\n", " ")) for c in row] for row in rows]


def build(lesson: twins.Lesson, framework: str = "both", cfg: RunConfig | None = None) -> dict:
    """The notebook as a dict (nbformat 4.5)."""
    if framework not in (*FRAMEWORKS, "both"):
        raise LessonError(f"unknown framework {framework!r}; choose one of: torch, jax, both")
    cfg = cfg or RunConfig(progress=False)
    sides = list(FRAMEWORKS) if framework == "both" else [framework]
    spec, name = lesson.spec, lesson.name
    for fw in sides:
        if lesson.twin(fw).error:
            raise LessonError(f"{lesson.twin(fw).display_path}: {lesson.twin(fw).error}; fix it, then write the "
                              "notebook again")
    c = _Cells()
    which = " and ".join(lesson.twin(fw).display_path for fw in sides)
    c.md(f"# {_md(name)}: {_md(spec.title)}\n\n{_md(spec.teaches)}\n\n"
         f"*Generated by `lessons notebook {name}" + ("" if framework == "both" else f" --framework {framework}")
         + f"` from {which}: the cells below are those files, pair by pair. Edit the files and generate the "
         "notebook again; an edited cell changes this notebook's run only.*")
    for fw in sides:
        t = lesson.twin(fw)
        if t.docstring:
            c.md(f"### The lesson as `{t.display_path}` tells it\n\n{_fenced(t.docstring)}")
    parts = []
    if spec.course:
        note = spec.course.get("note")
        parts.append("## The course's settings and ours" + (f"\n\nThe course: {note}." if note else "") + "\n\n"
                     + results.markdown_table(["setting", "course", "ours", "why ours differs"],
                                              _one_line(settings_rows(spec))))
    elif spec.beyond_course:
        parts.append(f"## Our settings\n\nBeyond the course: {_md(spec.beyond_course)}")
    else:
        parts.append("## Our settings\n\nThe spec does not quote the course's settings for this lesson yet.")
    parts.append(f"Our settings (`shared/specs/{name}.py`):\n\n"
                 + results.markdown_table(["variant", "settings"], _one_line(hp_rows(spec))))
    parts.append("What each variant must reach:\n\n"
                 + results.markdown_table(["variant", "metric", "target", "torch vs jax"],
                                          _one_line(target_rows(spec))))
    c.md("\n\n".join(parts))
    if lesson.hazards:
        items = []
        for h in lesson.hazards:
            items.append(f"- **{_md(h.name)}**: {_md(h.differs)}. *The JAX twin:* {_md(h.fix)}."
                         f" See it: `{twins.see_it(h)}`.")
        c.md("## Translation hazards this lesson meets\n\n" + "\n".join(items)
             + "\n\nEach is noted again under the function that handles it.")
    magic = " and ".join(f"`%%{fw}`" for fw in sides)
    c.md("## How the cells run\n\n"
         + (f"The torch twin and the JAX twin define the same names (`build_model`, `train_step`, ...). "
            f"So that they do not overwrite each other in one kernel, each cell starts with {magic}: the "
            f"cell runs inside its own module, `torch_impl.{name}` for `%%torch` and `jax_impl.{name}` for "
            f"`%%jax`, as if it were the file's next lines. Below, `tx` and `jx` are those modules: "
            f"`tx.build_model` is torch's, `jx.build_model` is JAX's.\n\n"
            if framework == "both" else
            f"Each cell starts with `%%{framework}`: it runs inside the module `{framework}_impl.{name}`, as "
            f"if it were the file's next lines (`{'tx' if framework == 'torch' else 'jx'}` below).\n\n")
         + "These modules stand in for the files' own modules, so the run at the end trains the code shown "
           "here: the harness (`shared.harness.runner`) finds the lesson by name and gets these modules.")
    setup = ["# Find the project (installed in this kernel's environment, or a checkout above the notebook).",
             "import pathlib, sys",
             "try:",
             "    import shared",
             "except ImportError:",
             "    here = pathlib.Path.cwd().resolve()",
             "    root = next((p for p in (here, *here.parents) if (p / 'shared' / 'harness' / 'runner.py').exists()), None)",
             "    if root is None:",
             "        raise RuntimeError('run this notebook with the project environment (.venv) or inside its checkout')",
             "    sys.path.insert(0, str(root))",
             "",
             "from shared.views import kernel"]
    for fw in sides:
        var = "tx" if fw == "torch" else "jx"
        setup.append(f"{var} = kernel.module({fw!r}, {name!r})  # empty {fw}_impl.{name}: the %%{fw} cells fill it")
    c.code("\n".join(setup))
    for pair in lesson.pairs:
        if pair.kind == "main":
            continue  # `if __name__ == "__main__":` (python -m ...) does nothing in a notebook
        segs = [(fw, pair.side(fw)) for fw in sides if pair.side(fw) is not None]
        if not segs:
            continue
        title = "Imports" if pair.kind == "imports" else f"`{pair.name}`"
        text = [f"## {title}"]
        missing = [fw for fw in sides if pair.side(fw) is None]
        if missing and framework == "both":
            text.append(f"Only in {segs[0][0]}: the {missing[0]} twin has no `{pair.name}`.")
        for h in pair.hazards:
            where = [s for s in pair.sides.get(h.name, ()) if s in sides]
            if not where:
                continue
            text.append(f"> **Hazard {_md(h.name)}** ({' and '.join(LABEL[s] for s in where)} side): "
                        f"{_md(h.differs)}. *Fix:* {_md(h.fix)}. See it: `{twins.see_it(h)}`.")
        c.md("\n\n".join(text))
        for fw, seg in segs:
            c.code(f"%%{fw}\n{seg.source}")
    c.md("## Settings\n\n"
         f"The lesson's settings, with the spec's values (`shared/specs/{name}.py`). To change one for the run "
         "below, put it in `changes`, as `lessons run " + name + " --set KEY=VALUE` does, e.g. "
         "`changes = {\"lr\": 0.05}`; the run checks each value and its record notes it.")
    c.code(settings_cell(spec, dict(cfg.overrides)))
    config = (f"RunConfig(device={cfg.device!r}, data={cfg.data!r}, seed={cfg.seed!r}, epochs={cfg.epochs!r}, "
              f"loop={LOOP_OWN!r}, overrides=settings.check(spec, changes), progress=False)")
    c.md("## Run " + ("both frameworks" if framework == "both" else LABEL[framework]) + "\n\n"
         "`shared.harness.runner.run(spec, framework, cfg)` is what `lessons run` calls: it loads the data, builds the "
         "model and trains it with the `train` cell above (`loop='train'`: the lesson's own loop, with your "
         "edits; `loop='fast'` is the harness's fast path over your `train_step`), then evaluates. "
         "`epochs=None` means the spec's epochs; `lessons notebook --epochs N` writes a shorter run.")
    fws = ", ".join(repr(fw) for fw in sides)
    c.code("from shared import specs\n"
           "from shared.harness import runner\n"
           "from shared.harness.config import RunConfig\n"
           "from shared.specs import settings\n"
           "from shared.tools import results\n\n"
           f"spec = specs.get({name!r})\n"
           f"cfg = {config}\n"
           f"records = {{fw: runner.run(spec, fw, cfg) for fw in ({fws},)}}\n"
           "everything = [r for recs in records.values() for r in recs]\n"
           "print(results.comparison_table(everything, {spec.name: spec}))\n"
           "print()\n"
           "print(results.format_table(*results.detail_cells(everything, spec.details)))")
    c.md("The final metrics of each run, per framework and variant (the numbers `lessons run "
         f"{name}` prints for the same settings):")
    c.code("import json\n\n"
           "final = {fw: {r.variant: r.metrics for r in recs} for fw, recs in records.items()}\n"
           "print(json.dumps(final, indent=1, sort_keys=True))", tags=(METRICS_TAG,))
    c.code("# The curves: torch solid, JAX dashed (shared/tools/plots.py writes PNGs; shown here, then deleted).\n"
           "import tempfile\n"
           "from IPython.display import Image, display\n"
           "from shared.tools import plots\n\n"
           "with tempfile.TemporaryDirectory() as tmp:\n"
           "    for png in plots.plot_lesson(spec, everything, pathlib.Path(tmp)):\n"
           "        display(Image(filename=str(png)))")
    c.md("## Translate it yourself\n\n" + _md(exercise.TRANSLATE) + "\n\n```sh\n"
         + "\n".join(exercise.commands(name, "jax" if framework != "jax" else "torch")) + "\n```")
    c.md("## Next\n\n"
         f"- `lessons compare {name}`: both frameworks, the table, JSON records and plots in `out/`.\n"
         f"- `lessons parity {name}`: both frameworks from the same weights on the same batches, step by step, "
         "against a one-ulp control.\n"
         + "".join(f"- `{twins.see_it(h)}`: the {_md(h.name)} hazard where it bites, with and without "
                   "its fix, and what it costs a lesson.\n" for h in lesson.hazards)
         + f"- `lessons show {name}`: the twins side by side in a terminal.")
    return {"cells": c.cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                        "language": "python"},
                         "language_info": {"name": "python"}}}


def ipynb(lesson: str, framework: str = "both", cfg: RunConfig | None = None) -> str:
    """The notebook file's text (nbformat 4 JSON)."""
    return json.dumps(build(twins.load(lesson), framework, cfg), indent=1, ensure_ascii=False) + "\n"


def execute(text: str, name: str = "the notebook", timeout: int = 1800) -> str:
    """The notebook ``text`` (the file ``name``'s) run top to bottom in a kernel of this very Python, with
    this project importable (nbclient and ipykernel: the ``test`` extra), returned with its outputs."""
    try:
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as e:
        raise LessonError(f"--execute needs nbclient and ipykernel ({e.name} is not installed): "
                          "pip install nbclient ipykernel, or `python3 bootstrap.py test` once") from None
    nb = nbformat.reads(text, as_version=4)
    kernelspec = dict(nb.metadata.get("kernelspec", {}))
    with tempfile.TemporaryDirectory() as tmp:   # the kernel's spec, and its working directory
        kernels = Path(tmp) / "kernels"
        (kernels / "tjl").mkdir(parents=True)
        pythonpath = os.pathsep.join(p for p in (str(twins.ROOT), os.environ.get("PYTHONPATH", "")) if p)
        (kernels / "tjl" / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "torch-jax-lessons", "language": "python", "env": {"PYTHONPATH": pythonpath}}))
        km = KernelManager(kernel_name="tjl", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
        try:
            NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": tmp}}).execute()
        except CellExecutionError as e:
            last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise LessonError(f"{name}: a cell failed ({last}); run the notebook in Jupyter to see it") from None
    if kernelspec:
        nb.metadata["kernelspec"] = kernelspec   # open it with the usual python3 kernel, not this run's
    return nbformat.writes(nb) + "\n"


def command(args) -> int:
    """The CLI's ``notebook``."""
    from shared import specs

    if args.all and args.lesson:
        raise LessonError("give a lesson or --all, not both")
    if not args.all and not args.lesson:
        raise LessonError("name a lesson or pass --all (see `lessons list`)")
    if args.epochs is not None and args.epochs < 1:
        raise LessonError(f"--epochs must be at least 1, got {args.epochs}")
    names = list(specs.LESSONS) if args.all else [specs.get(args.lesson).name]
    if args.settings and args.all:
        raise LessonError("--set changes one lesson's settings; name the lesson instead of --all")
    changes = settings_mod.parse(specs.get(names[0]), args.settings) if args.settings else {}
    cfg = RunConfig(device=args.device, data=args.data, seed=args.seed, epochs=args.epochs, progress=False,
                    overrides=changes)
    out = OutputDir(args.out, args.force)
    paths = [Path(args.out) / file_name(name, args.framework) for name in names]
    out.check(paths)  # before anything is built: an unusable --out, or a notebook of the user's in the way
    for path in out.write({p: ipynb(name, args.framework, cfg).encode() for name, p in zip(names, paths)}):
        print(f"wrote {path}")
    return 0
