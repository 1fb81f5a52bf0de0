"""Data layer: downloads against a real HTTP server on 127.0.0.1, the cache after each case,
the data source object, the embedded set, and the PNG folder export. (Broken mirrors, one by one:
test_faults.py.)"""
from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from support.disk import disk_full_under, readonly_dir, within
from support.mirrors import NAMES, assert_loaded, files_under, tiny_sets, use_as_mnist
from shared import atomic
from shared.data import DataSource, embedded, export_png_folder, load_images, read_annotations
from shared.data import idx
from shared.data.idx import load_idx, parse_idx
from shared.errors import DataError

FULL = DataSource("full", local=False, progress=False)
OFFLINE = DataSource("fullsize", local=False, progress=False)


def load(tiny, server, source=FULL, **kw):
    return load_idx("tiny", source, sets=tiny_sets(tiny, f"{server.base}/m1/", f"{server.base}/m2/"), **kw)


def test_good_file_is_downloaded_verified_and_cached(tiny, server, cache):
    server.serve("m1", tiny["blobs"])
    assert_loaded(tiny, load(tiny, server))
    assert files_under(cache) == [f"tiny/{n}" for n in sorted(NAMES)]
    for name in NAMES:
        assert (cache / "tiny" / name).read_bytes() == tiny["blobs"][name]
    server.routes.clear()
    server.hits.clear()
    assert_loaded(tiny, load(tiny, server))   # from the cache: no request at all
    assert server.hits == []


def test_404_on_first_mirror_falls_back_to_second(tiny, server, cache):
    server.serve("m2", tiny["blobs"])
    assert_loaded(tiny, load(tiny, server))
    assert server.hits[:2] == [f"/m1/{NAMES[0]}", f"/m2/{NAMES[0]}"]
    assert files_under(cache) == [f"tiny/{n}" for n in sorted(NAMES)]


def test_recompressed_file_with_same_payload_is_accepted(tiny, server, cache):
    recompressed = {n: gzip.compress(p, compresslevel=1, mtime=12345) for n, p in zip(NAMES, tiny["payloads"])}
    assert all(recompressed[n] != tiny["blobs"][n] for n in NAMES)
    server.serve("m1", recompressed)
    assert_loaded(tiny, load(tiny, server))
    assert (cache / "tiny" / NAMES[0]).read_bytes() == recompressed[NAMES[0]]


def test_recompressed_file_with_other_payload_is_refused(tiny, server, cache):
    other = bytearray(tiny["payloads"][0])
    other[-1] ^= 1                                   # one pixel, still a valid IDX file
    server.serve("m1", {**tiny["blobs"], NAMES[0]: gzip.compress(bytes(other))})
    with pytest.raises(DataError, match="checksum mismatch"):
        load(tiny, server)
    assert files_under(cache) == []


def test_corrupt_cache_entry_is_deleted_and_fetched_again(tiny, server, cache, capsys):
    server.serve("m1", tiny["blobs"])
    load(tiny, server)
    (cache / "tiny" / NAMES[2]).write_bytes(b"\x1f\x8bgarbage")
    assert_loaded(tiny, load(tiny, server))
    assert (cache / "tiny" / NAMES[2]).read_bytes() == tiny["blobs"][NAMES[2]]
    assert "deleted, fetching again" in capsys.readouterr().err


def test_corrupt_cache_offline_is_deleted_and_not_said_to_be_fetched(tiny, server, cache, capsys):
    """Downloads off: the bad entry goes, and the one line says so without promising a fetch."""
    server.serve("m1", tiny["blobs"])
    load(tiny, server)
    (cache / "tiny" / NAMES[1]).write_bytes(tiny["blobs"][NAMES[1]][:-3])
    with pytest.raises(DataError) as e:
        load(tiny, server, OFFLINE)
    msg = str(e.value)
    assert "the cached copy was bad" in msg and "is deleted" in msg and "fetching again" not in msg
    assert "fetching again" not in capsys.readouterr().err
    assert f"tiny/{NAMES[1]}" not in files_under(cache)


def test_bad_cache_entry_deleted_by_another_process_first(tiny, server, cache, monkeypatch):
    """Two processes meet the same bad entry: the other one deletes it between our read and ours."""
    server.serve("m1", tiny["blobs"])
    load(tiny, server)
    bad = cache / "tiny" / NAMES[0]
    bad.write_bytes(b"not a gzip file")
    real = idx.verified_payload

    def other_process_deletes_first(blob, f):
        if blob == b"not a gzip file":
            bad.unlink()
        return real(blob, f)

    monkeypatch.setattr(idx, "verified_payload", other_process_deletes_first)
    assert_loaded(tiny, load(tiny, server))
    assert bad.read_bytes() == tiny["blobs"][NAMES[0]]


def test_mirror_option_and_env_are_tried_first(tiny, server, cache, monkeypatch):
    mine = server.serve("mine", tiny["blobs"])
    assert_loaded(tiny, load(tiny, server, DataSource("full", mirror=mine.rstrip("/"), local=False, progress=False)))
    assert server.hits[0] == f"/mine/{NAMES[0]}" and all(h.startswith("/mine/") for h in server.hits)
    for p in (cache / "tiny").iterdir():
        p.unlink()
    server.hits.clear()
    monkeypatch.setenv("TJL_MIRROR", mine)
    assert_loaded(tiny, load(tiny, server))
    assert all(h.startswith("/mine/") for h in server.hits)


def test_local_directory_is_used_without_download(tiny, server, cache, tmp_path, monkeypatch):
    local = tmp_path / "local"
    local.mkdir()
    for name, payload in zip(NAMES, tiny["payloads"]):   # uncompressed files are accepted too
        (local / name.removesuffix(".gz")).write_bytes(payload)
    monkeypatch.setenv("TJL_LOCAL_DATA", str(local))
    assert_loaded(tiny, load(tiny, server, DataSource("fullsize", progress=False)))
    assert server.hits == [] and files_under(cache) == []


def test_local_directories_off_skips_them(tiny, server, cache, tmp_path, monkeypatch):
    """DataSource(local=False) (--no-local-data): TJL_LOCAL_DATA and the built-in dirs are not read."""
    local, builtin = tmp_path / "local", tmp_path / "builtin"
    for d in (local, builtin):
        d.mkdir()
        for name, blob in tiny["blobs"].items():
            (d / name).write_bytes(blob)
    monkeypatch.setenv("TJL_LOCAL_DATA", str(local))
    sets = {"tiny": idx.IdxSet("tiny", tiny["files"], (), (str(builtin),))}
    assert_loaded(tiny, load_idx("tiny", DataSource("fullsize", progress=False), sets=sets))
    with pytest.raises(DataError) as e:                 # the files are good: reading them would succeed
        load_idx("tiny", OFFLINE, sets=sets)
    msg = str(e.value)
    assert "local directories are off" in msg and "TJL_LOCAL_DATA" not in msg
    assert msg.endswith("run the lesson once with --data full, which downloads it into the cache")


def test_missing_local_data_dir_is_one_warning_line(tiny, server, cache, tmp_path, monkeypatch, capsys):
    use_as_mnist(monkeypatch, tiny, server.serve("m1", tiny["blobs"]))
    monkeypatch.setenv("TJL_LOCAL_DATA", str(tmp_path / "no-such-dir"))
    load_images("mnist", DataSource("full", progress=False))
    assert capsys.readouterr().err.splitlines() == [f"warning: TJL_LOCAL_DATA={tmp_path / 'no-such-dir'} "
                                                    "is not a directory; ignored"]
    load_images("mnist", DataSource("full", local=False, progress=False))   # not searched: nothing to warn of
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("progress", [True, False])
def test_download_bars_follow_progress(tiny, server, cache, capsys, progress):
    server.serve("m1", tiny["blobs"])
    load(tiny, server, DataSource("full", local=False, progress=progress))
    err = capsys.readouterr().err
    assert (NAMES[0] in err) is progress, err


def test_files_written_respect_the_umask(tiny, server, cache, tmp_path):
    old = os.umask(0o022)
    try:
        server.serve("m1", tiny["blobs"])
        load(tiny, server)
        written = atomic.atomic_write_text(tmp_path / "out" / "r.json", "{}")
    finally:
        os.umask(old)
    assert (cache / "tiny" / NAMES[0]).stat().st_mode & 0o777 == 0o644
    assert written.stat().st_mode & 0o777 == 0o644


def test_parse_idx_rejects_wrong_header_and_size(tiny):
    payload = tiny["payloads"][0]
    with pytest.raises(ValueError):
        parse_idx(payload[:-1], (6, 28, 28))
    with pytest.raises(ValueError):
        parse_idx(payload, (7, 28, 28))


# --- an unusable cache (TJL_DATA_DIR) ------------------------------------------------------------

@pytest.mark.parametrize("kind", ["regular_file", "readonly_dir", "dir_where_a_cache_file_goes"])
def test_unusable_cache_dir_is_one_line_before_any_download(tiny, server, cache, tmp_path, monkeypatch, kind):
    if kind == "regular_file":
        cache.write_text("not a directory")
    elif kind == "readonly_dir":
        monkeypatch.setenv("TJL_DATA_DIR", str(readonly_dir(tmp_path) / "tjl-cache"))
    else:
        (cache / "tiny" / NAMES[0]).mkdir(parents=True)
    server.serve("m1", tiny["blobs"])
    with pytest.raises(DataError) as e:
        load(tiny, server)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("the data cache is unusable (")
    assert msg.endswith("set TJL_DATA_DIR to a writable directory with free space")
    assert {"regular_file": "is not a directory", "readonly_dir": "is not writable",
            "dir_where_a_cache_file_goes": "is a directory, where a cache file goes"}[kind] in msg
    assert server.hits == []


@pytest.mark.parametrize("kind", ["regular_file", "dir_where_a_cache_file_goes"])
def test_unusable_cache_dir_for_the_embedded_digits_is_one_line(tmp_path, monkeypatch, kind):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TJL_DATA_DIR", str(cache))
    if kind == "regular_file":
        cache.write_text("not a directory")
    else:
        (cache / "embedded" / "mnist_5k.npz").mkdir(parents=True)
    with pytest.raises(DataError, match=r"^the data cache is unusable \(.*\); set TJL_DATA_DIR"):
        load_images("mnist", DataSource())


def test_full_disk_while_caching_leaves_no_temporary(tiny, server, cache, monkeypatch):
    server.serve("m1", tiny["blobs"])
    disk_full_under(monkeypatch, cache)
    with pytest.raises(DataError, match="No space left on device"):
        load(tiny, server)
    assert files_under(cache) == []


# --- the embedded default -----------------------------------------------------------------------

EMBEDDED = DataSource()


def test_embedded_split_shapes_labels_and_stratification():
    s = load_images("mnist", EMBEDDED)
    assert s.x_train.shape == (4000, 28, 28) and s.x_test.shape == (1000, 28, 28)
    assert s.x_train.dtype == np.uint8 and s.y_train.dtype == np.int64
    assert np.bincount(s.y_train).tolist() == [400] * 10
    assert np.bincount(s.y_test).tolist() == [100] * 10
    x, _ = embedded.load_embedded()
    train, test = embedded.stratified_split(embedded.load_embedded()[1])
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(x)
    assert s.x_train.max() == 255 and s.x_train.mean() > 20      # real digits, not blanks


def test_embedded_is_deterministic_and_class_selection_keeps_order():
    a, b = load_images("mnist", EMBEDDED), load_images("mnist", EMBEDDED, classes=(0, 1, 2))
    np.testing.assert_array_equal(a.x_train, load_images("mnist", EMBEDDED).x_train)
    assert sorted(set(b.y_train.tolist())) == [0, 1, 2] and len(b.y_train) == 1200
    np.testing.assert_array_equal(b.x_train, a.x_train[a.y_train <= 2])
    x, y, xt, yt = load_images("mnist", EMBEDDED, classes=(0, 1)).flat()
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


def test_embedded_npz_cache_with_other_digits_of_the_right_shape_is_rebuilt(tmp_path, monkeypatch):
    """The .npz is checksummed, not only shape-checked: one changed pixel or label is caught."""
    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path))
    x, y = embedded.load_embedded()
    npz = tmp_path / "embedded" / "mnist_5k.npz"
    changed_pixel, changed_label = x.copy(), y.copy()
    changed_pixel[7, 14, 14] ^= 1
    changed_label[7] = (changed_label[7] + 1) % 10
    for bad_x, bad_y in ((changed_pixel, y), (x, changed_label)):
        np.savez(npz, x=bad_x, y=bad_y)
        x2, y2 = embedded.load_embedded()
        np.testing.assert_array_equal(x2, x)
        np.testing.assert_array_equal(y2, y)
        with np.load(npz) as z:
            assert embedded.digest(z["x"], z["y"]) == embedded.SHA256


def test_fashion_mnist_has_no_embedded_copy_even_when_present_locally(tiny, tmp_path, monkeypatch):
    """--data embedded is the embedded digits on every machine, never a local full data set."""
    local = tmp_path / "local"
    local.mkdir()
    for name, blob in tiny["blobs"].items():
        (local / name).write_bytes(blob)
    monkeypatch.setattr(idx, "SETS", {**idx.SETS, "fashion_mnist": idx.IdxSet("fashion_mnist", tiny["files"], (),
                                                                               (str(local),))})
    assert_loaded(tiny, load_idx("fashion_mnist", DataSource("fullsize")))   # it is there
    with pytest.raises(DataError) as e:
        load_images("fashion_mnist", EMBEDDED)
    assert str(e.value) == ("fashion_mnist has no embedded copy; pass --data full (a local directory, the cache "
                            "or a download)")


def test_fullsize_offline_without_data_names_the_fix_that_works(tiny, cache, monkeypatch):
    """fullsize never downloads, so the error says --data full (which does), not --mirror."""
    monkeypatch.setattr(idx, "SETS", {name: idx.IdxSet(name, tiny["files"], ("http://127.0.0.1:9/",))
                                      for name in ("mnist", "fashion_mnist")})
    with pytest.raises(DataError) as e:
        load_images("mnist", DataSource("fullsize", local=False), classes=(0, 1))
    msg = str(e.value)
    assert "--mirror" not in msg and "\n" not in msg
    assert msg.endswith("run the lesson once with --data full, which downloads it into the cache")
    assert files_under(cache) == []


# --- PNG folder export --------------------------------------------------------------------------

def test_png_folder_round_trips_through_pil(tmp_path):
    from PIL import Image

    s = load_images("mnist", EMBEDDED)
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
        splits = {c: load_images("mnist", DataSource("fullsize"), classes=c) for c in (*MNIST_TRAIN_ROWS, None)}
    except DataError as e:
        pytest.skip(f"neither full MNIST nor Fashion-MNIST is local: {e}")
    for classes, rows in MNIST_TRAIN_ROWS.items():
        assert splits[classes].x_train.shape == (rows, 28, 28)
        assert sorted(set(splits[classes].y_train.tolist())) == list(classes)
    assert splits[None].x_train.shape == (60000, 28, 28) and splits[None].x_test.shape == (10000, 28, 28)


# -- a FIFO (or any file that is not a regular one) where a cache file goes: a bad entry, not a hang --

def test_a_fifo_in_the_cache_is_a_bad_entry_that_is_replaced(tiny, server, cache, capsys):
    server.serve("m1", tiny["blobs"])
    load(tiny, server)
    fifo = cache / "tiny" / NAMES[0]
    fifo.unlink()
    os.mkfifo(fifo)
    with within(20):
        assert_loaded(tiny, load(tiny, server))
    assert fifo.is_file() and fifo.read_bytes() == tiny["blobs"][NAMES[0]]
    assert "not a regular file; deleted, fetching again" in capsys.readouterr().err


def test_a_fifo_in_place_of_the_embedded_digits_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("TJL_DATA_DIR", str(tmp_path))
    npz = tmp_path / "embedded" / "mnist_5k.npz"
    npz.parent.mkdir()
    os.mkfifo(npz)
    with within(60):
        x, y = embedded.load_embedded()
    assert x.shape == (5000, 28, 28) and npz.is_file()
