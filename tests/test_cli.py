"""The `lessons` command: listing, a real run, and one-line errors with exit code 2."""
import json
import subprocess
import sys

import pytest

from shared import cli, specs
from shared.errors import DivergenceError


def lessons(*args, **kw):
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], capture_output=True, text=True, **kw)


def test_list_names_every_lesson():
    out = lessons("list").stdout
    assert [line.split()[0] for line in out.splitlines()] == list(specs.LESSONS)


@pytest.mark.parametrize("args,words", [
    (["run", "no_such_lesson"], "unknown lesson"),
    (["run", "xor", "--framework", "mxnet"], "invalid choice"),
    (["run", "xor", "--device", "tpu"], "invalid choice"),
    (["compare"], "name a lesson or pass --all"),
    (["compare", "xor", "--all"], "not both"),
    (["run", "xor", "--epochs", "0"], "at least 1"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(args, words):
    result = lessons(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_gpu_request_without_gpu_is_one_line_and_exit_2():
    from conftest import gpu_reason

    if gpu_reason() is None:
        pytest.skip("a GPU is visible here")
    result = lessons("run", "xor", "--device", "gpu", "--no-progress")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("lessons: error: --device gpu:")


def test_divergence_is_reported_as_one_line(monkeypatch, capsys):
    def diverging_run(spec, cfg):
        raise DivergenceError(spec.name, "torch", 7, float("nan"))

    monkeypatch.setattr(cli.implementation("torch", "xor"), "run", diverging_run)
    assert cli.main(["run", "xor", "--framework", "torch", "--no-progress"]) == 2
    assert "diverged: loss became nan at step 7" in capsys.readouterr().err


def test_compare_writes_json_and_plot_and_prints_table(tmp_path):
    result = lessons("compare", "xor", "--epochs", "30", "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "xor     mlp" in result.stdout and "torch" in result.stdout
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
    assert "fc1.weight" in result.stdout
    assert (tmp_path / "xor" / "parity-float64.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_writes_report_md(tmp_path):
    result = lessons("compare", "xor", "--epochs", "20", "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "report.md").read_text()
    assert "| xor | mlp | accuracy |" in report and "![history](xor/history.png)" in report


def test_full_data_offline_without_files_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    """--data full with nothing cached or local and every mirror unreachable (a closed local port)."""
    from shared.data import idx

    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TJL_MIRROR", raising=False)
    monkeypatch.delenv("TJL_LOCAL_DATA", raising=False)
    offline = {k: idx.IdxSet(s.name, s.files, ("http://127.0.0.1:9/",), ()) for k, s in idx.SETS.items()}
    monkeypatch.setattr(idx, "SETS", offline)
    assert cli.main(["run", "gd_vs_sgd", "--framework", "torch", "--data", "full", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lessons: error: mnist: no valid train-images")
    assert "--mirror" in err[0] and list(tmp_path.iterdir()) == []
