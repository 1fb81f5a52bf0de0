"""Disks that fail: a directory nobody can write to, a disk that fills up mid-write; and a bound on
a wait (a FIFO where a file goes must not hang a test)."""
from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from shared import atomic
from shared.atomic import unwritable_reason


def readonly_dir(tmp_path) -> Path:
    """A directory in which no file can be created: chmod when not root; /sys (sysfs) when root."""
    if os.geteuid() != 0:
        d = tmp_path / "readonly"
        d.mkdir()
        d.chmod(0o555)
        return d
    if unwritable_reason(Path("/sys")) is None:
        pytest.skip("running as root, and /sys is writable here: no read-only directory to test with")
    return Path("/sys")


def disk_full_under(monkeypatch, directory):
    """os.write into files below ``directory`` writes half, then fails as a full disk does."""
    real = os.write

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(directory)):
            real(fd, bytes(data[: len(data) // 2]))
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(atomic.os, "write", write)


class Hung(BaseException):
    """Raised by SIGALRM: not an OSError, so no handler of the code under test takes it for one."""


@contextlib.contextmanager
def within(seconds: int):
    """Fails the test instead of hanging (SIGALRM interrupts a blocking open or read)."""
    def hung(signum, frame):
        raise Hung(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
