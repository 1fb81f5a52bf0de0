"""The `lessons` command: listing, a real run, and one-line errors with exit code 2."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.disk import disk_full_under, readonly_dir
from shared import atomic, cli, specs
from shared.tools import bench, results
from shared.harness.config import RunConfig
from shared.data import DataSource
from shared.errors import DataError, DivergenceError, LessonError
from shared.harness.records import Record, machine_info
from shared.outputs import MANIFEST


def lessons(*args, **kw):
    """`lessons ARGS` in a subprocess, its output piped: full-width tables. The environment is passed
    explicitly: GNU readline, once loaded in this process, puts COLUMNS in the C environment a child
    inherits (not in os.environ), which would size the child's tables."""
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], capture_output=True, text=True,
                          env=kw.pop("env", dict(os.environ)), **kw)


def test_list_names_every_lesson():
    out = lessons("list").stdout
    assert out.splitlines()[0].split() == ["lesson", "what", "it", "teaches"]
    assert [line.split()[0] for line in out.splitlines()[2:]] == list(specs.LESSONS)


@pytest.mark.parametrize("args,words", [
    (["run", "no_such_lesson"], "unknown lesson"),
    (["run", "xor", "--framework", "mxnet"], "invalid choice"),
    (["run", "xor", "--device", "tpu"], "invalid choice"),
    (["compare"], "name a lesson or pass --all"),
    (["compare", "xor", "--all"], "not both"),
    (["run", "xor", "--epochs", "0"], "at least 1"),
    (["run", "xor", "--epochs", "1000000000000"], "--epochs must be at most 100,000, got 1000000000000"),
    (["run", "batchnorm", "--seed", "-1"], "--seed must be between 0 and 4294967295"),
    (["run", "xor", "--seed", "-1"], "--seed must be between 0 and 4294967295"),
    (["run", "poly_fit", "--seed", "99999999999999999999"], "--seed must be between 0 and 4294967295"),
    (["run", "xor", "--seed", "4294967296"], "(what both torch and JAX accept), got 4294967296"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(args, words):
    result = lessons(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_gpu_request_without_gpu_is_one_line_and_exit_2(no_gpu):
    result = lessons("run", "xor", "--device", "gpu", "--no-progress")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("lessons: error: --device gpu:")


def test_divergence_is_reported_as_one_line(monkeypatch, capsys):
    def diverging_run(spec, framework, cfg):
        raise DivergenceError(spec.name, framework, 7, float("nan"))

    monkeypatch.setattr(cli.runner, "run", diverging_run)
    assert cli.main(["run", "xor", "--framework", "torch", "--no-progress"]) == 2
    assert "diverged: loss became nan at step 7" in capsys.readouterr().err


def test_compare_writes_json_and_plot_and_prints_table(tmp_path):
    result = lessons("compare", "xor", "--epochs", "30", "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("mlp ") and "accuracy" in line for line in result.stdout.splitlines())
    assert "torch" in result.stdout and "Times: one run each" in result.stdout
    for fw in ("torch", "jax"):
        records = json.loads((tmp_path / "xor" / f"{fw}-cpu-embedded.json").read_text())
        mlp = next(r for r in records if r["variant"] == "mlp")
        assert mlp["steps"] == 30 and len(mlp["history"]["loss"]) == 30
        assert mlp["framework"] == fw and mlp["versions"]
    png = (tmp_path / "xor" / "history.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_each_implementation_module_runs_on_its_own(tmp_path, framework):
    result = subprocess.run([sys.executable, "-m", f"{framework}_impl.xor", "--epochs", "5", "--out", str(tmp_path),
                             "--no-progress"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xor" / f"{framework}-cpu-embedded.json").exists()


def test_parity_command_summarises_and_plots(tmp_path):
    result = lessons("parity", "xor", "--dtype", "float64", "--steps", "200", "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("mlp "))
    assert "within 1e-09 at every step" in row  # 200 steps stay on the plateau: float64 agrees
    assert "0.weight" in result.stdout
    assert (tmp_path / "xor" / "parity-float64.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_writes_report_md(tmp_path):
    result = lessons("compare", "xor", "--epochs", "20", "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "report.md").read_text()
    assert "| xor | mlp | accuracy |" in report and "![history](xor/history.png)" in report


# --- settings reach the data source, and its errors are one line ------------------------------------

def test_full_data_offline_without_files_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path, loads_mnist):
    """--data full with nothing cached or local and every mirror unreachable (a closed local port)."""
    from shared.data import idx

    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TJL_MIRROR", raising=False)
    monkeypatch.delenv("TJL_LOCAL_DATA", raising=False)
    offline = {k: idx.IdxSet(s.name, s.files, ("http://127.0.0.1:9/",), ()) for k, s in idx.SETS.items()}
    monkeypatch.setattr(idx, "SETS", offline)
    assert cli.main(["run", "gd_vs_sgd", "--framework", "torch", "--data", "full", "--no-progress",
                     "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lessons: error: mnist: no valid train-images")
    assert "--mirror" in err[0] and list(tmp_path.iterdir()) == []


def config(*args):
    return cli._config(cli.parser().parse_args(["run", "xor", *args]))


def test_options_become_the_data_source(monkeypatch):
    monkeypatch.delenv("TJL_NO_LOCAL_DATA", raising=False)
    assert config().source() == DataSource("embedded", mirror=None, local=True, progress=True)
    assert config("--data", "full", "--mirror", "http://m/", "--no-local-data", "--no-progress").source() == \
        DataSource("full", mirror="http://m/", local=False, progress=False)
    monkeypatch.setenv("TJL_NO_LOCAL_DATA", "1")
    assert config().source().local is False
    monkeypatch.setenv("TJL_NO_LOCAL_DATA", "0")
    assert config().source().local is True


def test_unusable_data_dir_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path, loads_mnist):
    (tmp_path / "cache").write_text("a regular file")
    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path / "cache"))
    assert cli.main(["run", "gd_vs_sgd", "--no-progress", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lessons: error: the data cache is unusable ({tmp_path / 'cache'} is not a directory); set "
                   "TJL_DATA_DIR to a writable directory with free space"]


# --- --out: checked before anything runs; written all or nothing ------------------------------------

def never_runs(monkeypatch):
    monkeypatch.setattr(cli, "run_lesson", lambda *a: pytest.fail("a lesson ran before --out was checked"))


@pytest.mark.parametrize("command", [["compare", "xor", "--no-progress"], ["site"], ["notebook", "xor"]])
@pytest.mark.parametrize("kind", ["regular_file", "under_a_regular_file", "readonly_dir"])
def test_unusable_out_is_one_line_before_training(monkeypatch, capsys, tmp_path, kind, command):
    """compare, site and notebook check --out before they train or build anything."""
    from shared.views import twins

    never_runs(monkeypatch)
    monkeypatch.setattr(twins, "load", lambda *a: pytest.fail("a page or notebook was built before --out was checked"))
    (tmp_path / "file").write_text("x")
    if kind == "readonly_dir":
        bad = readonly_dir(tmp_path)
        out = bad / "tjl-out"
    else:
        bad = tmp_path / "file"
        out = bad if kind == "regular_file" else bad / "out"
    assert cli.main([*command, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    why = "is not writable (Permission denied)" if kind == "readonly_dir" else "is not a directory"
    assert err == [f"lessons: error: --out {out}: {bad} {why}; name a directory you can write to"]


def fake_records():
    return [Record("xor", "mlp", fw, "cpu", "embedded", {"accuracy": 1.0, "loss": 0.01},
                   history={"loss": [0.7, 0.3, 0.01]}, steps=3) for fw in ("torch", "jax")]


def test_full_disk_leaves_no_half_written_outputs(monkeypatch, capsys, tmp_path):
    out = tmp_path / "out"
    monkeypatch.setattr(cli, "run_lesson", lambda spec, fws, cfg: fake_records())
    assert cli.main(["compare", "xor", "--out", str(out), "--no-progress"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {p.name for p in before} == {"torch-cpu-embedded.json", "jax-cpu-embedded.json", "history.png",
                                        "report.md", MANIFEST}
    capsys.readouterr()
    disk_full_under(monkeypatch, out)
    monkeypatch.setattr(cli, "run_lesson", lambda spec, fws, cfg: fake_records()[:1])
    assert cli.main(["compare", "xor", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lessons: error: cannot write into {out}: No space left on device; free some space or pass "
                   "another --out (nothing was half-written)"]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before   # the last good set, whole


def test_outputs_respect_the_umask(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "run_lesson", lambda spec, fws, cfg: fake_records())
    old = os.umask(0o027)
    try:
        assert cli.main(["compare", "xor", "--out", str(tmp_path), "--no-progress"]) == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.rglob("*") if p.is_file()}
    assert set(modes.values()) == {0o640}, modes


def test_plots_use_unique_temporary_names(monkeypatch, tmp_path):
    """Two runs writing one plot never share a temporary file (no fixed .history.png.tmp.png)."""
    from shared.tools import plots

    temps, real = [], os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda src, dst: (temps.append(str(src)), real(src, dst))[1])
    for _ in range(2):
        fig, _ax = plots.plt.subplots()
        plots.save(fig, tmp_path / "xor" / "history.png")
    assert len(set(temps)) == 2 and all(t.endswith(".tmp") and "/.history.png." in t for t in temps), temps
    assert plots.plot_lesson(specs.get("xor"), fake_records(), tmp_path) == [tmp_path / "xor" / "history.png"]
    assert sorted(p.name for p in (tmp_path / "xor").iterdir()) == ["history.png"]


# --- seeds: checked once, against what both frameworks accept ----------------------------------------

def test_seed_range_is_what_both_frameworks_accept():
    """The bounds RunConfig allows are seeds torch, JAX (and Flax NNX) and numpy all take."""
    import jax
    import numpy as np
    import torch
    from flax import nnx

    from shared.harness.config import SEED_LIMIT

    for seed in (0, SEED_LIMIT - 1):
        RunConfig(seed=seed)
        torch.manual_seed(seed)
        jax.random.key(seed)
        nnx.Rngs(seed)
        np.random.default_rng(seed)
        np.random.seed(seed)
    for seed in (-1, SEED_LIMIT):
        with pytest.raises(LessonError, match="--seed must be between 0 and 4294967295"):
            RunConfig(seed=seed)
    with pytest.raises(ValueError):
        np.random.seed(SEED_LIMIT)             # why the limit is 2**32: numpy's legacy seeding stops there


# --- compare --all: a skipped lesson is not a success unless asked for -------------------------------

@pytest.mark.parametrize("skip_missing", [False, True])
def test_compare_all_with_a_skipped_lesson_exits_1_unless_skip_missing(monkeypatch, capsys, tmp_path, skip_missing):
    def run_lesson(spec, fws, cfg):
        if spec.name == "quickstart":
            raise DataError("fashion_mnist: no valid train-images-idx3-ubyte.gz (...)")
        return []

    monkeypatch.setattr(cli, "run_lesson", run_lesson)
    args = ["compare", "--all", "--out", str(tmp_path), "--no-progress"] + (["--skip-missing"] if skip_missing else [])
    code = cli.main(args)
    out, err = capsys.readouterr()
    n = len(specs.LESSONS)
    if skip_missing:
        assert code == 0
        assert out.strip().splitlines()[-1] == f"{n - 1} of {n} lessons ran, skipped: quickstart (accepted: --skip-missing)"
    else:
        assert code == 1
        assert err.strip().splitlines()[-1] == (f"lessons: {n - 1} of {n} lessons ran, skipped: quickstart; exit 1 "
                                                "(pass --skip-missing to accept that)")
    assert (tmp_path / "report.md").exists()


def test_bench_honours_epochs():
    spec = next(s for s in specs.all_specs() if s.bench)
    assert bench.bench_config(spec, RunConfig()).epochs == spec.bench.epochs
    assert bench.bench_config(spec, RunConfig(epochs=3)).epochs == 3


def test_records_note_the_machine(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    info = machine_info()
    assert info["cpu"] and info["cpu_count"] == os.cpu_count() and info["omp_num_threads"] == "1"
    assert fake_records()[0].machine == info


@pytest.mark.parametrize("lesson,variant,torch_acc,jax_acc,ok", [
    ("batchnorm", "plain", 0.931, 0.889, True),    # gap 0.042: one seed's noise, the tolerance is on seed means
    ("batchnorm", "plain", 0.931, 0.849, False),   # below the target
    ("multiclass", "mlp", 0.990, 0.975, False),    # a one-run tolerance (0.01) is judged on the run
    ("multiclass", "mlp", 0.990, 0.985, True),
])
def test_compare_verdict_judges_a_seed_mean_tolerance_only_over_seeds(lesson, variant, torch_acc, jax_acc, ok):
    spec = specs.get(lesson)
    recs = [Record(lesson, variant, fw, "cpu", "embedded", {"test_accuracy": acc})
            for fw, acc in (("torch", torch_acc), ("jax", jax_acc))]
    (row,) = results.comparison_rows(recs, {lesson: spec})
    assert row["ok"] is ok
    (cells,) = results.comparison_cells(recs, {lesson: spec})[1]
    tol = spec.targets[variant].framework_tol
    want = (f"|Δ mean over seeds 0-5|<={tol:g}" if spec.targets[variant].tol_seeds else f"|Δ|<={tol:g}")
    assert cells[6].endswith(want), cells[6]


def test_parity_with_an_empty_hazard_name_is_an_unknown_hazard(monkeypatch, capsys, tmp_path):
    from shared.tools import parity

    monkeypatch.setattr(parity, "run_variant", lambda *a, **k: pytest.fail("parity ran without the hazard"))
    assert cli.main(["parity", "xor", "--hazard", "", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("lessons: error: unknown hazard ''; choose one of: "), err


def test_parity_of_a_stochastic_lesson_compares_bands_over_the_targets_seeds(monkeypatch, capsys, tmp_path):
    spec = specs.get("dropout")
    seen = []

    def run(spec, fw, cfg):
        seen.append((fw, cfg.seed))
        acc = 0.93 + 0.01 * cfg.seed + (0.005 if fw == "jax" else 0.0)
        return [Record(spec.name, "dropout", fw, "cpu", "embedded", {"test_accuracy": acc})]

    monkeypatch.setattr(cli.runner, "run", run)
    assert cli.main(["parity", "dropout", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    seeds = spec.targets["dropout"].tol_seeds
    assert sorted(seen) == sorted((fw, s) for fw in ("torch", "jax") for s in seeds)
    assert f"over seeds {list(seeds)}" in out
    (row,) = [line for line in out.splitlines() if line.startswith("dropout")]
    assert row.split()[1:] == ["0.9400", "±", "0.0082", "0.9450", "±", "0.0082", "0.0050", "yes"]


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_lessons_run_runs_the_train_the_file_shows(tmp_path, framework):
    """A copy of the project whose xor train() raises: `lessons run` fails in that train() (it runs
    what the file shows), while `--loop fast` (the harness's loop over train_step) succeeds."""
    root = Path(cli.__file__).resolve().parents[1]
    for package in ("shared", "torch_impl", "jax_impl"):
        shutil.copytree(root / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    lesson = tmp_path / f"{framework}_impl" / "xor.py"
    head = "def train(model, optimizer, data, hp, *, seed, epochs):\n"
    lesson.write_text(lesson.read_text().replace(head, head + "    raise RuntimeError('the edited train() ran')\n"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = lambda *extra: subprocess.run(
        [sys.executable, "-m", "shared.cli", "run", "xor", "--framework", framework, "--epochs", "5", "--no-progress",
         "--out", str(tmp_path / "out"), *extra], capture_output=True, text=True, cwd=tmp_path, env=env)
    edited = run()
    assert edited.returncode == 1 and "RuntimeError: the edited train() ran" in edited.stderr, edited.stderr
    fast = run("--loop", "fast")
    assert fast.returncode == 0, fast.stderr
    assert "Trained with the harness's fast path" in fast.stdout
