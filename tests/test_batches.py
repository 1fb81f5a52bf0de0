"""The shared batch plan against a real torch DataLoader."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from shared.batches import batch_plan, full_batches, num_batches


@pytest.mark.parametrize("n,batch_size", [(10, 3), (9, 3), (1, 4), (100, 7), (64, 64), (0, 5)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_plan_equals_dataloader(n, batch_size, drop_last):
    loader = DataLoader(TensorDataset(torch.arange(n)), batch_size=batch_size, drop_last=drop_last)
    expected = [b.numpy() for (b,) in loader]
    plan = batch_plan(n, batch_size, shuffle=False, drop_last=drop_last, seed=0, epoch=0)
    assert len(plan) == len(expected) == num_batches(n, batch_size, drop_last=drop_last)
    for got, want in zip(plan, expected):
        np.testing.assert_array_equal(got, want)


def test_toy_set_gives_batches_of_3_3_3_1():
    assert [len(b) for b in batch_plan(10, 3, shuffle=False, drop_last=False, seed=0, epoch=0)] == [3, 3, 3, 1]
    assert [len(b) for b in batch_plan(10, 3, shuffle=False, drop_last=True, seed=0, epoch=0)] == [3, 3, 3]


@pytest.mark.parametrize("n,batch_size", [(10, 3), (100, 7), (50, 50)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_plan_has_dataloader_shapes_and_feeds_a_dataloader(n, batch_size, drop_last):
    torch_sizes = [len(b) for (b,) in DataLoader(TensorDataset(torch.arange(n)), batch_size=batch_size,
                                                shuffle=True, drop_last=drop_last)]
    plan = batch_plan(n, batch_size, shuffle=True, drop_last=drop_last, seed=3, epoch=1)
    assert [len(b) for b in plan] == torch_sizes
    flat = np.concatenate(plan)
    assert len(np.unique(flat)) == len(flat)  # no repeats within an epoch
    if not drop_last:
        assert sorted(flat) == list(range(n))
    # torch consumes the plan through a DataLoader driven by it as a batch sampler: same batches.
    loader = DataLoader(TensorDataset(torch.arange(n)), batch_sampler=[b.tolist() for b in plan])
    for (got,), want in zip(loader, plan):
        np.testing.assert_array_equal(got.numpy(), want)


def test_shuffle_is_seeded_and_changes_per_epoch():
    a = batch_plan(100, 10, shuffle=True, drop_last=False, seed=1, epoch=0)
    b = batch_plan(100, 10, shuffle=True, drop_last=False, seed=1, epoch=0)
    c = batch_plan(100, 10, shuffle=True, drop_last=False, seed=1, epoch=1)
    d = batch_plan(100, 10, shuffle=True, drop_last=False, seed=2, epoch=0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(np.concatenate(a), np.concatenate(c))
    assert not np.array_equal(np.concatenate(a), np.concatenate(d))


def test_full_batches_are_the_plan_without_the_partial_batch():
    plan = batch_plan(23, 5, shuffle=True, drop_last=True, seed=4, epoch=2)
    np.testing.assert_array_equal(full_batches(23, 5, shuffle=True, seed=4, epoch=2), np.stack(plan))
