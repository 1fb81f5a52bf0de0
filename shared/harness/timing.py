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

    def set_apart(self, spans) -> None:
        """Move the compilations that ran inside a timed training loop (a lesson's own train(), which
        compiles on its first steps) from train_s to compile_s. ``spans``: (start, end) times of each
        compilation, on any one clock; nested or overlapping spans count once."""
        covered, reach = 0.0, float("-inf")
        for start, end in sorted(spans):
            if end > reach:
                covered += end - max(start, reach)
                reach = end
        covered = min(covered, self.train_s)
        self.train_s -= covered
        self.compile_s += covered
