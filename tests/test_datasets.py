"""datasets: the same batches, items and transforms in both frameworks; slope ~2 by GD and by SGD."""
import numpy as np
import pytest

from jax_impl import datasets as jx
from shared import parity, specs
from shared.batches import batch_plan
from shared.data import export_png_folder, load_images, toy_data
from shared.errors import DataError
from shared.specs import datasets as lesson
from torch_impl import datasets as tx

# torchvision 0.29 deprecates read_image (warns on every call); the lesson follows the tutorial.
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")

SPEC = specs.get("datasets")
IMPLS = {"torch": tx, "jax": jx}
TOY = SPEC.hp("toy_batches")


def test_batches_of_three_and_drop_last():
    x, y = toy_data()
    bs = TOY["batch_size"]
    full = [bs] * (len(x) // bs)
    for fw, impl in IMPLS.items():
        kept = impl.toy_batches(bs, shuffle=False, drop_last=False, seed=SPEC.seed)
        assert [len(xb) for xb, _ in kept] == full + [len(x) % bs], fw  # 3, 3, 3, 1
        np.testing.assert_array_equal(np.concatenate([xb for xb, _ in kept]), x)
        np.testing.assert_array_equal(np.concatenate([yb for _, yb in kept]), y)
        dropped = impl.toy_batches(bs, shuffle=False, drop_last=True, seed=SPEC.seed)
        assert [len(xb) for xb, _ in dropped] == full, fw


@pytest.mark.parametrize("epoch", [0, 1])
@pytest.mark.parametrize("shuffle,drop_last", TOY["cases"])
def test_identical_batches_in_both_frameworks(shuffle, drop_last, epoch):
    x, y = toy_data()
    plan = batch_plan(len(x), TOY["batch_size"], shuffle=shuffle, drop_last=drop_last, seed=SPEC.seed, epoch=epoch)
    batches = {fw: impl.toy_batches(TOY["batch_size"], shuffle=shuffle, drop_last=drop_last, seed=SPEC.seed,
                                    epoch=epoch) for fw, impl in IMPLS.items()}
    for fw, got in batches.items():
        assert len(got) == len(plan), fw
        for (xb, yb), idx in zip(got, plan):
            np.testing.assert_array_equal(xb, x[idx], err_msg=fw)
            np.testing.assert_array_equal(yb, y[idx], err_msg=fw)
    assert lesson.batch_checksum(batches["torch"]) == lesson.batch_checksum(batches["jax"])


def test_shuffle_permutes_each_epoch():
    x, _ = toy_data()
    orders = [np.concatenate([xb for xb, _ in tx.toy_batches(TOY["batch_size"], shuffle=True, drop_last=False,
                                                                seed=SPEC.seed, epoch=e)]) for e in (0, 1)]
    for order in orders:
        assert sorted(order) == sorted(x) and not np.array_equal(order, x)
    assert not np.array_equal(*orders)
    assert lesson.batch_checksum([(orders[0], np.zeros_like(x))]) != lesson.batch_checksum([(x, np.zeros_like(x))])


@pytest.fixture(scope="module")
def runs():
    return {}  # device -> {framework: {variant: Record}}


@pytest.fixture
def records(cfg, runs):
    if cfg.device not in runs:
        runs[cfg.device] = {fw: {r.variant: r for r in impl.run(SPEC, cfg)} for fw, impl in IMPLS.items()}
    return runs[cfg.device]


@pytest.mark.parametrize("variant", SPEC.variants)
def test_spec_targets_in_both_frameworks(records, variant):
    target = SPEC.targets[variant]
    values = {fw: recs[variant].metrics[target.metric] for fw, recs in records.items()}
    assert all(target.check(v) for v in values.values()), values
    assert abs(values["torch"] - values["jax"]) <= target.framework_tol, values


def test_minibatch_sgd_needs_far_fewer_passes(records, cfg):
    """The motivation for SGD: full batch with the minibatch run's few passes is nowhere near slope 2."""
    full, mini = SPEC.hp("linear_full"), SPEC.hp("linear_minibatch")
    for fw, recs in records.items():
        assert recs["linear_full"].steps == full["epochs"], fw
        assert recs["linear_minibatch"].steps == mini["epochs"] * full["n"] // mini["batch_size"], fw
        assert recs["linear_full"].samples == full["epochs"] / mini["epochs"] * recs["linear_minibatch"].samples
    target = SPEC.targets["linear_full"]
    for fw, impl in IMPLS.items():
        device = impl._common.select_device(cfg.device)
        if fw == "jax":
            with impl._common.scope(cfg, device):
                model = impl.fit_linear(full, cfg, device, seed=SPEC.seed, epochs=mini["epochs"])[0]
        else:
            model = impl.fit_linear(full, cfg, device, seed=SPEC.seed, epochs=mini["epochs"])[0]
        assert not target.check(impl.slope(model)), (fw, impl.slope(model))


def test_custom_image_dataset_reads_the_source_split(tmp_path):
    hp = SPEC.hp("custom_images")
    n = hp["per_part"]
    split = load_images(hp["dataset"], "embedded")
    root = export_png_folder(split, tmp_path / "png", per_part=n)
    got = {fw: impl.custom_images(hp, root) for fw, impl in IMPLS.items()}
    for fw, (images, labels) in got.items():
        assert images.shape == (n, 1, 28, 28) and images.dtype == np.uint8, fw
        np.testing.assert_array_equal(images[:, 0], split.x_train[:n], err_msg=fw)
        np.testing.assert_array_equal(labels, split.y_train[:n], err_msg=fw)
    # transform and target_transform are applied per item
    t = tx.CustomImageDataset(root / "training.csv", root / "training", transform=lambda im: im.float() / 255,
                              target_transform=lambda y: 9 - y)
    j = jx.CustomImageDataset(root / "training.csv", root / "training",
                              transform=lambda im: im.astype(np.float32) / np.float32(255), target_transform=lambda y: 9 - y)
    assert len(t) == len(j) == n
    for i in (0, n - 1):
        (ti, tl), (ji, jl) = t[i], j[i]
        np.testing.assert_array_equal(ti.numpy(), ji)
        np.testing.assert_array_equal(ji[0], split.x_train[i].astype(np.float32) / np.float32(255))
        assert tl == jl == 9 - split.y_train[i]


@pytest.mark.parametrize("source", ["present", "embedded_mnist"])
def test_transforms_identical_in_both_frameworks(source):
    """ToTensor + one-hot against x / 255 + jax.nn.one_hot: bit-identical (Fashion-MNIST where present)."""
    hp = SPEC.hp("transforms")
    split = lesson.transform_split("embedded")[1] if source == "present" else load_images("mnist", "embedded")
    images, labels = split.x_train[:hp["items"]], split.y_train[:hp["items"]]
    (tx_x, tx_y), (jx_x, jx_y) = (impl.transformed(hp, images, labels) for impl in (tx, jx))
    assert tx_x.shape == jx_x.shape == (len(images), 1, 28, 28) and tx_x.dtype == jx_x.dtype == np.float32
    np.testing.assert_array_equal(tx_x, jx_x)
    np.testing.assert_array_equal(tx_x[:, 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(tx_y, jx_y)
    np.testing.assert_array_equal(tx_y, np.eye(hp["classes"], dtype=np.float32)[labels])


def test_transforms_fall_back_to_mnist_without_fashion(monkeypatch, capsys):
    real = lesson.load_images

    def no_fashion(dataset, source, **kw):
        if dataset == "fashion_mnist":
            raise DataError("fashion_mnist: not found")
        return real(dataset, source, **kw)

    monkeypatch.setattr(lesson, "load_images", no_fashion)
    name, split = lesson.transform_split("embedded")
    assert name == "mnist" and split.x_train.shape[1:] == (28, 28)
    assert "embedded MNIST" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", SPEC.parity["variants"])
def test_linear_losses_match_from_torch_weights(cfg, variant, dtype):
    cfg = cfg.replace(dtype=dtype)
    weights = tx.init_weights(SPEC, SPEC.seed, variant=variant)
    t, j = (impl.parity_trace(SPEC, cfg, weights, SPEC.parity["steps"], variant=variant) for impl in (tx, jx))
    assert t["losses"].shape == j["losses"].shape == (len(t["losses"]),) and t["losses"].dtype == np.dtype(dtype)
    bound = SPEC.parity["loss_rel"] if dtype == "float32" else parity.FLOAT64_BOUND
    assert parity.rel_diff(t["losses"], j["losses"]).max() <= bound
    assert abs(t["slope"] - j["slope"]) <= SPEC.targets[variant].framework_tol
