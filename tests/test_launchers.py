"""The engines' own launchers start one run: `torchrun -m torch_impl.data_parallel` (one machine,
or two started as a user starts them on each) and JAX processes given the coordinator settings give
the losses of `lessons run data_parallel --workers 2`, and only process 0 prints and writes. The
workers `lessons` starts itself listen on 127.0.0.1 only; `python -m <fw>_impl.data_parallel`
passes its arguments on. A launched process that asks for the wrong run is one line."""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from support.procs import output
from shared import cli, specs
from shared.harness import records

SPEC = specs.get("data_parallel")
SHORT = ["--epochs", "2", "--no-progress"]            # 8 steps
SAME = dict(rtol=1e-6, atol=0)                          # the same arithmetic, other processes


def torchrun() -> list[str]:
    path = Path(sys.executable).with_name("torchrun")
    return [str(path)] if path.exists() else [sys.executable, "-m", "torch.distributed.run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_records(out: Path, framework: str) -> list[records.Record]:
    return records.load(out / "data_parallel" / f"{framework}-cpu-embedded.json")


def losses(recs) -> dict[str, np.ndarray]:
    return {r.variant: np.array(r.history["loss"]) for r in recs}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """`lessons run data_parallel --framework FW --workers 2 --epochs 2`: each framework's losses."""
    out = tmp_path_factory.mktemp("reference")
    found = {}
    for fw in ("torch", "jax"):
        assert cli.main(["run", "data_parallel", "--framework", fw, "--workers", "2", *SHORT, "--out", str(out)]) == 0
        found[fw] = losses(run_records(out, fw))
    return found


def assert_one_run(recs, launcher: str, reference: dict) -> None:
    assert [r.variant for r in recs] == list(SPEC.variants)
    for r in recs:
        assert (r.extras["workers"], r.extras["processes"], r.extras.get("launcher")) == (2, 2, launcher)
        assert r.steps == 8
    for variant, want in reference.items():
        np.testing.assert_allclose(losses(recs)[variant], want, **SAME)


def test_torchrun_standalone_is_one_two_worker_run(procs, tmp_path, reference, capfd):
    out = tmp_path / "out"
    run = procs.start([*torchrun(), "--standalone", "--nproc_per_node=2", "-m", "torch_impl.data_parallel", *SHORT,
                       "--out", str(out)])
    code, stdout, err = output(run, 600)
    assert code == 0, err
    assert_one_run(run_records(out, "torch"), "torchrun", reference["torch"])
    assert stdout.count(f"\n{SPEC.title}\n") == 1              # only rank 0 printed its table
    assert stdout.count("wrote ") == 2                          # the JSON and the plot, once
    assert procs.running() == []


def test_torchrun_on_two_machines(procs, tmp_path, reference):
    """Two torchrun processes with --nnodes 2 and one --rdzv-endpoint, as on two machines (each its
    own --out: its own disk). The one that rendezvous made rank 0 writes; the other nothing."""
    port = free_port()
    runs = [procs.start([*torchrun(), "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                         "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", procs.mark, "-m",
                         "torch_impl.data_parallel", *SHORT, "--out", str(tmp_path / f"machine{i}")])
            for i in range(2)]
    for run in runs:
        code, _, err = output(run, 600)
        assert code == 0, err
    wrote = [i for i in range(2) if (tmp_path / f"machine{i}" / "data_parallel").exists()]
    assert len(wrote) == 1, wrote
    assert_one_run(run_records(tmp_path / f"machine{wrote[0]}", "torch"), "torchrun", reference["torch"])
    assert procs.running() == []


def test_jax_processes_with_the_coordinator_settings_on_two_machines(procs, tmp_path, reference):
    """Process 0 with JAX's environment variables, process 1 with the same settings as options."""
    address = f"127.0.0.1:{free_port()}"
    first = procs.start([sys.executable, "-m", "jax_impl.data_parallel", *SHORT, "--out", str(tmp_path / "machine0")],
                        env=procs.env(JAX_COORDINATOR_ADDRESS=address, JAX_NUM_PROCESSES=2, JAX_PROCESS_ID=0,
                                      JAX_PLATFORMS="cpu"))
    second = procs.start([sys.executable, "-m", "jax_impl.data_parallel", *SHORT, "--out", str(tmp_path / "machine1"),
                          "--coordinator-address", address, "--num-processes", "2", "--process-id", "1"],
                         env=procs.env(JAX_PLATFORMS="cpu"))
    for run in (first, second):
        code, stdout, err = output(run, 600)
        assert code == 0, err
    assert not (tmp_path / "machine1").exists()
    assert_one_run(run_records(tmp_path / "machine0", "jax"), "jax.distributed", reference["jax"])
    assert procs.running() == []


@pytest.mark.parametrize("module", ["torch_impl.data_parallel", "jax_impl.data_parallel"])
def test_the_lesson_module_passes_its_arguments_on(procs, tmp_path, module):
    """`python -m torch_impl.data_parallel --workers 2` runs 2 workers, not 1."""
    out = tmp_path / "out"
    code, _, err = output(procs.start([sys.executable, "-m", module, "--workers", "2", "--epochs", "1",
                                       "--no-progress", "--out", str(out)]), 600)
    assert code == 0, err
    fw = module.split("_")[0]
    assert {r.extras["workers"] for r in run_records(out, fw)} == {2}


# -- the workers lessons starts: loopback only -------------------------------------------------------

def listening(pids: set[int]) -> list[str]:
    """The local addresses of the TCP sockets these processes listen on (`ss -ltnp`)."""
    ss = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    found = []
    for line in ss.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if owners & pids:
            found.append(line.split()[3])
    return found


LOOPBACK = ("127.0.0.1:", "[::1]:", "[::ffff:127.0.0.1]:")
WILDCARD = ("*:", "0.0.0.0:", "[::]:")


@pytest.mark.parametrize("framework,env", [("torch", {}), ("jax", {"TJL_JAX_PROCESSES": "1"})])
def test_the_workers_listen_on_the_loopback_address_only(procs, tmp_path, framework, env):
    """torch: the TCPStore and gloo's connections on 127.0.0.1. JAX: the coordinator on 127.0.0.1,
    and nothing on every interface (JAX's gloo connections use the host name's address, which is
    127.0.0.1 on most machines)."""
    run = procs.lessons("run", "data_parallel", "--framework", framework, "--workers", "2", "--epochs", "5000",
                        "--no-progress", "--out", str(tmp_path / "out"), env=procs.env(TJL_RUN_TIMEOUT=300, **env))
    seen: set[str] = set()

    def joined():  # the rendezvous and each worker's connections: three listening sockets
        seen.update(listening({int(l.split()[0]) for l in procs.workers()}))
        return len(seen) >= 3

    procs.wait_for(joined, 120, "the workers did not start listening")
    for _ in range(10):   # and nothing more while they train
        time.sleep(0.2)
        seen.update(listening({int(l.split()[0]) for l in procs.workers()}))
    assert not [a for a in seen if a.startswith(WILDCARD)], seen
    assert [a for a in seen if a.startswith(LOOPBACK)], seen
    if framework == "torch":
        assert all(a.startswith(LOOPBACK) for a in seen), seen
    run.send_signal(signal.SIGTERM)
    output(run, 30)


# -- a launched process that asks for another run: one line ----------------------------------------

TORCHRUN_ENV = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
JAX_ENV = {"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "0"}


@pytest.mark.parametrize("env,argv,message", [
    (TORCHRUN_ENV, ["run", "data_parallel", "--framework", "torch", "--workers", "4"],
     "--workers 4: torchrun started 2 processes (WORLD_SIZE); leave --workers out or make it 2"),
    (TORCHRUN_ENV, ["run", "data_parallel"], "torchrun started 2 processes for torch; add --framework torch"),
    (TORCHRUN_ENV, ["compare", "data_parallel"], "under it, use `lessons run`"),
    (TORCHRUN_ENV, ["run", "multiclass", "--framework", "torch"], "but multiclass trains on one device"),
    ({**TORCHRUN_ENV, "RANK": "x"}, ["run", "data_parallel"], "RANK (torchrun) must be a whole number"),
    (JAX_ENV, ["run", "data_parallel", "--framework", "torch"], "add --framework jax"),
    ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234"}, ["run", "data_parallel", "--framework", "jax"],
     "missing: --num-processes (or JAX_NUM_PROCESSES), --process-id (or JAX_PROCESS_ID)"),
    ({}, ["run", "data_parallel", "--framework", "jax", "--coordinator-address", "nohost", "--num-processes", "2",
          "--process-id", "0"], "--coordinator-address nohost: give HOST:PORT"),
    ({**JAX_ENV, "JAX_PROCESS_ID": "2"}, ["run", "data_parallel", "--framework", "jax"],
     "--process-id 2 must be below --num-processes 2"),
    ({**TORCHRUN_ENV, **JAX_ENV}, ["run", "data_parallel", "--framework", "torch"], "both torchrun's environment"),
])
def test_a_launched_process_that_asks_for_another_run_is_one_line(monkeypatch, capsys, tmp_path, env, argv, message):
    monkeypatch.setattr(cli, "run_lesson", lambda *a: pytest.fail("ran"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert cli.main([*argv, "--no-progress", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()
