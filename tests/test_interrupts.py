"""A run that is interrupted, or whose terminal fails, ends in one line and leaves nothing behind.

SIGTERM and SIGHUP to a data-parallel run (each framework, JAX as several processes, `lessons
bench`) stop its workers and remove their directory (checked with ``ps`` and TMPDIR); a killed
run's workers die with it; Ctrl-C while the command is still importing is one line; a terminal
that cannot encode the tables, or a pipe closed early, costs none of the files.
"""
import os
import signal
import subprocess
import sys

import pytest

from support.procs import output
from shared.data import DataSource, load_images
from shared.errors import DataError

LONG = ["--epochs", "5000", "--no-progress"]   # a run that is still going when the signal comes


@pytest.mark.parametrize("argv,env,workers,sig", [
    (["run", "data_parallel", "--framework", "torch", "--workers", "2", *LONG], {}, 2, signal.SIGTERM),
    (["run", "data_parallel", "--framework", "jax", "--workers", "2", *LONG], {}, 1, signal.SIGHUP),
    (["run", "data_parallel", "--framework", "jax", "--workers", "2", *LONG], {"TJL_JAX_PROCESSES": "1"}, 2,
     signal.SIGTERM),
    (["bench", "data_parallel", "--repeats", "1"], {}, 1, signal.SIGTERM),
], ids=["torch-TERM", "jax-HUP", "jax-processes-TERM", "bench-TERM"])
def test_a_signal_stops_the_workers_and_removes_their_directory(procs, tmp_path, argv, env, workers, sig):
    if argv[0] == "bench":
        try:
            load_images("mnist", DataSource("fullsize", progress=False), classes=(0, 1, 2))
        except DataError as e:
            pytest.skip(f"the bench runs on --data fullsize, and neither MNIST nor Fashion-MNIST is local: {e}")
    out = tmp_path / "out"
    run = procs.lessons(*argv, "--out", str(out), env=procs.env(TJL_RUN_TIMEOUT=300, **env))
    procs.wait_for(lambda: len(procs.workers()) >= workers and procs.worker_dirs(), 120, "the workers did not start")
    run.send_signal(sig)
    code, _, err = output(run, 30)
    assert code == 128 + sig, err
    assert err.strip().splitlines()[-1] == f"lessons: stopped by {signal.Signals(sig).name}", err
    assert "Traceback" not in err
    procs.wait_for(lambda: procs.running() == [], 10, "a process outlived the run")
    assert procs.worker_dirs() == []
    assert not out.exists() or not any(p.name.endswith(".json") for p in out.rglob("*"))


def test_a_killed_run_takes_its_workers_with_it(procs, tmp_path):
    """SIGKILL cannot be handled: the workers' parent-death signal ends them."""
    run = procs.lessons("run", "data_parallel", "--framework", "torch", "--workers", "2", *LONG,
                        "--out", str(tmp_path / "out"))
    procs.wait_for(lambda: len(procs.workers()) == 2, 120, "the workers did not start")
    run.kill()
    run.wait()
    procs.wait_for(lambda: procs.running() == [], 10, "a worker outlived its killed run")


@pytest.mark.parametrize("sig,line", [(signal.SIGINT, "lessons: interrupted"),
                                      (signal.SIGTERM, "lessons: stopped by SIGTERM")])
def test_a_signal_while_the_command_is_importing_is_one_line(procs, tmp_path, sig, line):
    """-X importtime shows when numpy has been imported: the command's own imports are under way."""
    run = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "shared.cli", "compare", "xor", "--out",
                            str(tmp_path / "out")], cwd=procs.base, env=procs.env(), stderr=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    procs.started.append(run)
    lines = []
    for l in run.stderr:
        lines.append(l)
        if l.startswith("import time:") and l.rstrip().endswith("| numpy"):
            run.send_signal(sig)
            break
    else:
        pytest.fail("numpy was never imported")
    lines += run.stderr.read().splitlines(keepends=True)
    assert run.wait(timeout=30) == 128 + sig
    said = [l.rstrip("\n") for l in lines if not l.startswith("import time:")]
    assert said == [line], said
    assert not (tmp_path / "out").exists()


def _compare(procs, out, **kw):
    return procs.start([sys.executable, "-m", "shared.cli", "compare", "xor", "--epochs", "20", "--no-progress",
                        "--out", str(out)], **kw)


def _written(out) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name[0] != ".")


XOR_FILES = ["report.md", "xor/history.png", "xor/jax-cpu-embedded.json", "xor/torch-cpu-embedded.json"]


def test_a_terminal_that_cannot_encode_the_table_gets_stand_ins_and_every_file(procs, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = output(_compare(procs, out, env=procs.env(PYTHONIOENCODING="ascii")), 300)
    assert code == 0, err
    assert "Traceback" not in err and "Δ" not in stdout
    assert "|d|" in stdout   # the header's |Δ|
    assert _written(out) == XOR_FILES


def test_parity_on_an_ascii_terminal_writes_its_plot(procs, tmp_path):
    out = tmp_path / "out"
    run = procs.lessons("parity", "xor", "--steps", "5", "--dtype", "float64", "--no-control", "--no-progress",
                        "--out", str(out), env=procs.env(PYTHONIOENCODING="ascii"))
    code, stdout, err = output(run, 300)
    assert code == 0 and "Traceback" not in err, err
    assert "|d" in stdout and (out / "xor" / "parity-float64.png").read_bytes()[:4] == b"\x89PNG"


def test_a_pipe_closed_before_the_first_table_ends_quietly_after_the_files_are_written(procs, tmp_path):
    """The reader is gone (as `| head -1` leaves it) before the command prints: every print meets a
    closed pipe."""
    out = tmp_path / "out"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        run = _compare(procs, out, stdout=write_end)
    finally:
        os.close(write_end)
    code, _, err = output(run, 300)
    assert code == 0 and err == "", err
    assert _written(out) == XOR_FILES
    report = (out / "report.md").read_text()
    assert "| xor | mlp | accuracy |" in report


def test_lessons_compare_into_head(procs, tmp_path):
    """The same as a user types it (unbuffered, so head may be gone before the second line)."""
    out = tmp_path / "out"
    cmd = (f"{sys.executable} -m shared.cli compare xor --epochs 20 --no-progress --out {out} | head -1; "
           "exit ${PIPESTATUS[0]}")
    code, stdout, err = output(procs.start(["bash", "-c", cmd], env=procs.env(PYTHONUNBUFFERED=1)), 300)
    assert code == 0 and "Traceback" not in err and "BrokenPipe" not in err, err
    assert len(stdout.splitlines()) == 1
    assert _written(out) == XOR_FILES
