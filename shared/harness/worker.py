"""One worker of a ``--workers K`` run: ``python -m shared.harness.worker JOB_FILE RANK LAUNCHER_PID``.

shared/harness/distributed.py starts K of these (or one per process JAX needs) with the pickled
job and the group's address; each joins the group and runs the job in a session
(``distributed.work``); rank 0 writes the result where the launcher reads it. A LessonError is one
line on stderr and exit code 2, which the launcher reports. A worker dies with its launcher
(Linux's parent-death signal), so none outlives the run, however the launcher ends.
"""
from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
from pathlib import Path

from shared.atomic import atomic_write_bytes
from shared.errors import LessonError
from shared.harness import distributed, faults

PR_SET_PDEATHSIG = 1          # prctl(2): the signal this process gets when its parent dies


def die_with(parent: int) -> None:
    """SIGKILL this process when its parent (the launcher) dies; at once if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):   # not Linux: the launcher's own handlers stop the workers
        pass
    if os.getppid() != parent:          # the launcher died before the signal was armed
        os._exit(1)


def main(argv: list[str]) -> int:
    job_file, rank = Path(argv[0]), int(argv[1])
    die_with(int(argv[2]))
    order = pickle.loads(job_file.read_bytes())
    job: distributed.Job = order["job"]
    try:
        faults.arm_kill(job.framework, job.lesson, rank)
        result = distributed.work(job, rank=rank, world=order["world"], address=order["address"])
    except LessonError as e:
        print(f"lessons: error: {e}", file=sys.stderr, flush=True)
        return 2
    if rank == 0:
        atomic_write_bytes(Path(order["result"]), pickle.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
