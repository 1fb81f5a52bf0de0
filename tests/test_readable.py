"""Output a person can read: tables that fit the terminal (and keep everything in a pipe), the
demo's short summary with report.md holding the detail, "not judged" under overridden settings,
settings as words (no dict repr), the course's Korean quoted with its English, and the plots'
captions."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from shared import cli, specs, terminal
from shared.harness.config import RunConfig
from shared.harness.records import Record
from shared.specs import course
from shared.specs.base import Quote, readable
from shared.tools import bench, hazards, parity, plots, results, summary
from shared.views import notebook

ROOT = Path(__file__).resolve().parents[1]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def lines_of(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def widest(text: str) -> int:
    return max(len(line) for line in lines_of(text))


def fake_records(overrides: dict | None = None) -> list[Record]:
    """Each lesson's variants in both frameworks, each meeting its target (no training)."""
    out = []
    for spec in specs.all_specs():
        for variant, t in spec.targets.items():
            value = t.approx if t.approx is not None else (t.at_least if t.at_least is not None else 1.0)
            for fw in ("torch", "jax"):
                metrics = {"loss": 0.1, **{d: 0.1 for d in spec.details}, t.metric: value}
                out.append(Record(spec.name, variant, fw, "cpu", "embedded", metrics,
                                  history={"loss": [0.5, 0.2, 0.1]}, steps=3, train_s=0.5, compile_s=0.2,
                                  overrides=dict(overrides or {}), extras={"start": f"{fw}-{variant}"}))
    return out


def fake_run(overrides: dict | None = None):
    records = fake_records(overrides)
    return lambda spec, fws, cfg: [r for r in records if r.lesson == spec.name and r.framework in fws]


# -- format_table ------------------------------------------------------------------------------------

HAZARD_HEADERS = ["hazard", "lessons", "what differs", "what the JAX twin does"]
HAZARD_ROWS = [[h.name, ", ".join(h.lessons), h.differs, h.fix] for h in hazards.HAZARDS]


def folded(word: str, text: str) -> bool:
    """Whether ``word`` is in ``text`` as pieces of at least 4 characters (the last may be shorter),
    each piece the longest prefix of what is left that ``text`` holds: a word folded over lines."""
    while word:
        n = next((k for k in range(len(word), 0, -1) if word[:k] in text), 0)
        if n == 0 or (n < 4 and n < len(word)):
            return False
        word = word[n:]
    return True


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160])
def test_a_table_fits_the_width_and_keeps_every_word(width):
    text = results.format_table(HAZARD_HEADERS, HAZARD_ROWS, width=width)
    assert widest(text) <= width
    words = " ".join(text.split())
    for row in HAZARD_ROWS:
        for cell in row:
            for word in cell.split():
                # a word wider than its column is folded: its pieces are there, none cut short
                assert word in words or folded(word, text), word


def test_without_a_terminal_the_table_is_whole_one_line_per_row(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert terminal.width() is None   # pytest's stdout is not a terminal
    text = results.format_table(HAZARD_HEADERS, HAZARD_ROWS)
    rows = lines_of(text)[2:]
    assert len(rows) == len(HAZARD_ROWS) and widest(text) > 160
    for line, row in zip(rows, HAZARD_ROWS):
        assert line.split("  ")[0] == row[0] and line.rstrip().endswith(row[-1])


def test_low_value_columns_go_first_and_the_table_says_so():
    headers, rows = ["name", "value", "detail"], [["alpha", "1.0", "a long remark " * 4], ["beta", "2.0", "x"]]
    wide = results.format_table(headers, rows, priority=[0, 0, 1], width=120)
    assert "detail" in wide and "left out" not in wide
    squeezed = results.format_table(headers, rows, priority=[0, 0, 1], width=30)   # detail wraps, kept
    assert "detail" in lines_of(squeezed)[0] and "left out" not in squeezed and widest(squeezed) <= 30
    narrow = results.format_table(headers, rows, priority=[0, 0, 1], width=20)
    assert "detail" not in lines_of(narrow)[0] and "a long remark" not in narrow
    assert lines_of(narrow)[-2:] == ["(left out to fit 20", "columns: detail)"]
    assert widest(narrow) <= 20


def test_too_narrow_for_the_columns_each_row_becomes_a_block():
    text = results.format_table(HAZARD_HEADERS, HAZARD_ROWS, width=80)
    lines = lines_of(text)
    assert lines[0] == "init" and lines[1].startswith("  lessons ") and "datasets" in lines[1]
    assert "rmsprop_defaults" in lines and widest(text) <= 80


def test_cells_are_text_never_markup():
    text = results.format_table(["model", "note"], [["[BatchNorm1d(32)]", "[bold]x[/bold] :smile:"]], width=80)
    assert "[BatchNorm1d(32)]" in text and "[bold]x[/bold] :smile:" in text


# -- settings as words --------------------------------------------------------------------------------

def test_settings_read_as_words():
    assert readable({"numpy": 1e-06, "tensors": 1e-06, "legendre": 5e-06, "optim": "RMSprop(lr=1e-3)"}) == \
        "numpy 1e-6, tensors 1e-6, legendre 5e-6, optim RMSprop(lr=1e-3)"
    assert readable(("bn", "dropout", "plain")) == "(bn, dropout, plain)"
    assert readable({"gd": {"epochs": 700}, "seed": None}) == "gd (epochs 700), seed none"


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_no_dict_repr_in_any_settings_table(lesson):
    spec = specs.get(lesson)
    cells = [c for rows in (spec.course_rows(), notebook.hp_rows(spec), notebook.target_rows(spec))
             for row in rows for c in row]
    assert not [c for c in cells if "{'" in c or "{\"" in c]


def _strings(value):
    if isinstance(value, Quote):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) or hasattr(value, "items"):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize("lesson", specs.LESSONS)
def test_korean_in_a_spec_is_a_quote_with_its_english(lesson):
    spec = specs.get(lesson)
    assert not [s for s in _strings(dict(spec.course)) if HANGUL.search(s)]   # only inside a Quote
    for row in spec.course_rows():
        for cell in row:
            if HANGUL.search(cell):
                assert "(in English: “" in cell and not HANGUL.search(cell.split("(in English:")[1])


def _course_dir() -> Path | None:
    for d in (os.environ.get("TJL_COURSE_NOTES"), ROOT.parent / "shared" / "course", ROOT.parents[1] / "shared" / "course"):
        if d and Path(d).is_dir():
            return Path(d)
    return None


def test_every_quotation_is_the_notes_own_words():
    found = _course_dir()
    if found is None:
        pytest.skip("the course notes are not on this machine (set TJL_COURSE_NOTES to their folder)")
    for note in course.NOTES:
        (text_file,) = found.glob(f"{note.id}_*.txt")
        text = text_file.read_bytes().decode("utf-8", "replace")
        for q in note.quotes:
            assert q.original in text, (note.id, q.original)
            assert q.english and not HANGUL.search(q.english)
    assert {n for note in course.NOTES for n in note.lessons} == {s.name for s in specs.all_specs() if not s.beyond_course}
    for spec in specs.all_specs():
        if spec.course:
            assert {n.id for n in course.NOTES if spec.name in n.lessons} == set(course.note_ids(spec.course["note"]))


# -- every command at 80 columns ----------------------------------------------------------------------

def run_at(capsys, monkeypatch, columns: int, *argv) -> tuple[int, str]:
    """`lessons ARGV` in a terminal ``columns`` wide; its outputs go to out/ in the test's directory
    (call monkeypatch.chdir first), a path as short as a user's."""
    monkeypatch.setenv("COLUMNS", str(columns))
    code = cli.main([*argv, "--out", "out"] if argv[0] in ("compare", "run", "parity", "bench") else list(argv))
    return code, capsys.readouterr().out


def test_list_and_hazards_fit_80_columns(capsys, monkeypatch):
    for argv in (["list"], ["hazards"]):
        code, out = run_at(capsys, monkeypatch, 80, *argv)
        assert code == 0 and widest(out) <= 80, argv
    assert all(name in out for name in (h.name for h in hazards.HAZARDS))


def test_a_hazard_demo_fits_80_columns(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, out = run_at(capsys, monkeypatch, 80, "hazards", "--demo", "nchw_flatten", "--no-cost", "--out", "out")
    assert code == 0 and widest(out) <= 80 and "verdict: bites" in out, out


def test_compare_and_parity_fit_80_columns(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, out = run_at(capsys, monkeypatch, 80, "compare", "xor", "--epochs", "30", "--no-progress")
    assert code == 0 and widest(out) <= 80 and "mlp" in out
    code, out = run_at(capsys, monkeypatch, 80, "compare", "xor", "--epochs", "30", "-v", "--no-progress")
    assert code == 0 and widest(out) <= 80 and "The course (note 003" in out and "{'" not in out
    code, out = run_at(capsys, monkeypatch, 80, "parity", "xor", "--steps", "30", "--no-progress")
    assert code == 0 and widest(out) <= 80 and "mlp" in out and "notes: " in out


def test_bench_tables_fit_80_columns(capsys, monkeypatch, tmp_path):
    """bench's tables with its longest names (the runs replaced: bench's own numbers are for `lessons bench`)."""
    row = dict(compile_s=0.98, train_s=1.841, runs=[1.8, 1.841, 1.9], steps=1875, samples=60000, floor_s=0.069,
               own_s=7.21)
    rows = [bench.BenchRow(n, v, fw, **row) for n, v in (("softmax_regression", "mnist"), ("batchnorm", "bn+dropout+plain"))
            for fw in ("torch", "jax")]
    workers = [{"framework": fw, "variant": "explicit", "workers": k, "steps": 40, "samples": 10240, "compile_s": 0.5,
                "train_s": 0.2, "runs": [0.2], "allreduce_s": 1e-4} for fw in ("torch", "jax") for k in (1, 2, 4)]
    monkeypatch.setattr(cli.runner, "matmul_rate", lambda fw, cfg: 4e11)
    monkeypatch.setattr(cli.bench, "measure", lambda spec, cfg, rate, repeats: [r for r in rows if r.lesson == spec.name])
    monkeypatch.setattr(cli.bench, "measure_workers", lambda spec, cfg, repeats: workers)
    monkeypatch.chdir(tmp_path)
    code, out = run_at(capsys, monkeypatch, 80, "bench", "--all")
    assert code == 0 and widest(out) <= 80
    assert "bn+dropout+plain" in out and "train()/fast" in out and "x 1 worker" in out


def test_a_real_terminal_sets_the_width_and_a_pipe_keeps_the_whole_table(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}   # explicit: see test_cli.lessons
    piped = subprocess.run([sys.executable, "-m", "shared.cli", "hazards"], capture_output=True, text=True, env=env)
    assert widest(piped.stdout) > 160   # a file gets each row on one line
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "shared.cli", "hazards"], stdin=follower, stdout=follower,
                            stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    out = b"".join(chunks).decode().replace("\r\n", "\n")
    assert "init" in out and widest(out) <= 80


# -- the demo: a line per lesson, one table, where the rest is -----------------------------------------

def test_the_demo_summary_is_short_fits_80_columns_and_says_where_the_rest_is(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run_lesson", fake_run())
    code, out = run_at(capsys, monkeypatch, 80, "compare", "--all", "--no-progress")
    lines = lines_of(out)
    assert code == 0 and widest(out) <= 80 and len(lines) <= 66, out   # about 60: 12 lessons, 36 variants
    for name in specs.LESSONS:   # one progress line per lesson, first
        assert sum(line.startswith(f"{name} ") for line in lines) == 1, name
    assert [line.split()[0] for line in lines[:len(specs.LESSONS)]] == list(specs.LESSONS)
    assert "NO" not in out.split() and "{'" not in out
    assert "Full report: out/report.md" in out
    assert "one run" in out and "lessons bench" in out
    report = (tmp_path / "out" / "report.md").read_text()
    for spec in specs.all_specs():   # the detail is in report.md
        assert f"(`{spec.name}`)" in report
        if spec.course:
            assert f"The course (note {spec.course['note']})" in report
    assert "Each framework's run:" in report and "| steps/s |" in report.replace("steps/s |", "steps/s |")


def test_verbose_prints_each_lessons_detail(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run_lesson", fake_run())
    code, out = run_at(capsys, monkeypatch, 80, "compare", "--all", "-v", "--no-progress")
    assert code == 0 and widest(out) <= 80 and "{'" not in out
    for spec in specs.all_specs():
        assert spec.title.split(":")[0] in out.replace("\n", " ")
    assert "why ours differs" in out and "steps/s" in out


def test_overridden_settings_are_not_judged(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run_lesson", fake_run({"epochs": 1}))
    code, out = run_at(capsys, monkeypatch, 80, "compare", "--all", "--no-progress")
    assert code == 0 and widest(out) <= 80
    assert "NO" not in out.split() and out.count("not judged (--epochs 1)") >= 27
    assert lines_of(out)[-1].startswith("Targets not judged: --epochs 1") or \
        " ".join(lines_of(out)[-2:]).startswith("Targets not judged: --epochs 1")
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| not judged (--epochs 1) |" in report and "| NO |" not in report


def test_a_set_override_is_named_too():
    recs = [r for r in fake_records({"lr": 0.1}) if r.lesson == "xor"]
    (cells,) = [row for row in results.comparison_cells(recs, {"xor": specs.get("xor")})[1] if row[1] == "mlp"]
    assert cells[7] == "not judged (--set lr=0.1)"
    rows = results.comparison_rows(recs, {"xor": specs.get("xor")})
    assert all(r["ok"] is None for r in rows) and summary.verdict(rows) == "not judged (--set lr=0.1)"


@pytest.mark.slow
def test_compare_all_with_epochs_1_judges_nothing_and_fits(tmp_path):
    """The issue's run: `lessons compare --all --epochs 1` at 80 columns, for real."""
    env = {**os.environ, "COLUMNS": "80"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    result = subprocess.run([sys.executable, "-m", "shared.cli", "compare", "--all", "--epochs", "1", "--out", "out",
                             "--no-progress"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert widest(out) <= 80 and len(lines_of(out)) <= 70, out   # about 60, with the not-judged lines
    assert "NO" not in out.split() and "not judged (--epochs 1)" in out
    assert "Targets not judged: --epochs 1" in " ".join(lines_of(out)[-3:])
    recs = {r["variant"]: r for r in json.loads((tmp_path / "out" / "xor" / "torch-cpu-embedded.json").read_text())}
    assert recs["mlp"]["overrides"] == {"epochs": 1} and recs["gates"]["overrides"] == {}   # gates train nothing
    assert any(line.strip().startswith("gates") and line.rstrip().endswith("yes") for line in lines_of(out))


# -- plots ---------------------------------------------------------------------------------------------

def test_start_note_says_when_the_frameworks_start_apart():
    apart = [Record("xor", "mlp", fw, "cpu", "embedded", {}, extras={"start": fw}) for fw in ("torch", "jax")]
    assert "different random weights" in results.start_note(apart) and "lessons parity xor" in results.start_note(apart)
    same = [Record("poly_fit", "nn", fw, "cpu", "embedded", {}, extras={"start": "s"}) for fw in ("torch", "jax")]
    assert "the same weights" in results.start_note(same)
    assert results.start_note([Record("xor", "mlp", "torch", "cpu", "embedded", {})]) == ""


def test_records_say_whether_the_frameworks_started_from_the_same_weights(runs):
    cfg = RunConfig(progress=False, epochs=1)
    xor = runs.both(specs.get("xor"), cfg)
    assert xor["torch"]["mlp"].extras["start"] != xor["jax"]["mlp"].extras["start"]   # each draws its own
    fit = runs.both(specs.get("poly_fit"), cfg)
    assert fit["torch"]["nn"].extras["start"] == fit["jax"]["nn"].extras["start"]     # one numpy draw for both


def test_history_plot_is_phone_sized_with_its_caption():
    from PIL import Image
    import io

    recs = [r for r in fake_records() if r.lesson == "xor"]
    png = plots.history_png(recs, "xor")
    image = Image.open(io.BytesIO(png))
    assert image.width == plots.WIDTH_IN * plots.DPI >= 390


def test_parity_plot_marks_exact_zero_steps(monkeypatch):
    import numpy as np

    figures = []
    monkeypatch.setattr(plots, "png_bytes", lambda fig, tight=True: figures.append(fig) or b"")
    rel = np.array([0.0, 0.0, 1e-7, 2e-7, 0.0])
    parity.plot_png([parity.ParityResult("mlp", "float32", rel, np.full(5, 1e-7))], "xor")
    (ax,) = figures[0].axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "mlp: exactly equal (3 of 5 steps)" in labels
    assert min(line.get_ydata()[np.isfinite(line.get_ydata())].min() for line in ax.get_lines()[:1]) >= 1e-7
