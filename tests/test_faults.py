"""Fault injection: real IDX files served from 127.0.0.1 in every way a mirror breaks.

Each broken answer is met twice: as the only mirror (one line naming the mirror's problem and the
fix, nothing in the cache, no temporary left) and before a good mirror (the good one serves, and
only the four verified files are cached). The CLI checks do not train: the lesson run is replaced
by the data loading every image lesson starts with, load_images(name, cfg.source(), ...).
"""
from __future__ import annotations

import pytest

from support.mirrors import FAULTS, NAMES, assert_loaded, files_under, tiny_sets, use_as_mnist
from shared import cli
from shared.data import DataSource, load_images
from shared.data.idx import load_idx
from shared.errors import DataError

SOURCE = DataSource("full", local=False, progress=False)
TIMEOUT = 0.5          # seconds: what a stalled mirror gets before the next is tried
SAYS = {               # what the one-line error says of each broken mirror
    "corrupt": "not a readable gzip file (CRC check failed)",
    "truncated": "not a readable gzip file",
    "chunked_early_end": "the response ended early",
    "not_http": "not an HTTP answer (BadStatusLine)",
    "html": "checksum mismatch",
    "404": "HTTP 404",
    "stall": "timed out",
}


def test_every_fault_has_its_message():
    assert set(SAYS) == set(FAULTS)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_only_mirror_is_one_line_and_leaves_the_cache_empty(tiny, server, cache, fault):
    bad = server.serve("bad", tiny["blobs"], fault)
    with pytest.raises(DataError) as e:
        load_idx("tiny", SOURCE, sets=tiny_sets(tiny, bad), timeout=TIMEOUT)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"tiny: no valid {NAMES[0]} (local directories are off; {bad}: {SAYS[fault]}")
    assert msg.endswith("pass --mirror URL (or set TJL_MIRROR)")
    assert files_under(cache) == []          # nothing kept, no temporary left


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_mirror_moves_on_to_the_next(tiny, server, cache, fault):
    bad, good = server.serve("bad", tiny["blobs"], fault), server.serve("good", tiny["blobs"])
    assert_loaded(tiny, load_idx("tiny", SOURCE, sets=tiny_sets(tiny, bad, good), timeout=TIMEOUT))
    assert files_under(cache) == [f"tiny/{n}" for n in sorted(NAMES)]
    for name in NAMES:
        assert (cache / "tiny" / name).read_bytes() == tiny["blobs"][name]
    assert [h.split("/")[1] for h in server.hits] == ["bad", "good"] * 4


def test_the_first_file_cached_is_kept_when_a_later_one_fails(tiny, server, cache):
    """Each file is verified and cached on its own: a failure later leaves the earlier ones good."""
    blobs = dict(tiny["blobs"])
    server.serve("m", {n: blobs[n] for n in NAMES[:2]})
    server.serve("m", {n: blobs[n] for n in NAMES[2:]}, "chunked_early_end")
    with pytest.raises(DataError, match="the response ended early"):
        load_idx("tiny", SOURCE, sets=tiny_sets(tiny, f"{server.base}/m/"), timeout=TIMEOUT)
    assert files_under(cache) == [f"tiny/{n}" for n in sorted(NAMES[:2])]


# --- the same, through the `lessons` command (no training) -----------------------------------------

@pytest.mark.parametrize("fault", ["chunked_early_end", "not_http", "truncated", "html"])
def test_cli_with_a_broken_mirror_is_one_line_exit_2_and_an_empty_cache(tiny, server, cache, monkeypatch,
                                                                       loads_mnist, capsys, tmp_path, fault):
    use_as_mnist(monkeypatch, tiny)                       # no built-in mirror: only --mirror
    bad = server.serve("bad", tiny["blobs"], fault)
    code = cli.main(["run", "gd_vs_sgd", "--data", "full", "--mirror", bad, "--no-local-data", "--no-progress",
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"lessons: error: mnist: no valid {NAMES[0]} (local directories are off; "
                             f"{bad}: {SAYS[fault]}")
    assert files_under(cache) == [] and not (tmp_path / "out").exists()


def test_cli_mirror_option_reaches_the_download(tiny, server, cache, monkeypatch, loads_mnist, tmp_path):
    """--mirror is the first place every image lesson downloads from (not only TJL_MIRROR)."""
    use_as_mnist(monkeypatch, tiny)
    mine = server.serve("mine", tiny["blobs"])
    assert cli.main(["run", "gd_vs_sgd", "--data", "full", "--mirror", mine, "--no-progress",
                     "--out", str(tmp_path / "out")]) == 0
    assert loads_mnist == [DataSource("full", mirror=mine, local=True, progress=False)]
    assert server.hits == [f"/mine/{n}" for n in NAMES]
    assert files_under(cache) == [f"mnist/{n}" for n in sorted(NAMES)]


@pytest.mark.parametrize("data", ["embedded", "fullsize"])
def test_cli_without_downloads_never_suggests_a_mirror(cache, monkeypatch, capsys, tmp_path, data):
    """--data embedded (quickstart's Fashion-MNIST) and --data fullsize (bench) do not download."""
    monkeypatch.setattr(cli, "run_lesson", lambda spec, fws, cfg: load_images("fashion_mnist", cfg.source()))
    code = cli.main(["run", "quickstart", "--data", data, "--no-local-data", "--no-progress",
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--mirror" not in err[0], err
    assert "--data full" in err[0]
