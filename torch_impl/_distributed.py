"""The torch side of data parallelism's process plumbing (shared/harness/distributed.py drives it): k
worker processes joined in a process group, gloo on a CPU, NCCL on GPUs; the workers the harness
starts meet on 127.0.0.1 only, the processes torchrun starts where torchrun says.

The module is a ``shared.harness.protocol.DistributedSide``: jax_impl/_distributed.py has the
same public names with the same signatures.
"""
from __future__ import annotations

import gc
import os
import socket
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

ENGINE = "DistributedDataParallel"


def _backend(device: str) -> str:
    return "nccl" if device == "gpu" or (device == "auto" and torch.cuda.is_available()) else "gloo"


def runs_here(workers: int, device: str) -> bool:
    """One worker runs in this process (a process group of one); k workers are k processes."""
    return workers == 1


def processes(workers: int) -> int:
    return workers


def worker_env(workers: int, rank: int, procs: int, device: str) -> dict[str, str]:
    """Each worker's share of the CPU's threads, unless the caller chose a thread count; gloo's
    connections on the loopback interface, unless the caller chose one."""
    env = {}
    if "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // procs))
    if "GLOO_SOCKET_IFNAME" not in os.environ:
        env["GLOO_SOCKET_IFNAME"] = "lo"
    return env


def _store(address: str, rank: int, world: int, timeout: timedelta):
    """The group's key-value store at ``address``: rank 0 serves it on that address only (a socket
    bound there: TCPStore itself would listen on every interface), the others connect."""
    host, port = address.rsplit(":", 1)
    if rank != 0:
        return dist.TCPStore(host, int(port), world, False, timeout)
    listener = socket.create_server((host, int(port)))
    fd = listener.detach()
    try:
        return dist.TCPStore(host, int(port), world, True, timeout, wait_for_workers=False, master_listen_fd=fd)
    except NotImplementedError:  # torch < 2.6: only the older store takes a listening socket
        return dist.TCPStore(host, int(port), world, True, timeout, wait_for_workers=False, master_listen_fd=fd,
                             use_libuv=False)


@contextmanager
def joined(rank: int, world: int, address: str | None, timeout_s: float, device: str):
    """This process in the process group of ``world`` workers, for the block.

    ``address`` None: a group of one in this process (an in-memory store, no port), or, with
    ``world`` > 1, the group torchrun's environment describes (env://). The timeout bounds joining
    and every collective, so a worker whose peer died fails instead of waiting.
    """
    if dist.is_available() and dist.is_initialized():  # the caller's own group (a world of one here)
        yield
        return
    backend = _backend(device)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
    timeout = timedelta(seconds=timeout_s)
    if address is None and world == 1:
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1, timeout=timeout)
    elif address is None:
        dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world, timeout=timeout)
    else:
        dist.init_process_group(backend, store=_store(address, rank, world, timeout), rank=rank, world_size=world,
                                timeout=timeout)
    try:
        yield
        gc.collect()  # the DDP wrappers (and their reducers) go while the group they use still exists
        if world > 1:
            dist.barrier()  # and every worker leaves the group together
    finally:
        dist.destroy_process_group()


def worker_count() -> int:
    return dist.get_world_size()


def replicated(arrays: tuple) -> tuple:
    """The data every worker holds: each process already has all of it."""
    return arrays


def mean_over_workers(losses: np.ndarray) -> np.ndarray:
    """Each worker's step losses are its piece's; their mean over the k workers is the global
    batch's (the pieces are equal). One all-reduce for the whole run."""
    if dist.get_world_size() == 1:
        return losses
    t = torch.as_tensor(np.ascontiguousarray(losses))
    if _backend_of_group() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return (t / dist.get_world_size()).cpu().numpy()


def _backend_of_group() -> str:
    return str(dist.get_backend())


def on_host(fn, value) -> None:
    """Call ``fn()`` once for each step that computes ``value`` (steps run eagerly: now)."""
    fn()


def allreduce_seconds(n: int, repeats: int = 20) -> float:
    """Seconds per all-reduce (mean) of ``n`` float32 numbers over the group: one step's gradients."""
    t = torch.ones(n, device="cuda" if _backend_of_group() == "nccl" else "cpu")
    for _ in range(3):
        dist.all_reduce(t)
    dist.barrier()
    start = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(t)
        t /= dist.get_world_size()
    if t.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


if TYPE_CHECKING:  # a type checker holds this module to the declared contract
    from shared.harness.protocol import DistributedSide
    _side: DistributedSide = sys.modules[__name__]
