"""A progress bar (tqdm, on stderr) for anything that takes more than a few seconds."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm


def bar(total: int, desc: str, *, enabled: bool = True, unit: str = "step"):
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False,
                mininterval=0.5, file=sys.stderr, dynamic_ncols=True)
