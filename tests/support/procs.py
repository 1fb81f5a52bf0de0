"""Processes started the way a user starts them (the `lessons` command, torchrun, two "machines"),
for the interrupt and launcher tests, with nothing left behind even when a test fails.

The ``procs`` fixture gives each test a mark in the environment of every process it starts (and
so of every process those start), and a TMPDIR of its own (where ``tjl-workers-*`` directories
would be left). ``procs.running()`` is what ``ps`` shows of the marked processes; teardown kills
any that are left. The tests assert themselves that none outlived its run.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK_ENV = "TJL_TEST_MARK"
# Settings from the surrounding shell that would make a process one of some other run.
FOREIGN = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "JAX_COORDINATOR_ADDRESS",
           "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "TJL_JAX_PROCESSES", "TJL_KILL_WORKER", "TJL_RUN_TIMEOUT")


class Procs:
    def __init__(self, base: Path):
        self.mark = f"tjl-test-{secrets.token_hex(6)}"
        self.base = base
        self.tmp = base / "tmp"          # every process's TMPDIR
        self.tmp.mkdir()
        self.started: list[subprocess.Popen] = []

    def env(self, **extra) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
        env.update({MARK_ENV: self.mark, "TMPDIR": str(self.tmp), "PYTHONPATH": str(ROOT)})
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def start(self, argv: list[str], env: dict | None = None, stdout=None) -> subprocess.Popen:
        """``argv`` in its own session, its output in files (read by :func:`output`), or stdout to
        the file descriptor ``stdout``."""
        n = len(self.started)
        out, err = self.base / f"p{n}.out", self.base / f"p{n}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            p = subprocess.Popen(argv, cwd=ROOT, env=env or self.env(), stdin=subprocess.DEVNULL,
                                 stdout=o if stdout is None else stdout, stderr=e, start_new_session=True)
        p.out_path, p.err_path = out, err
        self.started.append(p)
        return p

    def lessons(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        return self.start([sys.executable, "-m", "shared.cli", *args], env)

    def _pids(self) -> list[int]:
        ps = subprocess.run(["ps", "eww", "-e", "-o", "pid=,stat=,args="], capture_output=True, text=True).stdout
        return [int(l.split()[0]) for l in ps.splitlines() if f"{MARK_ENV}={self.mark}" in l]

    def running(self) -> list[str]:
        """What ``ps`` shows (pid, state, command) of this test's live processes."""
        pids = self._pids()
        if not pids:
            return []
        ps = subprocess.run(["ps", "-ww", "-o", "pid=,stat=,args=", "-p", ",".join(map(str, pids))],
                            capture_output=True, text=True).stdout
        return [l.strip()[:200] for l in ps.splitlines() if l.split()[1][0] != "Z"]   # not the dead

    def workers(self) -> list[str]:
        return [l for l in self.running() if "shared.harness.worker" in l]

    def wait_for(self, condition, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        pytest.fail(f"{what} within {timeout:g} s; running: {self.running()}")

    def worker_dirs(self) -> list[str]:
        return sorted(p.name for p in self.tmp.glob("tjl-workers-*"))

    def cleanup(self) -> None:
        for p in self.started:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
        for pid in self._pids():   # anything else that carries the mark (another session's workers)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def output(p: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) once ``p`` has ended (failing the test if it has not in time)."""
    try:
        code = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{p.args} did not end within {timeout:g} s")
    return code, p.out_path.read_text(errors="replace"), p.err_path.read_text(errors="replace")


@pytest.fixture
def procs(tmp_path):
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.cleanup()
