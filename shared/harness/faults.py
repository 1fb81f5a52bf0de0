"""Fault injection for the tests of ``--workers K``: a worker that dies mid-run.

``TJL_KILL_WORKER="RANK:STEP"`` makes worker RANK exit with code KILLED at its STEP-th training
step, as a worker killed mid-run would (tests/test_data_parallel.py). Unset, nothing happens. The
lesson's steps are wrapped in the worker process only; the lesson file is unchanged.
"""
from __future__ import annotations

import os
import sys

from shared.harness import sides

KILL_ENV = "TJL_KILL_WORKER"
KILLED = 17                   # the killed worker's exit code


def arm_kill(framework: str, lesson: str, rank: int) -> None:
    setting = os.environ.get(KILL_ENV)
    if not setting:
        return
    target, at = (int(v) for v in setting.split(":"))
    if target != rank:
        return
    d, module = sides.distributed(framework), sides.lesson(framework, lesson)
    count = [0]

    def tick():
        count[0] += 1
        if count[0] >= at:
            print(f"worker {rank}: killed at step {at} ({KILL_ENV})", file=sys.stderr, flush=True)
            os._exit(KILLED)

    def dying(step):
        def wrapped(model, optimizer, x, y):
            loss = step(model, optimizer, x, y)
            d.on_host(tick, loss)
            return loss
        return wrapped

    for name in [n for n in vars(module) if n.startswith("train_step")]:
        setattr(module, name, dying(getattr(module, name)))
