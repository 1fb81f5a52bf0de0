"""Data layer: downloads against a real HTTP server on 127.0.0.1, the cache after each case,
the embedded set, and the PNG folder export."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

from shared.data import embedded, export_png_folder, load_images, read_annotations
from shared.data import idx
from shared.data.idx import IdxFile, IdxSet, load_idx, parse_idx
from shared.errors import DataError

NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def idx_bytes(a: np.ndarray) -> bytes:
    magic = 0x803 if a.ndim == 3 else 0x801
    return b"".join(int(v).to_bytes(4, "big") for v in (magic, *a.shape)) + a.astype(np.uint8).tobytes()


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


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1; ``routes`` maps a path to the bytes it serves (else 404)."""
    routes: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            if body is not None:
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, routes, hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TJL_MIRROR", raising=False)
    monkeypatch.delenv("TJL_LOCAL_DATA", raising=False)
    return tmp_path / "cache" / "tiny"


def serve(routes, mirror, blobs):
    for name, blob in blobs.items():
        routes[f"/{mirror}/{name}"] = blob


def load(tiny, base, **kw):
    sets = {"tiny": IdxSet("tiny", tiny["files"], (f"{base}/m1/", f"{base}/m2/"))}
    return load_idx("tiny", sets=sets, **kw)


def assert_loaded(tiny, arrays):
    for got, want in zip(arrays, tiny["arrays"]):
        np.testing.assert_array_equal(got, want)
    assert arrays[0].dtype == np.uint8 and arrays[0].shape == (6, 28, 28)
    assert arrays[1].dtype == np.int64


def flip(blob: bytes) -> bytes:
    """One byte in the middle inverted: a corrupted download."""
    i = len(blob) // 2
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]


def cache_listing(cache):
    """Every file in the cache dir, temporaries included."""
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_good_file_is_downloaded_verified_and_cached(tiny, server, cache):
    base, routes, hits = server
    serve(routes, "m1", tiny["blobs"])
    assert_loaded(tiny, load(tiny, base))
    assert cache_listing(cache) == sorted(NAMES)
    for name in NAMES:
        assert (cache / name).read_bytes() == tiny["blobs"][name]
    routes.clear()
    hits.clear()
    assert_loaded(tiny, load(tiny, base))   # from the cache: no request at all
    assert hits == []


def test_404_on_first_mirror_falls_back_to_second(tiny, server, cache):
    base, routes, hits = server
    serve(routes, "m2", tiny["blobs"])
    assert_loaded(tiny, load(tiny, base))
    assert hits[:2] == [f"/m1/{NAMES[0]}", f"/m2/{NAMES[0]}"]
    assert cache_listing(cache) == sorted(NAMES)


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_bad_file_is_never_used_and_next_mirror_serves(tiny, server, cache, damage):
    base, routes, _ = server
    bad = {n: flip(b) if damage == "corrupt" else b[: len(b) // 2] for n, b in tiny["blobs"].items()}
    serve(routes, "m1", bad)
    serve(routes, "m2", tiny["blobs"])
    assert_loaded(tiny, load(tiny, base))
    for name in NAMES:
        assert (cache / name).read_bytes() == tiny["blobs"][name]


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_bad_file_everywhere_is_one_line_error_and_empty_cache(tiny, server, cache, damage):
    base, routes, _ = server
    for m in ("m1", "m2"):
        serve(routes, m, {n: (b[:-9] + b"x" * 9) if damage == "corrupt" else b[:-20]
                          for n, b in tiny["blobs"].items()})
    with pytest.raises(DataError) as e:
        load(tiny, base)
    assert "\n" not in str(e.value) and "--mirror" in str(e.value)
    assert cache_listing(cache) == []        # nothing written, no temporary left behind


def test_recompressed_file_with_same_payload_is_accepted(tiny, server, cache):
    base, routes, _ = server
    recompressed = {n: gzip.compress(p, compresslevel=1, mtime=12345)
                    for n, p in zip(NAMES, tiny["payloads"])}
    assert all(recompressed[n] != tiny["blobs"][n] for n in NAMES)
    serve(routes, "m1", recompressed)
    assert_loaded(tiny, load(tiny, base))
    assert (cache / NAMES[0]).read_bytes() == recompressed[NAMES[0]]


def test_recompressed_file_with_other_payload_is_refused(tiny, server, cache):
    base, routes, _ = server
    other = bytearray(tiny["payloads"][0])
    other[-1] ^= 1                                   # one pixel, still a valid IDX file
    serve(routes, "m1", {**tiny["blobs"], NAMES[0]: gzip.compress(bytes(other))})
    with pytest.raises(DataError, match="checksum mismatch"):
        load(tiny, base)
    assert NAMES[0] not in cache_listing(cache)


def test_corrupt_cache_entry_is_deleted_and_fetched_again(tiny, server, cache):
    base, routes, _ = server
    serve(routes, "m1", tiny["blobs"])
    load(tiny, base)
    (cache / NAMES[2]).write_bytes(b"\x1f\x8bgarbage")
    assert_loaded(tiny, load(tiny, base))
    assert (cache / NAMES[2]).read_bytes() == tiny["blobs"][NAMES[2]]


def test_corrupt_cache_offline_is_deleted_and_reported(tiny, server, cache):
    base, routes, _ = server
    serve(routes, "m1", tiny["blobs"])
    load(tiny, base)
    (cache / NAMES[1]).write_bytes(tiny["blobs"][NAMES[1]][:-3])
    with pytest.raises(DataError, match="downloads are off"):
        load(tiny, base, download=False)
    assert NAMES[1] not in cache_listing(cache)


def test_mirror_option_and_env_are_tried_first(tiny, server, cache, monkeypatch):
    base, routes, hits = server
    serve(routes, "mine", tiny["blobs"])
    assert_loaded(tiny, load(tiny, base, mirror=f"{base}/mine"))
    assert hits[0] == f"/mine/{NAMES[0]}" and all(h.startswith("/mine/") for h in hits)
    for p in cache.iterdir():
        p.unlink()
    hits.clear()
    monkeypatch.setenv("TJL_MIRROR", f"{base}/mine/")
    assert_loaded(tiny, load(tiny, base))
    assert all(h.startswith("/mine/") for h in hits)


def test_local_directory_is_used_without_download(tiny, server, cache, tmp_path, monkeypatch):
    base, _, hits = server
    local = tmp_path / "local"
    local.mkdir()
    for name, payload in zip(NAMES, tiny["payloads"]):   # uncompressed files are accepted too
        (local / name.removesuffix(".gz")).write_bytes(payload)
    monkeypatch.setenv("TJL_LOCAL_DATA", str(local))
    assert_loaded(tiny, load(tiny, base, download=False))
    assert hits == [] and cache_listing(cache) == []


def test_parse_idx_rejects_wrong_header_and_size(tiny):
    payload = tiny["payloads"][0]
    with pytest.raises(ValueError):
        parse_idx(payload[:-1], (6, 28, 28))
    with pytest.raises(ValueError):
        parse_idx(payload, (7, 28, 28))


# --- the embedded default -----------------------------------------------------------------------

def test_embedded_split_shapes_labels_and_stratification():
    s = load_images("mnist", "embedded")
    assert s.x_train.shape == (4000, 28, 28) and s.x_test.shape == (1000, 28, 28)
    assert s.x_train.dtype == np.uint8 and s.y_train.dtype == np.int64
    assert np.bincount(s.y_train).tolist() == [400] * 10
    assert np.bincount(s.y_test).tolist() == [100] * 10
    x, _ = embedded.load_embedded()
    train, test = embedded.stratified_split(embedded.load_embedded()[1])
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(x)
    assert s.x_train.max() == 255 and s.x_train.mean() > 20      # real digits, not blanks


def test_embedded_is_deterministic_and_class_selection_keeps_order():
    a, b = load_images("mnist", "embedded"), load_images("mnist", "embedded", classes=(0, 1, 2))
    np.testing.assert_array_equal(a.x_train, load_images("mnist", "embedded").x_train)
    assert sorted(set(b.y_train.tolist())) == [0, 1, 2] and len(b.y_train) == 1200
    np.testing.assert_array_equal(b.x_train, a.x_train[a.y_train <= 2])
    x, y, xt, yt = load_images("mnist", "embedded", classes=(0, 1)).flat()
    assert x.shape == (800, 784) and x.dtype == np.float32 and 0 <= x.min() and x.max() == 1.0
    assert xt.shape == (200, 784)


def test_embedded_npz_cache_is_rebuilt_when_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path))
    x, y = embedded.load_embedded()
    npz = tmp_path / "embedded" / "mnist_5k.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    x2, y2 = embedded.load_embedded()
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert np.load(npz)["x"].shape == (5000, 28, 28)


def test_fashion_mnist_offline_without_files_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path))
    no_local = {k: IdxSet(v.name, v.files, v.mirrors, ()) for k, v in idx.SETS.items()}
    monkeypatch.setattr(idx, "SETS", no_local)
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        load_images("fashion_mnist", "embedded")


# --- PNG folder export --------------------------------------------------------------------------

def test_png_folder_round_trips_through_pil(tmp_path):
    from PIL import Image

    s = load_images("mnist", "embedded")
    root = export_png_folder(s, tmp_path / "png", per_part=12)
    rows = read_annotations(root / "training.csv")
    assert len(rows) == 12 and len(read_annotations(root / "testing.csv")) == 12
    for i, (name, label) in enumerate(rows):
        assert label == s.y_train[i] and name.startswith(f"{label}/")
        np.testing.assert_array_equal(np.asarray(Image.open(root / "training" / name)), s.x_train[i])
    assert [p.name for p in tmp_path.iterdir()] == ["png"]     # no temporary directory left


def test_fullsize_has_mnist_shapes():
    """--data fullsize (benchmarks): MNIST's row counts, from full MNIST or Fashion-MNIST's images."""
    from shared.data.images import MNIST_TRAIN_ROWS

    try:
        splits = {c: load_images("mnist", "fullsize", classes=c) for c in (*MNIST_TRAIN_ROWS, None)}
    except DataError as e:
        pytest.skip(f"neither full MNIST nor Fashion-MNIST is local: {e}")
    for classes, rows in MNIST_TRAIN_ROWS.items():
        assert splits[classes].x_train.shape == (rows, 28, 28)
        assert sorted(set(splits[classes].y_train.tolist())) == list(classes)
    assert splits[None].x_train.shape == (60000, 28, 28) and splits[None].x_test.shape == (10000, 28, 28)
