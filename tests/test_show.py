"""`lessons show`: the twins in two terminal columns, function by function, with their hazard notes."""
from __future__ import annotations

import io
import re
import sys

import pytest

from shared import cli, specs
from shared.tools import hazards
from shared.views import show, twins

LESSONS = ("multiclass", "xor")


def _show(capsys, *argv) -> str:
    assert cli.main(["show", *argv]) == 0
    return capsys.readouterr().out


def _squash(text: str) -> str:
    return "".join(text.split())


def _columns(lines: list[str], col: int) -> tuple[str, str]:
    """The left and right column of two-column lines, continuation hooks removed."""
    left, right = [], []
    for line in lines:
        if line.startswith("  ") and show.UNICODE["warn"] in line:
            break  # the hazard notes under the pair
        left.append(line[:col])
        right.append(line[col + 3:])
    strip = lambda cells: "\n".join(c.replace(show.UNICODE["hook"], "") for c in cells)
    return strip(left), strip(right)


@pytest.mark.parametrize("lesson", LESSONS)
def test_two_columns_hold_each_pair_side_by_side_and_all_of_its_code(capsys, lesson):
    width = 150
    out = _show(capsys, lesson, "--width", str(width))
    assert "\x1b[" not in out  # not a terminal: plain text
    assert max(len(line) for line in out.split("\n")) <= width
    L = twins.load(lesson)
    col = (width - 3) // 2
    heads = [line for line in out.split("\n") if line.startswith("── ") and " │ " in line]
    pairs = list(L.pairs)
    assert len(heads) == len(pairs) + 1  # the module docstrings, then one row per pair
    rows = out.split("\n")
    for pair, head in zip(pairs, heads[1:]):
        left, right = head[:col], head[col + 3:]
        assert left.startswith(f"── {pair.name}  {L.torch.display_path}:{pair.torch.first_line}")
        assert right.startswith(f"── {pair.name}  {L.jax.display_path}:{pair.jax.first_line}")
        start = rows.index(head) + 1
        end = next((i for i in range(start, len(rows)) if rows[i].startswith("── ") or rows[i].startswith(
            "Hazards handled")), len(rows))
        t, j = _columns(rows[start:end], col)
        # every character of both functions is there, in order, each in its own column
        assert _squash(t) == _squash(pair.torch.source)
        assert _squash(j) == _squash(pair.jax.source)


def test_hazard_notes_sit_under_the_pair_that_applies_the_fix(capsys):
    out = _show(capsys, "multiclass", "--width", "150")
    L = twins.load("multiclass")
    rows = out.split("\n")
    heads = [i for i, line in enumerate(rows) if line.startswith("── ") and " │ " in line][1:]
    placed = 0
    for pair, start, end in zip(L.pairs, heads, heads[1:] + [len(rows)]):
        notes = [r for r in rows[start:end] if r.startswith(f"  {show.UNICODE['warn']} hazard ")]
        names = [re.match(r"  \S hazard (\w+)", r).group(1) for r in notes]
        assert names == [h.name for h in pair.hazards], pair.name
        for name in names:
            assert f"see it: lessons hazards --demo {name}" in "\n".join(rows[start:end])
        placed += len(names)
    assert placed >= 2  # init (build_model) and adam_bias_correction (make_optimizer)
    assert {h.name for p in L.pairs for h in p.hazards} >= {"init", "adam_bias_correction"}


def test_narrow_width_is_one_column_torch_then_jax(capsys):
    out = _show(capsys, "multiclass", "--width", "80")
    assert " │ " not in out and max(len(line) for line in out.split("\n")) <= 80
    L = twins.load("multiclass")
    heads = [line for line in out.split("\n") if line.startswith("── ")]
    expected = []
    for fw in twins.SIDES:
        expected.append(f"── module docstring  {L.twin(fw).display_path}")
    for pair in L.pairs:
        expected += [f"── {pair.name}  {L.twin(fw).display_path}:{pair.side(fw).first_line}" for fw in twins.SIDES]
    assert [h.split(" ─")[0].rstrip() for h in heads] == expected


def test_width_follows_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert " │ " not in _show(capsys, "multiclass")
    monkeypatch.setenv("COLUMNS", "170")
    out = _show(capsys, "multiclass")
    assert " │ " in out and max(len(line) for line in out.split("\n")) <= 170


class _Pipe(io.StringIO):
    encoding = "utf-8"


class _Tty(_Pipe):
    def isatty(self):
        return True


def test_highlighted_on_a_terminal_plain_otherwise(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = _Tty()
    monkeypatch.setattr(sys, "stdout", tty)
    assert cli.main(["show", "multiclass", "--width", "150"]) == 0
    colored = tty.getvalue()
    assert "\x1b[" in colored
    plain = re.sub(r"\x1b\[[0-9;]*m", "", colored)
    monkeypatch.setattr(sys, "stdout", _Pipe())
    assert cli.main(["show", "multiclass", "--width", "150"]) == 0
    assert sys.stdout.getvalue() == plain  # the same text, only colored
    for line in plain.split("\n"):
        assert len(line) <= 150
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys, "stdout", _Tty())
    assert cli.main(["show", "multiclass", "--width", "150"]) == 0
    assert "\x1b[" not in sys.stdout.getvalue()
    monkeypatch.setattr(sys, "stdout", type("Ascii", (io.StringIO,), {"encoding": "ascii"})())
    assert cli.main(["show", "multiclass", "--width", "150"]) == 0
    assert sys.stdout.getvalue().isascii() and "-- train_step" in sys.stdout.getvalue()  # ASCII rules and hooks


def test_term_dumb_gets_no_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setattr(sys, "stdout", _Tty())
    assert cli.main(["show", "multiclass", "--width", "150"]) == 0
    assert "\x1b[" not in sys.stdout.getvalue() and "def train_step" in sys.stdout.getvalue()


def test_a_huge_width_is_one_line_and_a_huge_terminal_is_capped(capsys, monkeypatch):
    assert cli.main(["show", "xor", "--width", "2000000"]) == 2
    err = capsys.readouterr().err
    assert err == f"lessons: error: --width must be between 40 and {show.MAX_WIDTH}, got 2000000\n"
    monkeypatch.setenv("COLUMNS", "2000000")
    out = _show(capsys, "xor")
    assert " │ " in out and max(len(line) for line in out.split("\n")) <= show.MAX_WIDTH


def test_bad_input_is_one_line_and_exit_2(capsys):
    for argv, words in ((["show", "nope"], "unknown lesson 'nope'"), (["show", "xor", "--width", "10"], "--width"),
                        (["show", "xor", "--width", "x"], "invalid int value"),
                        (["show", "xor", "--framework", "torch"], "add --exercise"),
                        (["show", "xor", "--exercise", "--framework", "numpy"], "invalid choice"),
                        (["show", "hazards", "--exercise"], "not a lesson to translate")):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("lessons: error:") and words in err, err


@pytest.mark.parametrize("framework", ["jax", "torch"])
def test_exercise_shows_the_other_twin_beside_the_starter_at_its_lines(capsys, tmp_path, framework):
    """`show xor --exercise`: each function of the other framework's twin beside its stub, labelled with
    the line `lessons exercise` writes it at; the hazards say what differs, never the fix."""
    assert cli.main(["exercise", "xor", "--framework", framework, "--out", str(tmp_path)]) == 0
    starter = (tmp_path / "xor.py").read_text().split("\n")
    capsys.readouterr()
    width = 150
    col = (width - 3) // 2
    out = _show(capsys, "xor", "--exercise", "--width", str(width), *(["--framework", framework] * (framework == "torch")))
    heads = [line for line in out.split("\n") if line.startswith("── ") and " │ " in line]
    other = "torch" if framework == "jax" else "jax"
    labels = {}
    for head in heads[1:]:
        cells = {"torch": head[:col], "jax": head[col + 3:]}
        mine = re.match(r"── (\w+)  exercises/xor\.py:(\d+) ", cells[framework])
        assert mine and cells[other].startswith(f"── {mine[1]}  {other}_impl/xor.py:"), head
        labels[mine[1]] = int(mine[2])
    assert {"train_step", "evaluate", "train", "gates"} <= labels.keys()
    for name, line in labels.items():  # the starter has the stub there: its def (or comments just above it)
        if name != "imports":
            stub = "\n".join(starter[line - 1:]).split("raise NotImplementedError")[0]
            assert f"def {name}(" in stub and stub.count("def ") == 1, (name, stub)
    assert out.count("raise NotImplementedError") == sum(p.kind == "def" for p in twins.load("xor").pairs)
    assert "  ⚠ hazard bce_clamp: torch's BCELoss" in out and not re.search(r"^ +fix: ", out, re.M)
    assert framework == "torch" or "as_torch.bce_loss" not in out  # the JAX answer is not shown
    assert re.search(r"^ +fix: as_torch.bce_loss", _show(capsys, "xor", "--width", str(width)), re.M)  # as show has it


@pytest.mark.parametrize("width", [80, show.MIN_WIDTH])
def test_show_fits_the_width_for_every_lesson_and_its_exercises(width):
    from shared.views import exercise

    for name in [s.name for s in specs.all_specs()]:
        views = [twins.load(name), *(exercise.beside(name, fw, f"exercises/{name}.py") for fw in ("jax", "torch"))]
        for i, lesson in enumerate(views):
            wide = [line for line in show.render(lesson, width, fixes=not i).split("\n") if len(line) > width]
            assert not wide, (name, i, wide[:2])


# -- pairing, generically over the file structure -----------------------------------------------------

def _files(tmp_path, torch_src: str, jax_src: str, lesson: str = "xor"):
    for fw, src in (("torch", torch_src), ("jax", jax_src)):
        (tmp_path / f"{fw}_impl").mkdir(exist_ok=True)
        (tmp_path / f"{fw}_impl" / f"{lesson}.py").write_text(src)
    return twins.load(lesson, root=tmp_path)


def test_pairs_by_name_in_order_and_a_one_sided_name_gets_a_blank_column(tmp_path, capsys):
    L = _files(tmp_path,
               '"""torch doc."""\nimport torch\n\n\ndef a():\n    pass\n\n\n@torch.no_grad()\ndef b():\n    pass\n\n\n'
               'class C:\n    pass\n',
               '"""jax doc."""\nimport jax\n\nX = 1\n\n\ndef a():\n    pass\n\n\ndef only_jax():\n    return 1\n\n\n'
               'class C:\n    pass\n')
    assert [(p.name, p.torch is not None, p.jax is not None) for p in L.pairs] == [
        ("imports", True, True), ("X", False, True), ("a", True, True), ("b", True, False),
        ("only_jax", False, True), ("C", True, True)]
    b = next(p for p in L.pairs if p.name == "b")
    assert b.torch.source.startswith("@torch.no_grad()") and b.torch.first_line == 9
    out = show.render(L, 150)
    col = (150 - 3) // 2
    rows = out.split("\n")
    i = next(k for k, r in enumerate(rows) if r.startswith("── only_jax") or r[col + 3:].startswith("── only_jax"))
    assert rows[i][:col].strip() == "" and rows[i + 1][:col].strip() == "" and "def only_jax" in rows[i + 1]
    j = next(k for k, r in enumerate(rows) if r.startswith("── b  "))
    assert rows[j][col + 3:].strip() == "" and "def b" in rows[j + 2] and rows[j + 2][col + 3:].strip() == ""


def test_markers_count_in_code_not_in_comments_and_through_imports(tmp_path):
    L = _files(tmp_path,
               "def make_optimizer(m):\n    # as_torch.adam is what the twin calls\n    return 1\n",
               '"""as_torch.rmsprop in a docstring does not count."""\nfrom jax_impl._as_torch import adam as a\n\n\n'
               "def make_optimizer(m):\n    return a(1e-3)\n\n\ndef other():\n"
               '    """as_torch.adam here neither."""\n    return 0\n')
    pairs = {p.name: p for p in L.pairs}
    assert [h.name for h in pairs["make_optimizer"].hazards] == ["adam_bias_correction"]
    assert pairs["make_optimizer"].sides == {"adam_bias_correction": ("jax",)}
    assert pairs["other"].hazards == () and pairs["imports"].hazards == ()


def test_every_real_lesson_pairs_and_names_its_hazards():
    """On the files as they are now: no file fails to parse, every pair has a name, and each hazard
    a pair carries has its marker in that pair's code."""
    for name in specs.LESSONS:
        L = twins.load(name)
        assert L.torch.error is None and L.jax.error is None, name
        assert L.pairs and all(p.name for p in L.pairs)
        for p in L.pairs:
            for h in p.hazards:
                assert any(p.side(fw) and p.side(fw).uses(h.marker) for fw in twins.SIDES)
        assert {h.name for h in L.hazards} >= {h.name for h in hazards.for_lesson(name)}


def test_a_file_that_does_not_parse_is_reported_not_raised(tmp_path):
    L = _files(tmp_path, "def a(:\n", "def a():\n    pass\n")
    assert "does not parse" in L.torch.error and L.torch.segments == ()
    out = show.render(L, 100)
    assert "does not parse (line 1" in out and "def a():" in out


def test_show_hazards_reads_the_demos_as_a_translation(capsys):
    """`lessons show hazards`: torch_impl/hazards.py beside jax_impl/hazards.py, one pair per hazard with
    the hazard's note under it; tf32's fix is the harness's precision policy, listed at the end."""
    out = _show(capsys, "hazards", "--width", "160")
    L = twins.load("hazards")
    assert L.torch.error is None and L.jax.error is None
    for h in hazards.HAZARDS:
        assert re.search(rf"^── {h.name}  torch_impl/hazards.py:\d+ .* │ ── {h.name}  jax_impl/hazards.py:\d+", out, re.M), h.name
        assert f"see it: lessons hazards --demo {h.name}" in out
    assert "tf32: on a GPU JAX runs float32 matmuls and convolutions in TF32" in out.split("Hazards handled outside")[1]
