"""A stopwatch that keeps compile (or warm-up) time apart from steady training time."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Stopwatch:
    compile_s: float = 0.0
    train_s: float = 0.0

    @contextmanager
    def compiling(self):
        t = time.perf_counter()
        yield
        self.compile_s += time.perf_counter() - t

    @contextmanager
    def training(self):
        t = time.perf_counter()
        yield
        self.train_s += time.perf_counter() - t
