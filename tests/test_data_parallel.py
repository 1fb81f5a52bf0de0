"""data_parallel: 2 and 4 workers take the steps one device takes, in both frameworks (torch: DDP over
gloo processes; JAX: a sharded batch on k virtual devices, and k processes joined by
jax.distributed); torch and JAX agree from the same weights; a worker that dies fails the run in one
line, within a bounded time, and writes nothing."""
import re
import time

import numpy as np
import pytest

from shared import cli, specs
from shared.harness import distributed, faults, records, runner
from shared.harness.config import FRAMEWORKS, RunConfig
from shared.tools import parity

SPEC = specs.get("data_parallel")
P = SPEC.parity
WORKERS_REL = P.extras["workers_rel"]
WORKERS = tuple(k for k in SPEC.shape.workers if k > 1)  # against one worker: 2 and 4


def test_one_worker_runs_in_this_process(runs, cfg):
    assert all(r.extras["workers"] == 1 and r.extras["processes"] == 1
               for recs in runs.both(SPEC, cfg).values() for r in recs.values())


def traces(runs, dtype: str) -> dict:
    """{(framework, k): {variant: trace}} from torch's initial weights, on 1, 2 and 4 workers (one
    start of the workers per framework and k; the whole run: 40 steps)."""
    def compute():
        cfg = RunConfig(progress=False, dtype=dtype)
        weights = runner.initial_weights(SPEC, SPEC.variants[0], cfg)
        return {(fw, k): runner.traces(SPEC, fw, cfg.replace(workers=k), weights, None, SPEC.variants)
                for fw in FRAMEWORKS for k in (1, *WORKERS)}
    return runs.cached(("workers", SPEC.name, dtype), compute)


def assert_same_steps(one: np.ndarray, many: np.ndarray, dtype: str) -> None:
    """float32: the first 10 steps within rel 1e-5; float64: every step within 1e-9 (the spec's)."""
    assert one.dtype == many.dtype == np.dtype(dtype) and one.shape == many.shape
    rel = parity.rel_diff(one, many)
    if dtype == "float32":
        assert rel[:P.first_steps].max() <= WORKERS_REL["float32"], rel[:P.first_steps]
    else:
        assert rel.max() <= WORKERS_REL["float64"], (int(rel.argmax()) + 1, float(rel.max()))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_k_workers_take_the_steps_of_one_device(runs, framework, dtype):
    t = traces(runs, dtype)
    for variant in SPEC.variants:
        one = t[framework, 1][variant]
        assert len(one["losses"]) == 40
        for k in WORKERS:
            many = t[framework, k][variant]
            assert_same_steps(one["losses"], many["losses"], dtype)
            assert many["metrics"]["test_accuracy"] == pytest.approx(one["metrics"]["test_accuracy"], abs=1e-6)
            for name, w in one["weights"].items():
                np.testing.assert_allclose(many["weights"][name], w, rtol=0, atol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_ddp_and_jax_sharded_agree_from_the_same_weights(runs, dtype):
    t = traces(runs, dtype)
    for k in (1, *WORKERS):
        for variant in SPEC.variants:
            a, b = t["torch", k][variant]["losses"], t["jax", k][variant]["losses"]
            rel = parity.rel_diff(a, b)
            if dtype == "float32":
                assert rel[:P.first_steps].max() <= P.loss_rel and rel[-1] <= P.final_rel, (k, variant, rel)
            else:
                assert rel.max() <= P.float64_rel, (k, variant, float(rel.max()))


def test_jax_as_k_processes_joined_by_jax_distributed(runs, monkeypatch):
    """TJL_JAX_PROCESSES=1: 2 processes of one CPU device each (jax.distributed.initialize on
    127.0.0.1, gloo CPU collectives) take the same float64 steps as one device."""
    one = traces(runs, "float64")["jax", 1]
    monkeypatch.setenv("TJL_JAX_PROCESSES", "1")
    cfg = RunConfig(progress=False, dtype="float64", workers=2)
    weights = runner.initial_weights(SPEC, SPEC.variants[0], cfg)
    many = runner.traces(SPEC, "jax", cfg, weights, None, SPEC.variants)
    for variant in SPEC.variants:
        assert_same_steps(one[variant]["losses"], many[variant]["losses"], "float64")


def test_lessons_run_with_workers_writes_each_frameworks_record(tmp_path, capsys):
    assert cli.main(["run", "data_parallel", "--workers", "2", "--epochs", "1", "--no-progress",
                     "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for variant in SPEC.variants:   # the lesson's table: a row per variant
        assert re.search(rf"^{variant}\s+test_accuracy\s", out, re.M), out
    for fw, engine in (("torch", "DistributedDataParallel"), ("jax", "jit + NamedSharding")):
        recs = records.load(tmp_path / "data_parallel" / f"{fw}-cpu-embedded.json")
        assert [r.variant for r in recs] == list(SPEC.variants)
        for r in recs:
            assert r.steps == 4 and r.samples == 4 * 256 and len(r.history["loss"]) == 4
            assert r.extras["workers"] == 2 and r.extras["engine"].startswith(engine)
            assert r.extras["processes"] == (2 if fw == "torch" else 1)


@pytest.mark.parametrize("argv,message", [
    (["run", "data_parallel", "--workers", "3"], "--workers 3: data_parallel runs on 1, 2, 4 workers"),
    (["run", "data_parallel", "--workers", "0"], "--workers must be a whole number of at least 1, got 0"),
    (["run", "data_parallel", "--workers", "two"], "argument --workers: invalid int value"),
    (["parity", "data_parallel", "--workers", "8"], "--workers 8: data_parallel runs on"),
    (["run", "multiclass", "--workers", "2"], "--workers 2: multiclass trains on one device"),
])
def test_bad_workers_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert cli.main([*argv, "--no-progress", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_bad_workers_is_checked_before_the_progress_line(tmp_path, capsys):
    assert cli.main(["run", "data_parallel", "--workers", "3", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "lessons: error: --workers 3: data_parallel runs on 1, 2, 4 workers (its global batch of 256 splits evenly "
        "over those)"]


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "0", "-1"])
@pytest.mark.parametrize("argv", [["run", "data_parallel", "--workers", "2"], ["bench", "data_parallel"]])
def test_a_bad_run_timeout_is_one_line_before_anything_runs(monkeypatch, capsys, tmp_path, value, argv):
    """TJL_RUN_TIMEOUT bounds a multi-worker run: a positive number of seconds, else one line (not a
    traceback, not a run without a bound, not a run that fails at once)."""
    monkeypatch.setenv(distributed.RUN_TIMEOUT_ENV, value)
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("a lesson ran"))
    monkeypatch.setattr(runner, "matmul_rate", lambda *a, **k: pytest.fail("the bench started"))
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"lessons: error: TJL_RUN_TIMEOUT={value!r}: give the seconds a multi-worker run may take, a positive "
        f"number (default {distributed.RUN_TIMEOUT_S})"]


@pytest.mark.parametrize("framework,kill", [("torch", "1:3"), ("jax", "0:3")])
def test_a_worker_that_dies_fails_the_run_in_one_line(tmp_path, capsys, monkeypatch, framework, kill):
    """TJL_KILL_WORKER="RANK:STEP": that worker exits at its 3rd step (torch: rank 1 of 2 gloo
    processes; JAX: the process holding the 2 devices). The run stops every worker, exits 2 with
    one line, and --out stays empty."""
    monkeypatch.setenv(faults.KILL_ENV, kill)
    out = tmp_path / "out"
    start = time.monotonic()
    assert cli.main(["run", "data_parallel", "--framework", framework, "--workers", "2", "--no-progress",
                     "--out", str(out)]) == 2
    assert time.monotonic() - start < distributed.GROUP_TIMEOUT_S
    err = capsys.readouterr().err
    rank = kill.split(":")[0]
    assert err.count("\n") == 1 and f"worker process {rank} of" in err and f"code {faults.KILLED}" in err, err
    assert "nothing was written" in err
    assert not out.exists() or not any(out.rglob("*"))


def test_a_run_past_its_deadline_is_stopped(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(distributed.RUN_TIMEOUT_ENV, "1")
    start = time.monotonic()
    assert cli.main(["run", "data_parallel", "--framework", "jax", "--workers", "2", "--no-progress",
                     "--out", str(tmp_path / "out")]) == 2
    assert time.monotonic() - start < 30
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not finish within 1 s" in err, err
    assert not (tmp_path / "out").exists()
