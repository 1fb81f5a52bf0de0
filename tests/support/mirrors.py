"""Broken mirrors, for the data tests: four small, real IDX files (``tiny``); a real HTTP server on
127.0.0.1 that serves them well or in one of the ways a mirror breaks (``server``); an isolated
cache (``cache``); a CLI whose lesson run only loads the data (``loads_mnist``). The fixtures load
as a plugin (tests/conftest.py); the helper functions are imported by name."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from shared import cli
from shared.data import idx, load_images
from shared.data.idx import IdxFile, IdxSet

NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# How a mirror can answer, besides well: each is served by Server for a path's mode.
FAULTS = ("corrupt", "truncated", "chunked_early_end", "not_http", "html", "404", "stall")
STALL_S = 10.0        # a stalled answer waits this long (or until the server stops): past any test timeout


def idx_bytes(a: np.ndarray) -> bytes:
    magic = 0x803 if a.ndim == 3 else 0x801
    return b"".join(int(v).to_bytes(4, "big") for v in (magic, *a.shape)) + a.astype(np.uint8).tobytes()


def flip(blob: bytes) -> bytes:
    """One byte in the middle inverted: a corrupted download."""
    i = len(blob) // 2
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]


@pytest.fixture(scope="module")
def tiny():
    """Four small IDX files: arrays, published .gz blobs and the IdxFile table."""
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6),
              rng.integers(0, 256, (3, 28, 28)), rng.integers(0, 10, 3)]
    payloads = [idx_bytes(a) for a in arrays]
    blobs = [gzip.compress(p, compresslevel=9, mtime=0) for p in payloads]
    files = tuple(IdxFile(n, hashlib.md5(b).hexdigest(), hashlib.sha256(p).hexdigest(), a.shape)
                  for n, b, p, a in zip(NAMES, blobs, payloads, arrays))
    return {"arrays": arrays, "payloads": payloads, "blobs": dict(zip(NAMES, blobs)), "files": files}


class Server:
    """``routes`` maps a path to (mode, body); mode "good" or one of FAULTS. Unknown paths get 404."""

    def __init__(self):
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.hits: list[str] = []
        self.stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                mode, body = server.routes.get(self.path, ("404", b""))
                getattr(self, "serve_" + mode)(body)

            def serve_good(self, body, length=None):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def serve_corrupt(self, body):
                self.serve_good(flip(body))

            def serve_truncated(self, body):        # says the full length, sends half, closes
                self.serve_good(body[: len(body) // 2], length=len(body))

            def serve_chunked_early_end(self, body):   # chunks of the first half, then the connection closes
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                half = body[: len(body) // 2]
                for i in range(0, len(half), 1000):
                    part = half[i:i + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.close_connection = True

            def serve_not_http(self, body):          # an answer that is not HTTP at all
                self.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n")
                self.close_connection = True

            def serve_html(self, body):              # a captive portal or an error page, status 200
                page = b"<!DOCTYPE html><html><body>Please log in to continue</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def serve_404(self, body):
                self.send_error(404)

            def serve_stall(self, body):             # accepts, then never answers
                server.stop.wait(STALL_S)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, mirror: str, blobs: dict[str, bytes], mode: str = "good") -> str:
        """Serve ``blobs`` under /<mirror>/ in ``mode``; returns the mirror's base URL."""
        for name, blob in blobs.items():
            self.routes[f"/{mirror}/{name}"] = (mode, blob)
        return f"{self.base}/{mirror}/"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty TJL_DATA_DIR of its own, and no mirror or local directory from the environment."""
    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TJL_MIRROR", raising=False)
    monkeypatch.delenv("TJL_LOCAL_DATA", raising=False)
    return tmp_path / "cache"


def tiny_sets(tiny, *mirrors: str, name: str = "tiny") -> dict[str, IdxSet]:
    return {name: IdxSet(name, tiny["files"], tuple(mirrors))}


def use_as_mnist(monkeypatch, tiny, *mirrors: str) -> None:
    """Make "mnist" the tiny set, with these mirrors and no local directory (for load_images and the CLI)."""
    monkeypatch.setattr(idx, "SETS", {**idx.SETS, **tiny_sets(tiny, *mirrors, name="mnist")})


@pytest.fixture
def loads_mnist(monkeypatch):
    """The CLI's lesson run becomes what an image lesson does first, load_images("mnist", cfg.source(),
    ...), so the CLI's own checks run for real and nothing trains. Yields the sources it was given."""
    seen = []

    def run_lesson(spec, frameworks, cfg):
        seen.append(cfg.source())
        load_images("mnist", cfg.source(), classes=(0, 1))
        return []

    monkeypatch.setattr(cli, "run_lesson", run_lesson)
    return seen


def files_under(path) -> list[str]:
    """Every file below ``path``, temporaries included, relative to it."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []


def assert_loaded(tiny, arrays):
    for got, want in zip(arrays, tiny["arrays"]):
        np.testing.assert_array_equal(got, want)
    assert arrays[0].dtype == np.uint8 and arrays[0].shape == (6, 28, 28)
    assert arrays[1].dtype == np.int64
