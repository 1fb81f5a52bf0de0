"""datasets: the same batches, items and transforms in both frameworks; slope ~2 by GD and by SGD
(targets, the train() loop and per-step parity: test_every_lesson.py)."""
import numpy as np
import pytest
import torch

from jax_impl import datasets as jx
from shared import specs
from shared.batches import batch_plan
from shared.data import DataSource, export_png_folder, load_images, toy_data
from shared.errors import DataError
from shared.harness import runner
from shared.lessons import datasets as lesson
from torch_impl import datasets as tx

SPEC = specs.get("datasets")
IMPLS = {"torch": tx, "jax": jx}
TOY = SPEC.hp("toy_batches")


def test_batches_of_three_and_drop_last():
    x, y = toy_data()
    bs = TOY["batch_size"]
    full = [bs] * (len(x) // bs)
    for fw, impl in IMPLS.items():
        kept = impl.toy_epoch(bs, shuffle=False, drop_last=False, seed=SPEC.seed)
        assert [len(xb) for xb, _ in kept] == full + [len(x) % bs], fw  # 3, 3, 3, 1
        np.testing.assert_array_equal(np.concatenate([xb for xb, _ in kept]), x)
        np.testing.assert_array_equal(np.concatenate([yb for _, yb in kept]), y)
        dropped = impl.toy_epoch(bs, shuffle=False, drop_last=True, seed=SPEC.seed)
        assert [len(xb) for xb, _ in dropped] == full, fw


def test_unshuffled_batches_are_the_courses_printout():
    """The course prints the batches x [0, 1, 2] y [1, 1, 1]; x [3, 4, 5] y [1, 1, 0]; ...; x [9] y [0]."""
    for impl in (tx, jx):
        batches = impl.toy_epoch(TOY["batch_size"], shuffle=False, drop_last=False, seed=SPEC.seed)
        printed = "; ".join(f"x {xb.astype(int).tolist()} y {yb.astype(int).tolist()}" for xb, yb in batches)
        assert printed == SPEC.course["published"]["toy_batches"]


@pytest.mark.parametrize("epoch", [0, 1])
@pytest.mark.parametrize("shuffle,drop_last", TOY["cases"])
def test_identical_batches_in_both_frameworks(shuffle, drop_last, epoch):
    x, y = toy_data()
    plan = batch_plan(len(x), TOY["batch_size"], shuffle=shuffle, drop_last=drop_last, seed=SPEC.seed, epoch=epoch)
    batches = {fw: impl.toy_epoch(TOY["batch_size"], shuffle=shuffle, drop_last=drop_last, seed=SPEC.seed,
                                  epoch=epoch) for fw, impl in IMPLS.items()}
    for fw, got in batches.items():
        assert len(got) == len(plan), fw
        for (xb, yb), idx in zip(got, plan):
            np.testing.assert_array_equal(xb, x[idx], err_msg=fw)
            np.testing.assert_array_equal(yb, y[idx], err_msg=fw)
    assert lesson.batch_checksum(batches["torch"]) == lesson.batch_checksum(batches["jax"])


def test_shuffle_permutes_each_epoch():
    x, _ = toy_data()
    orders = [np.concatenate([xb for xb, _ in tx.toy_epoch(TOY["batch_size"], shuffle=True, drop_last=False,
                                                           seed=SPEC.seed, epoch=e)]) for e in (0, 1)]
    for order in orders:
        assert sorted(order) == sorted(x) and not np.array_equal(order, x)
    assert not np.array_equal(*orders)
    assert lesson.batch_checksum([(orders[0], np.zeros_like(x))]) != lesson.batch_checksum([(x, np.zeros_like(x))])


def test_exercise_records_name_their_data(runs, cfg):
    for fw, recs in runs.both(SPEC, cfg).items():
        assert recs["toy_batches"].extras["dataset"] == TOY["dataset"]
        assert recs["custom_images"].extras["dataset"] == "mnist"
        assert recs["custom_images"].metrics["items"] == SPEC.hp("custom_images")["items"]
        assert recs["custom_images"].metrics["label_sum"] > 0 and recs["transforms"].metrics["label_sum"] > 0
        assert recs["transforms"].extras["dataset"] == "mnist", fw  # --data embedded: the embedded digits
        assert recs["linear_full"].extras["dataset"] == SPEC.hp("linear_full")["dataset"]


def test_minibatch_sgd_needs_far_fewer_passes(runs, cfg):
    """The motivation for SGD: full batch with the minibatch run's few passes is nowhere near slope 2."""
    full, mini = SPEC.hp("linear_full"), SPEC.hp("linear_minibatch")
    for fw, recs in runs.both(SPEC, cfg).items():
        assert recs["linear_full"].steps == full["epochs"], fw
        assert recs["linear_minibatch"].steps == mini["epochs"] * full["n"] // mini["batch_size"], fw
        assert recs["linear_full"].samples == full["epochs"] / mini["epochs"] * recs["linear_minibatch"].samples
    target = SPEC.targets["linear_full"]
    for fw in IMPLS:
        slope = runner.trace(SPEC, fw, cfg, None, mini["epochs"], "linear_full")["metrics"]["slope"]
        assert not target.check(slope), (fw, slope)


def test_custom_image_dataset_reads_the_source_split(tmp_path):
    hp = SPEC.hp("custom_images")
    n = hp["items"]
    split = lesson.spread(load_images(hp["dataset"], DataSource()), n)
    assert set(split.y_train) == set(range(10))  # spread over the set: every digit, not 64 zeros
    root = export_png_folder(split, tmp_path / "png")
    got = {fw: impl.read_png_folder(root, hp["batch_size"]) for fw, impl in IMPLS.items()}
    for fw, (images, labels) in got.items():
        assert images.shape == (n, 1, 28, 28) and images.dtype == np.uint8, fw
        np.testing.assert_array_equal(images[:, 0], split.x_train, err_msg=fw)
        np.testing.assert_array_equal(labels, split.y_train, err_msg=fw)
    # transform and target_transform are applied per item
    t = tx.CustomImageDataset(root / "training.csv", root / "training", transform=lambda im: im.float() / 255,
                              target_transform=lambda y: 9 - y)
    j = jx.CustomImageDataset(root / "training.csv", root / "training",
                              transform=lambda im: im.astype(np.float32) / np.float32(255),
                              target_transform=lambda y: 9 - y)
    assert len(t) == len(j) == n
    for i in (0, n - 1):
        (ti, tl), (ji, jl) = t[i], j[i]
        assert isinstance(ti, torch.Tensor)
        np.testing.assert_array_equal(ti.numpy(), ji)
        np.testing.assert_array_equal(ji[0], split.x_train[i].astype(np.float32) / np.float32(255))
        assert tl == jl == 9 - split.y_train[i]


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_transforms_identical_in_both_frameworks(dataset):
    """ToTensor + one-hot against x / 255 + jax.nn.one_hot: bit-identical, on the embedded digits and
    on Fashion-MNIST where it is on disk (the data of --data embedded and of --data full)."""
    hp = SPEC.hp("transforms")
    source = DataSource("embedded" if dataset == "mnist" else "fullsize")  # fullsize: local or cached files, no download
    try:
        split = load_images(dataset, source)
    except DataError as e:
        pytest.skip(f"Fashion-MNIST is not on this machine: {e}")
    split = lesson.spread(split, hp["items"])
    images, labels = split.x_train, split.y_train
    assert set(labels) == set(range(hp["classes"]))
    (tx_x, tx_y), (jx_x, jx_y) = (impl.transformed(hp, images, labels) for impl in (tx, jx))
    assert tx_x.shape == jx_x.shape == (len(images), 1, 28, 28) and tx_x.dtype == jx_x.dtype == np.float32
    np.testing.assert_array_equal(tx_x, jx_x)
    np.testing.assert_array_equal(tx_x[:, 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(tx_y, jx_y)
    np.testing.assert_array_equal(tx_y, np.eye(hp["classes"], dtype=np.float32)[labels])


def test_transforms_use_fashion_mnist_with_full_data():
    """The source picks the data set: --data full gives Fashion-MNIST, as the course; embedded the digits."""
    hp = {v: SPEC.settings("transforms", v)["dataset"] for v in ("embedded", "full")}
    assert hp == {"embedded": "mnist", "full": "fashion_mnist"}
    try:
        load_images("fashion_mnist", DataSource("fullsize"))  # local or cached files only, no download
    except DataError as e:
        pytest.skip(f"Fashion-MNIST is not on this machine: {e}")
    hp = SPEC.settings("transforms", "full")
    # the local files: --data full reads them before trying a download
    outs = [impl.transforms(hp, DataSource("full"), SPEC.seed) for impl in (tx, jx)]
    assert outs[0] == outs[1], outs  # the same Fashion-MNIST items, transformed alike
    assert outs[0]["extras"] == {"dataset": "fashion_mnist"} and outs[0]["pixel_sum"] > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", SPEC.parity.variants)
def test_slopes_match_from_torch_weights(runs, cfg, variant, dtype):
    """The fitted slope, torch vs JAX from the same weights (each step's loss: test_every_lesson.py)."""
    pair = runs.traces(SPEC, cfg.replace(dtype=dtype), variant)
    assert abs(pair["torch"]["metrics"]["slope"] - pair["jax"]["metrics"]["slope"]) <= SPEC.targets[variant].framework_tol
