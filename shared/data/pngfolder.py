"""MNIST-like data written out as a PNG folder tree plus annotations CSVs (the custom Dataset lesson).

    root/training/<label>/<index>.png     root/training.csv   rows "<label>/<index>.png,<label>"
    root/testing/<label>/<index>.png      root/testing.csv

That is the layout torchvision's ImageFolder reads, and the CSV is the tutorial's
``annotations_file`` (file name relative to the image folder, then the label). PNGs are 8-bit
grayscale, encoded here with zlib (no imaging library needed). The tree is built in a temporary
directory and renamed into place, so a reader never sees half of it.
"""
from __future__ import annotations

import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

PARTS = ("training", "testing")


def encode_png(image: np.ndarray) -> bytes:
    """uint8 (H, W) -> PNG bytes, 8-bit grayscale."""
    h, w = image.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.concatenate([np.zeros((h, 1), np.uint8), image.astype(np.uint8)], axis=1)  # filter byte 0 per row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b""))


def export_png_folder(split, root: Path, *, per_part: int | None = None) -> Path:
    """Write ``split`` (an ImageSplit) under ``root``; the first ``per_part`` images of each part.

    An existing complete tree at ``root`` is replaced whole.
    """
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}."))
    try:
        for part, (x, y) in zip(PARTS, ((split.x_train, split.y_train), (split.x_test, split.y_test))):
            x, y = x[:per_part], y[:per_part]
            lines = []
            for i, (image, label) in enumerate(zip(x, y)):
                rel = f"{int(label)}/{i:05d}.png"
                (tmp / part / str(int(label))).mkdir(parents=True, exist_ok=True)
                (tmp / part / rel).write_bytes(encode_png(image))
                lines.append(f"{rel},{int(label)}\n")
            (tmp / f"{part}.csv").write_text("".join(lines))
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def read_annotations(csv_path: Path) -> list[tuple[str, int]]:
    """The (relative file name, label) rows of an annotations CSV."""
    rows = []
    for line in Path(csv_path).read_text().splitlines():
        name, label = line.rsplit(",", 1)
        rows.append((name, int(label)))
    return rows
