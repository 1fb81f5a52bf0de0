"""The user's files are the user's: `lessons site`, `notebook`, `compare` (and the rest) replace or
delete only files they wrote and that were not changed since; never through a link out of --out;
a group of files is written whole or not at all, and a failure names its cause. Results records
that are not records are skipped with one warning line. No training: the runs are faked. (An
unusable --out, for every command that writes: tests/test_cli.py.)"""
from __future__ import annotations

import json
import os

import pytest

from support.disk import within
from shared import atomic, cli
from shared.harness.records import Record
from shared.outputs import MANIFEST
from shared.tools import plots

PNG = plots.png_bytes(plots.plt.subplots()[0])


def fake_records():
    return [Record("xor", "mlp", fw, "cpu", "embedded", {"accuracy": 1.0, "loss": 0.01},
                   history={"loss": [0.7, 0.3, 0.01]}, steps=3) for fw in ("torch", "jax")]


@pytest.fixture
def faked(monkeypatch):
    """`lessons run` / `compare` train nothing: each lesson's run returns fake_records()."""
    calls = []
    monkeypatch.setattr(cli, "run_lesson", lambda spec, fws, cfg: calls.append(spec.name) or fake_records())
    return calls


def never_runs(monkeypatch):
    monkeypatch.setattr(cli, "run_lesson", lambda *a: pytest.fail("a lesson ran before --out was checked"))


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lessons: error: "), err
    return err[0]


def files(root) -> dict[str, bytes]:
    """Every file below ``root`` (temporaries included), relative path -> bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def results(tmp_path):
    """A results dir with xor's records and two plots."""
    res = tmp_path / "results"
    (res / "xor").mkdir(parents=True)
    for r in fake_records():
        (res / "xor" / f"{r.framework}-cpu-embedded.json").write_text(json.dumps([r.__dict__]))
    for name in ("history.png", "parity-float64.png"):
        (res / "xor" / name).write_bytes(PNG)
    return res


def site_main(out, res, *more) -> int:
    return cli.main(["site", "--out", str(out), "--results", str(res), *more])


# -- 1. the site deletes only the plots it wrote ---------------------------------------------------

def test_site_keeps_the_users_pictures_and_deletes_only_its_own_stale_plots(tmp_path, results, capsys):
    out = tmp_path / "site"
    assert site_main(out, results) == 0
    mine = out / "img" / "xor" / "my-diagram.png"
    mine.write_bytes(b"the user's own picture")
    (results / "xor" / "parity-float64.png").unlink()           # the results no longer have this plot
    edited = out / "img" / "xor" / "history.png"
    assert site_main(out, results) == 0
    assert mine.read_bytes() == b"the user's own picture"       # never the site's to delete
    assert not (out / "img" / "xor" / "parity-float64.png").exists()   # the site's own stale copy goes
    assert edited.read_bytes() == PNG
    (results / "xor" / "history.png").unlink()
    edited.write_bytes(b"annotated by the user")                # the user changed the site's copy
    assert site_main(out, results) == 0
    assert edited.read_bytes() == b"annotated by the user"      # changed: the user's now, kept


def test_site_never_writes_or_deletes_through_a_link_out_of_out(tmp_path, results, capsys):
    out, elsewhere = tmp_path / "site", tmp_path / "my-pictures"
    elsewhere.mkdir()
    (elsewhere / "holiday.png").write_bytes(b"a photo")
    (elsewhere / "history.png").write_bytes(b"not a plot")
    (out / "img").mkdir(parents=True)
    (out / "img" / "xor").symlink_to(elsewhere)
    assert site_main(out, results) == 2
    line = one_line(capsys)
    assert f"{out / 'img' / 'xor'} is a link to {elsewhere}, outside --out {out}" in line
    assert files(elsewhere) == {"holiday.png": b"a photo", "history.png": b"not a plot"}
    assert not (out / "index.html").exists()                    # all or nothing


# -- 2. nothing of the user's is replaced without --force ------------------------------------------

@pytest.mark.parametrize("name", ["index.html", "style.css", "notebooks/xor.ipynb", "xor.html"])
def test_site_does_not_replace_a_file_it_did_not_write(tmp_path, results, capsys, name):
    out = tmp_path / "site"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("the user's")
    assert site_main(out, results) == 2
    assert one_line(capsys) == (f"lessons: error: {out / name} was not written by lessons, or was changed since; "
                                "move it away, or pass --force to replace it")
    assert files(out) == {name: b"the user's"}
    assert site_main(out, results, "--force") == 0
    assert (out / name).read_text() != "the user's"


def test_site_rebuilds_over_its_own_files_but_not_over_an_edited_one(tmp_path, results, capsys):
    out = tmp_path / "site"
    assert site_main(out, results) == 0
    assert site_main(out, results) == 0                           # its own, unchanged: replaced
    page = out / "xor.html"
    page.write_text(page.read_text().replace("</main>", "<p>my notes</p></main>"))
    assert site_main(out, results) == 2
    assert f"{page} was not written by lessons, or was changed since" in one_line(capsys)
    assert "my notes" in page.read_text()


def test_notebook_does_not_replace_an_edited_notebook(tmp_path, capsys):
    out = tmp_path / "nb"
    assert cli.main(["notebook", "xor", "--out", str(out)]) == 0
    assert cli.main(["notebook", "xor", "--out", str(out)]) == 0   # its own, unchanged
    nb = out / "xor.ipynb"
    edited = nb.read_text().replace('"cells": [', '"cells": [\n  {"cell_type": "markdown", "id": "mine", '
                                    '"metadata": {}, "source": ["my notes"]},', 1)
    nb.write_text(edited)
    capsys.readouterr()
    assert cli.main(["notebook", "xor", "--out", str(out), "--epochs", "3"]) == 2
    assert one_line(capsys) == (f"lessons: error: {nb} was not written by lessons, or was changed since; move it "
                                "away, or pass --force to replace it")
    assert nb.read_text() == edited
    assert cli.main(["notebook", "xor", "--out", str(out), "--epochs", "3", "--force"]) == 0
    assert "my notes" not in nb.read_text() and "epochs=3" in nb.read_text()


def test_compare_into_a_directory_with_the_users_report_stops_before_training(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "report.md").write_text("# my report")
    never_runs(monkeypatch)
    assert cli.main(["compare", "xor", "--out", str(home), "--no-progress"]) == 2
    assert one_line(capsys) == (f"lessons: error: {home / 'report.md'} was not written by lessons, or was changed "
                                "since; move it away, or pass --force to replace it")
    assert files(home) == {"report.md": b"# my report"}


def test_compare_replaces_its_own_results_and_the_user_may_force(tmp_path, faked, capsys):
    out = tmp_path / "out"
    for _ in range(2):
        assert cli.main(["compare", "xor", "--out", str(out), "--no-progress"]) == 0
    assert sorted(files(out)) == [MANIFEST, "report.md", "xor/history.png", "xor/jax-cpu-embedded.json",
                                  "xor/torch-cpu-embedded.json"]
    (out / "xor" / "torch-cpu-embedded.json").write_text("[]")     # edited by hand
    capsys.readouterr()
    assert cli.main(["compare", "xor", "--out", str(out), "--no-progress"]) == 2
    assert "torch-cpu-embedded.json was not written by lessons" in one_line(capsys)
    assert faked == ["xor", "xor"]                                 # refused before the lesson ran
    assert (out / "xor" / "torch-cpu-embedded.json").read_text() == "[]"
    assert cli.main(["compare", "xor", "--out", str(out), "--no-progress", "--force"]) == 0
    assert json.loads((out / "xor" / "torch-cpu-embedded.json").read_text())[0]["framework"] == "torch"


def test_a_fifo_or_link_at_the_manifest_is_not_read(tmp_path, results):
    """A FIFO where the manifest goes is not waited on (an alarm fails the test instead of hanging),
    and a manifest that is a link out of --out is replaced, not written through."""
    out = tmp_path / "site"
    out.mkdir()
    os.mkfifo(out / MANIFEST)
    with within(20):
        assert site_main(out, results) == 0
    assert (out / MANIFEST).is_file() and (out / "index.html").is_file()
    elsewhere = tmp_path / "my-notes.json"
    elsewhere.write_text('{"files": {}}')
    (out / MANIFEST).unlink()
    (out / MANIFEST).symlink_to(elsewhere)
    assert site_main(out, results) == 0
    assert elsewhere.read_text() == '{"files": {}}'                # not written through the link
    assert (out / MANIFEST).is_file() and not (out / MANIFEST).is_symlink()


# -- 3. a group of files is whole or absent, and a failure names its cause --------------------------

def test_a_directory_in_the_way_puts_back_what_the_group_had_replaced(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text("old a")
    b.mkdir()
    with pytest.raises(IsADirectoryError):
        atomic.atomic_write_group({a: b"new a", b: b"new b"})
    assert files(tmp_path) == {"a.json": b"old a"}               # no new a, no temporaries, no spares


def test_a_rename_that_fails_midway_is_rolled_back(tmp_path, monkeypatch):
    paths = [tmp_path / f"{n}.json" for n in "abc"]
    paths[0].write_text("old a")
    paths[2].write_text("old c")
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(5, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(OSError):
        atomic.atomic_write_group({p: b"new" for p in paths})
    monkeypatch.undo()
    assert files(tmp_path) == {"a.json": b"old a", "c.json": b"old c"}


def test_compare_with_a_directory_in_the_way_says_so_and_keeps_the_last_set(tmp_path, faked, capsys):
    out = tmp_path / "out"
    assert cli.main(["compare", "xor", "--out", str(out), "--no-progress"]) == 0
    before = files(out)
    (out / "xor" / "jax-cpu-embedded.json").unlink()
    (out / "xor" / "jax-cpu-embedded.json").mkdir()
    capsys.readouterr()
    assert cli.main(["compare", "xor", "--out", str(out), "--no-progress"]) == 2
    line = one_line(capsys)
    assert line == (f"lessons: error: {out / 'xor' / 'jax-cpu-embedded.json'} is a directory, where a file is "
                    "written; move it away or pass another --out")
    assert "space" not in line
    del before["xor/jax-cpu-embedded.json"]
    assert files(out) == before


def test_the_message_of_a_failed_write_names_its_cause(tmp_path, faked, capsys, monkeypatch):
    """A rename that fails after the checks (another process put a directory there meanwhile)."""
    out = tmp_path / "out"
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("history.png"):
            raise IsADirectoryError(21, "Is a directory", str(dst))
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    assert cli.main(["compare", "xor", "--out", str(out), "--no-progress"]) == 2
    assert one_line(capsys) == (f"lessons: error: cannot write {out / 'xor' / 'history.png'}: Is a directory; "
                                "move that directory away or pass another --out (nothing was half-written)")
    assert [p for p in out.rglob("*") if p.is_file() and p.name != MANIFEST] == []


# -- 7. records that are not records: skipped with one warning line --------------------------------

BAD = {
    "metrics a string": {"metrics": "high"},
    "metrics null": {"metrics": None},
    "a metric as text": {"metrics": {"accuracy": "0.9"}},
    "a 401-digit metric": {"metrics": {"accuracy": int("9" * 401)}},
    "an unknown framework": {"framework": "mxnet"},
    "train_s a string": {"train_s": "fast"},
}


@pytest.mark.parametrize("bad", BAD)
def test_site_skips_a_record_that_is_not_one_with_a_warning(tmp_path, results, capsys, bad):
    good, = [r.__dict__ for r in fake_records() if r.framework == "torch"]
    path = results / "xor" / "torch-cpu-embedded.json"
    path.write_text(json.dumps([good, {**good, "variant": "second", **BAD[bad]}]))
    out = tmp_path / "site"
    assert cli.main(["site", "--out", str(out), "--results", str(results)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lessons: warning: skipped 1 of 2 records in {path} (record 2: "), err
    assert (out / "index.html").exists()
    page = (out / "xor.html").read_text()
    assert "mlp" in page and ">second<" not in page


def test_site_with_a_file_that_is_not_json_still_has_an_index(tmp_path, results, capsys):
    (results / "xor" / "jax-cpu-embedded.json").write_text("{not json")
    out = tmp_path / "site"
    assert cli.main(["site", "--out", str(out), "--results", str(results)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lessons: warning: skipped" in err[0] and "jax-cpu-embedded.json" in err[0]
    assert (out / "index.html").exists()


# -- 12. --out and --results that overlap -----------------------------------------------------------

@pytest.mark.parametrize("results_under", ["img", "img/xor", "."])
def test_site_refuses_results_inside_the_site(tmp_path, results, capsys, results_under):
    out = tmp_path / "site"
    assert site_main(out, results) == 0
    before = files(out)
    capsys.readouterr()
    assert site_main(out, out / results_under) == 2
    line = one_line(capsys)
    assert "--results" in line and "--out" in line
    assert files(out) == before


def test_site_refuses_a_site_inside_the_results(tmp_path, results, capsys):
    assert site_main(results / "site", results) == 2
    assert one_line(capsys).startswith("lessons: error: --out is inside --results")
    assert not (results / "site").exists()
