"""gd_vs_sgd: SGD takes several steps per pass where GD takes one, in the course's unshuffled order
(targets and parity: test_every_lesson.py)."""
import numpy as np

from shared import specs
from shared.data import DataSource
from shared.harness.session import plan_for
from torch_impl import gd_vs_sgd as tx

SPEC = specs.get("gd_vs_sgd")


def test_sgd_takes_several_steps_per_pass_gd_one(runs, cfg):
    for fw, recs in runs.both(SPEC, cfg).items():
        gd, sgd = recs["gd"], recs["sgd"]
        assert gd.steps == SPEC.hp("gd")["epochs"], fw
        n = gd.samples // gd.steps
        batch_size = SPEC.settings("sgd", sgd.data)["batch_size"]
        assert 1 < batch_size < n, fw
        assert sgd.steps == SPEC.hp("sgd")["epochs"] * -(-n // batch_size), fw


def test_sgd_batches_are_the_courses_unshuffled_dataloader_order():
    """The course's DataLoader(ds, batch_size=2048) does not shuffle, and its data are zeros then ones."""
    hp = SPEC.settings("sgd", "embedded")
    assert hp["shuffle"] is False
    y = tx.load_data(hp, DataSource())[1][:, 0]
    assert len(y) == 800 and (np.diff(y) >= 0).all() and y[0] == 0 and y[-1] == 1
    plan = plan_for(hp, 800, SPEC.seed)
    np.testing.assert_array_equal(np.concatenate(plan.epoch(0)), np.arange(800))
    np.testing.assert_array_equal(np.concatenate(plan.epoch(3)), np.arange(800))
