"""bootstrap.py: a usage error, too little disk and a failed install each give one line and exit 2,
and a failed install leaves no half-made environment behind."""
import importlib.util
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def bootstrap(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bootstrap_under_test", ROOT / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ENVS", {False: (tmp_path / ".venv", "constraints.txt"),
                                         True: (tmp_path / ".venv-lower", "constraints-lower.txt")})
    return module


def test_usage_error_is_one_line_and_exit_2():
    out = subprocess.run([sys.executable, str(ROOT / "bootstrap.py"), "build"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == "usage: python3 bootstrap.py demo|test [--lower] [extra args]"


def test_too_little_disk_says_how_much_is_needed(bootstrap, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bootstrap.shutil, "disk_usage", lambda path: Usage(100e9, 99e9, 1.2e9))
    assert bootstrap.main(["test", "--lower"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert ".venv-lower needs about 7 GB free" in err and "has 1.2 GB" in err
    assert not (tmp_path / ".venv-lower").exists()


def test_failed_install_removes_the_environment_it_made(bootstrap, tmp_path, monkeypatch, capsys):
    class FakeBuilder:  # a venv with a python, without the minutes pip takes
        def __init__(self, **kw):
            pass

        def create(self, env):
            (Path(env) / "bin").mkdir(parents=True)
            (Path(env) / "bin" / "python").touch()

    monkeypatch.setattr(bootstrap.venv, "EnvBuilder", FakeBuilder)
    monkeypatch.setattr(bootstrap.shutil, "disk_usage", lambda path: Usage(100e9, 10e9, 90e9))
    monkeypatch.setattr(bootstrap.subprocess, "run", lambda *a, **kw: subprocess.CompletedProcess(a, 1))
    assert bootstrap.main(["test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bootstrap: installing .venv from constraints.txt failed (pip exit 1, above)"]
    assert not (tmp_path / ".venv").exists()
