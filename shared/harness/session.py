"""One lesson in one framework in this process: load, build, train, evaluate, record.

A :class:`Session` holds the lesson module, its framework side (shared/harness/sides.py) and the
device, and knows nothing of processes. For ``--workers K`` the launcher (shared/harness/
distributed.py) hands it :class:`ParallelHooks`: where the data goes, what model the workers
train and each batch's piece, and how the step losses combine.

The work a run does in a session is three functions, called the same way in one process and in
each worker: :func:`records` (every variant, the CLI's run), :func:`trace` (one variant from given
weights, for parity) and :func:`initial_weights`.
"""
from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from typing import Any, Callable, Protocol

import numpy as np

from shared.batches import BatchPlan
from shared.errors import DivergenceError
from shared.harness import sides
from shared.harness.config import LOOP_OWN, RunConfig
from shared.harness.protocol import HarnessSide, Lesson
from shared.harness.records import Record
from shared.harness.timing import Stopwatch
from shared.specs import settings


class ParallelHooks(Protocol):
    """What data parallelism changes in a session (shared/harness/distributed.py provides it)."""

    def place(self, arrays: tuple) -> tuple:
        """The placed data on every worker."""

    def prepare(self, lesson: Lesson, model) -> tuple[Any, Callable]:
        """(the model the workers train, the function that cuts each global batch's piece)."""

    def gather(self, losses: np.ndarray) -> np.ndarray:
        """Each step's loss of the whole global batch."""


def plan_for(hp: dict, n: int, seed: int) -> BatchPlan:
    return BatchPlan(n, hp.get("batch_size"), shuffle=hp.get("shuffle", False), drop_last=hp.get("drop_last", False),
                     seed=seed)


class Session:
    """One lesson in one framework on one device: loads data once per setting, builds and trains.

    ``lesson``: the module to run (default: ``<framework>_impl.<spec.name>``); ``hazard``: that
    hazard's fix removed (JAX); ``parallel``: the data-parallel hooks, for a lesson the spec runs on
    workers.
    """

    def __init__(self, spec, framework: str, cfg: RunConfig, *, hazard: str | None = None,
                 parallel: ParallelHooks | None = None, lesson: Lesson | None = None):
        self.spec, self.framework, self.cfg, self.hazard, self.parallel = spec, framework, cfg, hazard, parallel
        self.side: HarnessSide = sides.harness(framework)
        self.lesson: Lesson = lesson if lesson is not None else sides.lesson(framework, spec.name)
        self.device = self.side.select_device(cfg.device)
        self.seed = cfg.seed_for(spec)
        self._data: dict = {}

    def settings(self, variant: str | None) -> dict:
        """The variant's settings for the run's data source, with the run's --set overrides."""
        return settings.apply(self.spec.settings(variant, self.cfg.data), self.cfg.overrides)

    def overrides(self, hp: dict, trained: bool = True) -> dict:
        """What this variant's record notes as changed: its --set keys, and --epochs where it trains."""
        out = settings.changed(hp, self.cfg.overrides)
        if trained and self.cfg.epochs is not None:
            out["epochs"] = self.cfg.epochs
        return out

    def placed(self) -> AbstractContextManager:
        """The block runs on the session's device under its precision, dtype and hazard."""
        return self.side.placed(self.cfg, self.device, self.hazard)

    def data(self, hp: dict) -> tuple[tuple, tuple]:
        """(the numpy arrays, the same on the device): loaded once per distinct data setting."""
        key = repr(sorted((k, v) for k, v in hp.items() if k not in ("lr", "epochs", "steps")))
        if key not in self._data:
            arrays = self.lesson.load_data(hp, self.cfg.source())
            placed = self.side.to_device(arrays, self.device, self.cfg.dtype)
            if self.parallel is not None:
                placed = self.parallel.place(placed)
            self._data[key] = (arrays, placed)
        return self._data[key]

    def model(self, hp: dict, weights: dict | None = None):
        return self.side.new_model(self.lesson, hp, self.seed, self.cfg.dtype, self.device, weights)

    def step(self, variant: str | None) -> Callable:
        """The lesson's step function for ``variant`` (the spec's RunShape.steps; train_step by default)."""
        return getattr(self.lesson, self.spec.shape.step(variant))

    def evaluate(self, model, data) -> dict:
        test = self.side.evaluate(self.lesson, model, data[2], data[3]) if len(data) == 4 else None
        return _metrics(self.side.evaluate(self.lesson, model, data[0], data[1]), test)

    def train(self, hp: dict, variant: str | None = None, *, weights: dict | None = None, steps: int | None = None,
              each_epoch: bool | None = None):
        """Build, then train ``variant`` with the lesson's own train() (``--loop train``, the default), or the
        fast path (``--loop fast``, and always for ``steps``: parity traces).

        Returns (model, losses (steps,) or (steps, models), history: per-epoch metrics, Stopwatch).
        """
        _, data = self.data(hp)
        model = self.model(hp, weights)
        trained, shard = model, None
        if self.parallel is not None:  # DDP(model) / the model replicated over the mesh, and each batch's piece
            trained, shard = self.parallel.prepare(self.lesson, model)
        optimizer = self.lesson.make_optimizer(trained, hp)
        clock = Stopwatch()
        epochs = self.cfg.epochs or hp["epochs"]
        named_step = variant in self.spec.shape.steps
        history: dict[str, list] = {}
        if self.cfg.loop == LOOP_OWN and steps is None:
            losses, evaluations = self.side.train_as_written(
                self.lesson, trained, optimizer, data, hp, seed=self.seed, epochs=epochs,
                step=self.step(variant) if named_step else None, clock=clock)
            losses = np.asarray(losses)
            for train_m, test_m in evaluations:
                for k, v in _flat(_metrics(train_m, test_m)).items():
                    history.setdefault(k, []).append(float(v))
        else:
            each = self.spec.shape.eval_each_epoch if each_epoch is None else each_epoch

            def after_epoch(epoch):
                for k, v in _flat(self.evaluate(model, data)).items():
                    history.setdefault(k, []).append(v)

            losses = self.side.fit(self.step(variant), trained, optimizer, data[0], data[1],
                                   plan_for(hp, len(data[0]), self.seed), epochs=epochs, steps=steps, clock=clock,
                                   after_epoch=after_epoch if each else None, shard=shard)
        if self.parallel is not None:  # the global batch's loss per step
            losses = self.parallel.gather(losses)
        _check_finite(losses, self.spec, self.framework)
        return model, losses, history, clock

    def record(self, variant: str, metrics: dict, **fields) -> Record:
        return Record(lesson=self.spec.name, variant=variant, framework=self.framework,
                      device=self.side.device_kind(self.device), data=self.cfg.data, dtype=self.cfg.dtype,
                      precision=self.cfg.precision, seed=self.seed, versions=self.side.versions(),
                      metrics=metrics, **fields)


# -- the work of a run -----------------------------------------------------------------------------

def records(s: Session) -> list[Record]:
    """Every variant of the lesson -> one Record each (what `lessons run` prints and saves)."""
    spec, cfg = s.spec, s.cfg
    with s.placed():
        if spec.shape.together:
            return _together_records(s, s.settings(None))
        out = []
        for variant in spec.variants:
            hp = s.settings(variant)
            if variant in spec.shape.exercises:
                metrics = getattr(s.lesson, variant)(hp, cfg.source(), s.seed)
                out.append(s.record(variant, {k: float(v) for k, v in metrics.items() if k != "extras"},
                                    extras=metrics.get("extras", {}), overrides=s.overrides(hp, trained=False)))
            else:
                out.append(_trained_record(s, variant, hp))
        return out


def trace(s: Session, weights: dict | None, steps: int | None, variant: str, *, evaluate: bool = True) -> dict:
    """Per-step losses, final weights and (with ``evaluate``) metrics of one variant trained from
    ``weights`` (None: the framework's own initialisation) for ``steps`` steps (None: the whole
    run), by the fast path."""
    with s.placed():
        hp = _alone(s, variant)
        model, losses, _, _ = s.train(hp, variant, weights=weights, steps=steps, each_epoch=False)
        if s.spec.shape.together:
            losses = losses[:, 0]
        metrics = _evaluated(s, hp, model, variant) if evaluate else {}
        return {"losses": losses, "weights": s.side.export_weights(model), "metrics": metrics}


def evaluation(s: Session, weights: dict, variant: str) -> dict:
    """The lesson's metrics (train and test split) of the variant's model at ``weights``, in eval mode."""
    with s.placed():
        hp = _alone(s, variant)
        return _evaluated(s, hp, s.model(hp, weights), variant)


def _evaluated(s: Session, hp: dict, model, variant: str) -> dict:
    metrics = _flat(s.evaluate(model, s.data(hp)[1]))
    return _unflat(metrics, variant) if s.spec.shape.together else metrics


def raw_data(s: Session, variant: str) -> tuple:
    """``load_data``'s numpy arrays for the variant."""
    return s.data(_alone(s, variant))[0]


# -- probes: one step cut into stages (`lessons check`, `lessons parity --localize`) -----------------

PROBED = ("forward", "loss", "gradients", "update")
SATURATED = 100.0   # the loss is also taken at the weights times this: outputs saturate (where BCELoss clamps)
STATISTICS = ("running_mean", "running_var")  # the weights that are BatchNorm statistics, not parameters


def probe(s: Session, weights: dict, variant: str, *, at_step: int = 1, stages=PROBED) -> dict:
    """What one step computes, stage by stage, as numpy in torch's names: the model trained from
    ``weights`` by the fast path for ``at_step - 1`` steps, then, on the batch of step ``at_step``:

    - "forward": ``model(x)`` in train and in eval mode ("train output", "eval output");
      "activations": {"train"|"eval": [(kind, the input of each ReLU and sigmoid)]};
    - "loss": ``loss_fn``, also at the weights times SATURATED ("loss, weights x100");
    - "gradients": the loss's gradient per parameter;
    - "update": the lesson's step (one call, as train() makes it) on that batch and the next:
      each parameter's change, the optimizer's per-parameter state and the BatchNorm statistics
      after each; "held": the gradients torch keeps on the parameters after each step.
    """
    out: dict = {}
    with s.placed():
        hp = _alone(s, variant)
        raw, data = s.data(hp)
        parts = tuple(hp["models"]) if s.spec.shape.together else None
        plan = plan_for(hp, len(raw[0]), s.seed)
        model, trained, optimizer, shard = _built(s, hp, weights)
        if at_step > 1:
            s.side.fit(s.step(variant), trained, optimizer, data[0], data[1], plan, epochs=plan.epochs_for(at_step - 1),
                       steps=at_step - 1, clock=Stopwatch(), shard=shard)
        x, y = _batch(s, raw, plan, at_step)
        if "forward" in stages:
            out["forward"], out["activations"] = {}, {}
            for mode in ("train", "eval"):
                outputs, seen = s.side.forward(model, x, train=mode == "train", seed=s.seed, parts=parts)
                out["forward"].update({_join(f"{mode} output", p): v for p, v in outputs.items()})
                out["activations"][mode] = seen
        if "loss" in stages or "gradients" in stages:
            losses, out["gradients"] = s.side.gradients(s.lesson, model, x, y, seed=s.seed, parts=parts)
            out["loss"] = {_join("loss", p): np.asarray(v) for p, v in losses.items()}
        if "loss" in stages:
            saturated = s.model(hp, {k: v * SATURATED for k, v in s.side.export_weights(model).items()})
            high, _ = s.side.gradients(s.lesson, saturated, x, y, seed=s.seed, parts=parts)
            out["loss"].update({_join(f"loss, weights x{SATURATED:g}", p): np.asarray(v) for p, v in high.items()})
        if "update" in stages:
            out["update"], out["held"] = {}, {}
            for k in (at_step, at_step + 1):
                before = s.side.export_weights(model)
                xb, yb = (x, y) if k == at_step else _batch(s, raw, plan, k)
                s.side.step_once(s.step(variant), trained, optimizer, xb, yb, seed=s.seed, shard=shard)
                after = s.side.export_weights(model)
                label = f"step {k - at_step + 1}"
                for name, w in after.items():
                    stat = name.endswith(STATISTICS)
                    out["update"][f"{label} {name}" if stat else f"{label} Δ{name}"] = w if stat else w - before[name]
                for name, v in s.side.optimizer_state(model, optimizer, parts).items():
                    (out["held"] if name.endswith(".grad") else out["update"])[f"{label} {name}"] = v
    return out


def _join(label: str, part: str) -> str:
    return f"{label} {part}" if part else label


def _built(s: Session, hp: dict, weights: dict | None):
    """(the model, the model the step trains, its optimizer, the batch's sharding) from ``weights``."""
    model = s.model(hp, weights)
    trained, shard = s.parallel.prepare(s.lesson, model) if s.parallel is not None else (model, None)
    return model, trained, s.lesson.make_optimizer(trained, hp), shard


def _batch(s: Session, raw: tuple, plan: BatchPlan, step: int) -> tuple:
    """The batch of step ``step`` (1-based) of the plan, placed on the device."""
    epoch, i = divmod(step - 1, plan.per_epoch)
    idx = plan.epoch(epoch)[i]
    placed = s.side.to_device((raw[0][idx], raw[1][idx]), s.device, s.cfg.dtype)
    return s.parallel.place(placed) if s.parallel is not None else placed


def loop(s: Session, weights: dict, variant: str, *, batches: int = 4, epochs: int = 2) -> dict:
    """The lesson's own ``train()`` from ``weights`` on the first ``batches`` batches' rows of each
    split, for ``epochs`` epochs: its per-step losses and, per evaluation, the flat metrics."""
    with s.placed():
        hp = _alone(s, variant)
        raw, _ = s.data(hp)
        rows = len(raw[0]) if hp.get("batch_size") is None else min(len(raw[0]), batches * hp["batch_size"])
        data = s.side.to_device(tuple(a[:rows] for a in raw), s.device, s.cfg.dtype)
        if s.parallel is not None:
            data = s.parallel.place(data)
        model, trained, optimizer, _ = _built(s, hp, weights)
        named = variant in s.spec.shape.steps
        losses, evaluations = s.side.train_as_written(s.lesson, trained, optimizer, data, hp, seed=s.seed, epochs=epochs,
                                                      step=s.step(variant) if named else None, clock=Stopwatch())
        metrics = [_flat(_metrics(_floats(tr), None if te is None else _floats(te))) for tr, te in evaluations]
        if s.spec.shape.together:
            metrics = [_unflat(m, variant) for m in metrics]
        return {"losses": np.asarray(losses, np.float64).reshape(len(losses), -1)[:, 0], "metrics": metrics}


def _floats(tree):
    return {k: _floats(v) for k, v in tree.items()} if isinstance(tree, dict) else float(tree)


def initial_weights(s: Session, variant: str) -> dict:
    """A freshly built model's weights in torch's layout: the start both frameworks share in parity runs."""
    with s.placed():
        return s.side.export_weights(s.model(_alone(s, variant)))


def _alone(s: Session, variant: str) -> dict:
    """The variant's settings; for models trained together, with that model alone."""
    hp = s.settings(variant)
    return {**hp, "models": (variant,)} if s.spec.shape.together else hp


def _trained_record(s: Session, variant: str, hp: dict) -> Record:
    model, losses, history, clock = s.train(hp, variant)
    raw, data = s.data(hp)
    metrics = {"loss": float(losses[-1]), **_flat(s.evaluate(model, data))}
    return s.record(variant, metrics, history={"loss": losses.tolist(), **history}, compile_s=clock.compile_s,
                    train_s=clock.train_s, steps=len(losses), samples=_samples(hp, raw, len(losses)),
                    extras=_extras(s, hp), overrides=s.overrides(hp), loop=s.cfg.loop)


def _together_records(s: Session, hp: dict) -> list[Record]:
    """Several models trained on the same batches by one step (batchnorm): one Record per model.
    Each record's train_s is the time of the one loop that trained them all."""
    model, losses, history, clock = s.train(hp)
    raw, data = s.data(hp)
    final = _flat(s.evaluate(model, data))
    models = tuple(hp["models"])
    extras = {**_extras(s, hp), "trained_with": list(models)}
    out = []
    for i, v in enumerate(models):
        h = {"loss": losses[:, i].tolist(), **_unflat(history, v)}
        out.append(s.record(v, {"loss": float(losses[-1, i]), **_unflat(final, v)}, history=h,
                            compile_s=clock.compile_s, train_s=clock.train_s, steps=len(losses),
                            samples=_samples(hp, raw, len(losses)),
                            extras=dict(extras), overrides=s.overrides(hp),
                            loop=s.cfg.loop))
    return out


def _metrics(train_m: dict, test_m: dict | None) -> dict:
    """{"loss": ..} -> {"train_loss": .., "test_loss": ..}; per model for models trained together
    ({"plain": {..}} -> {"plain": {"train_loss": .., ..}})."""
    if train_m and all(isinstance(v, dict) for v in train_m.values()):
        return {k: _metrics(v, None if test_m is None else test_m[k]) for k, v in train_m.items()}
    if test_m is None:
        return dict(train_m)
    return {**{f"train_{k}": v for k, v in train_m.items()}, **{f"test_{k}": v for k, v in test_m.items()}}


def _check_finite(losses, spec, framework: str) -> None:
    losses = np.asarray(losses, np.float64)
    bad = np.flatnonzero(~np.isfinite(losses.reshape(len(losses), -1).max(axis=1)))
    if bad.size:
        step = int(bad[0])
        raise DivergenceError(spec.name, framework, step + 1, float(losses[step].ravel()[0]))


def _flat(metrics: dict, prefix: str = "") -> dict:
    """{"plain": {"test_accuracy": ..}} -> {"plain/test_accuracy": ..}; flat dicts unchanged."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _unflat(flat: dict, variant: str) -> dict:
    """The entries of one model of a lesson that trains several together ("plain/x" -> "x")."""
    return {k.split("/", 1)[1]: v for k, v in flat.items() if k.startswith(f"{variant}/")}


def _samples(hp: dict, raw, steps: int) -> int:
    """The images the steps saw: an epoch's last, partial batch counts its own rows."""
    plan = plan_for(hp, len(raw[0]), 0)
    if not plan.per_epoch:
        return 0
    epochs, rest = divmod(steps, plan.per_epoch)
    per_epoch = plan.per_epoch * plan.size if plan.drop_last else plan.n
    return epochs * per_epoch + rest * min(plan.size, plan.n)


def _extras(s: Session, hp: dict) -> dict:
    """The data set the run actually used (a lesson may use another one per --data), and ``start``:
    a digest of the weights the run started from (a fresh model from the same seed: building one
    draws nothing from the run's generators), equal in two records that started from equal weights."""
    start = s.side.export_weights(s.model(hp))
    digest = hashlib.sha256()
    for k in sorted(start):
        digest.update(k.encode() + np.ascontiguousarray(start[k], np.float32).tobytes())
    return {"dataset": hp.get("dataset", s.spec.dataset), "start": digest.hexdigest()[:16]}
