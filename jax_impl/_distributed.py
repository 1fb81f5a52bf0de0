"""The JAX side of data parallelism's process plumbing (shared/harness/distributed.py drives it): k
devices in one process (on a CPU, k virtual ones), or k processes joined by
jax.distributed.initialize (``TJL_JAX_PROCESSES=1``), one mesh over all their devices.

The module is a ``shared.harness.protocol.DistributedSide``: torch_impl/_distributed.py has the
same public names with the same signatures. The mesh is the lesson's (jax_impl/data_parallel.py).
"""
from __future__ import annotations

import os
import re
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jax_impl.data_parallel import _mesh  # every device in a row named "data": the lesson's k workers

ENGINE = "jit + NamedSharding / shard_map + pmean"
PROCESSES_ENV = "TJL_JAX_PROCESSES"  # "1": k processes with one device each, instead of one with k


def _platform(device: str) -> str:
    if device == "cpu":
        return "cpu"
    try:
        jax.devices("gpu")
        return "gpu"
    except RuntimeError:
        return "cpu"


def runs_here(workers: int, device: str) -> bool:
    """The workers are this process's devices when it has exactly ``workers`` of them (the mesh
    is every device); else a new process sees that many (XLA reads the device count at start)."""
    if os.environ.get(PROCESSES_ENV) == "1" and workers > 1:
        return False
    try:
        return jax.default_backend() == _platform(device) and len(jax.devices()) == workers
    except RuntimeError:
        return False


def processes(workers: int) -> int:
    return workers if os.environ.get(PROCESSES_ENV) == "1" else 1


def worker_env(workers: int, rank: int, procs: int, device: str) -> dict[str, str]:
    """XLA's device count for the new process: ``workers`` devices in one process, or one each."""
    per_process = workers // procs
    if device == "cpu" or _platform(device) == "cpu":
        flags = re.sub(r"--xla_force_host_platform_device_count=\S+", "", os.environ.get("XLA_FLAGS", "")).strip()
        env = {"JAX_PLATFORMS": "cpu",
               "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count={per_process}".strip()}
        if "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // procs))
        return env
    first = rank * per_process
    return {"CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in range(first, first + per_process))}


@contextmanager
def joined(rank: int, world: int, address: str | None, timeout_s: float, device: str):
    """With ``world`` > 1 processes: this one joined to the others (jax.distributed, CPU collectives
    over gloo), so jax.devices() lists all of their devices; with one, nothing to join. Process 0
    serves the coordinator on ``address`` only (JAX's default is every interface), unless
    JAX_COORDINATOR_BIND_ADDRESS says where."""
    if world == 1 or address is None:
        yield
        return
    if _platform(device) == "cpu":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=address, num_processes=world, process_id=rank,
                               coordinator_bind_address=os.environ.get("JAX_COORDINATOR_BIND_ADDRESS") or address,
                               initialization_timeout=int(timeout_s), heartbeat_timeout_seconds=int(timeout_s),
                               shutdown_timeout_seconds=int(timeout_s))
    try:
        yield
    finally:
        jax.distributed.shutdown()


def worker_count() -> int:
    return len(jax.devices())


def replicated(arrays: tuple) -> tuple:
    """The data on every device of the mesh (each process gives its own, identical copy)."""
    sharding = NamedSharding(_mesh(), P())
    hosted = [np.asarray(a) for a in arrays]
    return tuple(jax.make_array_from_callback(a.shape, sharding, lambda index, a=a: a[index]) for a in hosted)


def mean_over_workers(losses: np.ndarray) -> np.ndarray:
    """The step's loss is already the global batch's (jit: the mean over the sharded batch;
    shard_map: pmean)."""
    return losses


def on_host(fn, value) -> None:
    """Call ``fn()`` on the host each time the compiled step computes ``value``."""
    jax.debug.callback(lambda _: fn(), value)


def allreduce_seconds(n: int, repeats: int = 20) -> float:
    """Seconds per all-reduce (pmean) of ``n`` float32 numbers over the mesh: one step's gradients."""
    mesh = _mesh()
    k = mesh.devices.size
    pmean = jax.jit(jax.shard_map(lambda g: jax.lax.pmean(g, "data"), mesh=mesh, in_specs=P("data"),
                                  out_specs=P("data")))
    g = jax.make_array_from_callback((k, n), NamedSharding(mesh, P("data")),
                                     lambda index: np.ones((k, n), np.float32)[index])
    for _ in range(3):
        g = pmean(g)
    g.block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        g = pmean(g)
    g.block_until_ready()
    return (time.perf_counter() - start) / repeats


if TYPE_CHECKING:  # a type checker holds this module to the declared contract
    from shared.harness.protocol import DistributedSide
    _side: DistributedSide = sys.modules[__name__]
