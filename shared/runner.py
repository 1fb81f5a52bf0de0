"""The harness, written once: it drives every lesson in either framework through a small protocol.

A lesson module (``torch_impl/<lesson>.py``, ``jax_impl/<lesson>.py``) holds the lesson. For
each variant that trains, the spec's settings ``hp`` go to:

- ``load_data(hp, source)`` -> numpy arrays ``(x_train, y_train)`` or ``(x_train, y_train, x_test, y_test)``
- ``build_model(hp, seed)`` -> the model; ``make_optimizer(model, hp)`` -> its optimizer
- ``train_step(model, optimizer, x, y)`` -> the step's loss (``hp["step"]`` names another step
  function of the lesson, for lessons that show several)
- ``evaluate(model, x, y)`` -> metrics, called in eval mode
- ``train(model, optimizer, data, hp, *, seed, epochs)`` -> (step losses, [(train metrics,
  test metrics) per evaluation]): the loop as the course writes it (``--loop course``)

A lesson whose settings say ``"data_parallel": True`` also has ``distribute(model)`` -> the model
every worker trains (torch: DDP-wrapped; JAX: replicated over the mesh) and ``shard(batch)`` -> a
global batch's piece on this worker; shared/distributed.py runs it on ``cfg.workers`` workers.

A variant whose settings say ``"exercise": True`` trains nothing: the lesson's function of the
variant's name, ``fn(hp, source, seed)``, returns its metrics.

The harness owns what the lesson leaves out: devices, precision, dtypes, records, timing, the
weight exchange, parity traces and the fast path (``<framework>_impl/_harness.py``), which runs
the lesson's own step. shared/ imports no framework: the two harness modules and the lessons
are loaded by name, here only.
"""
from __future__ import annotations

import importlib

from shared.batches import BatchPlan
from shared.config import FRAMEWORKS, RunConfig
from shared.errors import DivergenceError, LessonError
from shared.results import Record
from shared.timing import Stopwatch

_FRAMEWORK_PACKAGES = ("torch", "torchvision", "jax", "jaxlib", "flax", "optax")


def _load(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in _FRAMEWORK_PACKAGES:
            raise LessonError(f"{e.name} is not installed; run `python3 bootstrap.py test` to create the environment") from e
        raise


def harness(framework: str):
    """``<framework>_impl._harness``: the one place shared/ reaches into a framework."""
    if framework not in FRAMEWORKS:
        raise LessonError(f"unknown framework {framework!r}; choose one of: torch, jax, both")
    return _load(f"{framework}_impl._harness")


def lesson_module(framework: str, lesson: str):
    harness(framework)
    return _load(f"{framework}_impl.{lesson}")


def settings(spec, variant: str | None, data: str) -> dict:
    """The variant's settings for this data source: a value given per source ({"embedded": ..,
    "full": ..}) is resolved to the one for ``data``."""
    hp = spec.hp(variant)
    return {k: v[data] if isinstance(v, dict) and data in v else v for k, v in hp.items()}


def plan_for(hp: dict, n: int, seed: int) -> BatchPlan:
    return BatchPlan(n, hp.get("batch_size"), shuffle=hp.get("shuffle", False), drop_last=hp.get("drop_last", False),
                     seed=seed)


def epochs_of(hp: dict, cfg: RunConfig) -> int:
    return cfg.epochs or hp["epochs"]


def _metrics(train_m: dict, test_m: dict | None) -> dict:
    """{"loss": ..} -> {"train_loss": .., "test_loss": ..}; per model for models trained together
    ({"plain": {..}} -> {"plain": {"train_loss": .., ..}})."""
    if train_m and all(isinstance(v, dict) for v in train_m.values()):
        return {k: _metrics(v, None if test_m is None else test_m[k]) for k, v in train_m.items()}
    if test_m is None:
        return dict(train_m)
    return {**{f"train_{k}": v for k, v in train_m.items()}, **{f"test_{k}": v for k, v in test_m.items()}}


def _check_finite(losses, spec, framework: str) -> None:
    import numpy as np

    bad = np.flatnonzero(~np.isfinite(np.asarray(losses, np.float64).reshape(len(losses), -1).max(axis=1)))
    if bad.size:
        step = int(bad[0])
        raise DivergenceError(spec.name, framework, step + 1, float(np.asarray(losses)[step].ravel()[0]))


class Session:
    """One lesson in one framework on one device: loads data once per setting, builds and trains."""

    def __init__(self, spec, framework: str, cfg: RunConfig, hazard: str | None = None):
        self.spec, self.framework, self.cfg, self.hazard = spec, framework, cfg, hazard
        self.h = harness(framework)
        self.lesson = lesson_module(framework, spec.name)
        self.device = self.h.select_device(cfg.device)
        self._data: dict = {}

    def placed(self):
        return self.h.placed(self.cfg, self.device, self.hazard)

    def data(self, hp: dict):
        key = repr(sorted((k, v) for k, v in hp.items() if k not in ("lr", "epochs", "steps")))
        if key not in self._data:
            arrays = self.lesson.load_data(hp, self.cfg.source())
            placed = self.h.to_device(arrays, self.device, self.cfg.dtype)
            if hp.get("data_parallel"):  # on every worker (shared/distributed.py)
                from shared import distributed
                placed = distributed.placed_data(self, placed)
            self._data[key] = (arrays, placed)
        return self._data[key]

    def model(self, hp: dict, weights=None):
        return self.h.new_model(self.lesson, hp, self.cfg.seed_for(self.spec), self.cfg.dtype, self.device, weights)

    def step(self, hp: dict):
        return getattr(self.lesson, hp.get("step", "train_step"))

    def evaluate(self, model, data) -> dict:
        test = self.h.evaluate(self.lesson, model, data[2], data[3]) if len(data) == 4 else None
        return _metrics(self.h.evaluate(self.lesson, model, data[0], data[1]), test)

    def train(self, hp: dict, *, weights=None, steps: int | None = None, each_epoch: bool | None = None):
        """Build, then train with the fast path (or the lesson's own loop under ``--loop course``).

        Returns (model, losses (steps,) or (steps, models), history: per-epoch metrics, Stopwatch).
        """
        seed = self.cfg.seed_for(self.spec)
        _, data = self.data(hp)
        model = self.model(hp, weights)
        trained, shard = model, None
        if hp.get("data_parallel"):  # DDP(model) / the model replicated over the mesh, and each batch's piece
            from shared import distributed
            trained, shard = distributed.prepare(self, model)
        optimizer = self.lesson.make_optimizer(trained, hp)
        clock = Stopwatch()
        epochs = epochs_of(hp, self.cfg)
        history: dict[str, list] = {}
        if self.cfg.loop == "course" and steps is None:
            with clock.training():
                losses, evaluations = self.h.train_as_written(self.lesson, trained, optimizer, data, hp, seed=seed,
                                                              epochs=epochs)
            import numpy as np
            losses = np.asarray(losses)
            for train_m, test_m in evaluations:
                for k, v in _flat(_metrics(train_m, test_m)).items():
                    history.setdefault(k, []).append(float(v))
        else:
            each = hp.get("eval_each_epoch", False) if each_epoch is None else each_epoch

            def after_epoch(epoch):
                for k, v in _flat(self.evaluate(model, data)).items():
                    history.setdefault(k, []).append(v)

            losses = self.h.fit(self.step(hp), trained, optimizer, data[0], data[1], plan_for(hp, len(data[0]), seed),
                                epochs=epochs, steps=steps, clock=clock, after_epoch=after_epoch if each else None,
                                shard=shard)
        if shard is not None:  # the global batch's loss per step
            losses = distributed.gathered(self, losses)
        _check_finite(losses, self.spec, self.framework)
        return model, losses, history, clock

    def record(self, variant: str, metrics: dict, **fields) -> Record:
        versions = self.h.versions()
        return Record(lesson=self.spec.name, variant=variant, framework=self.framework,
                      device=self.h.device_kind(self.device), data=self.cfg.data, dtype=self.cfg.dtype,
                      precision=self.cfg.precision, seed=self.cfg.seed_for(self.spec), versions=versions,
                      metrics=metrics, **fields)


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


def run(spec, framework: str, cfg: RunConfig) -> list[Record]:
    """Every variant of the lesson in one framework -> one Record each (what the CLI and tests call)."""
    if spec.hp().get("data_parallel") or cfg.workers != 1:
        from shared import distributed
        if not distributed.inside():  # on cfg.workers workers, maybe in other processes
            return distributed.run(spec, framework, cfg)
    s = Session(spec, framework, cfg)
    records = []
    with s.placed():
        together = spec.hp().get("together")
        variants = [v for v in spec.variants if not (together and v in together)]
        for variant in variants:
            hp = settings(spec, variant, cfg.data)
            if hp.get("exercise"):
                metrics = getattr(s.lesson, variant)(hp, cfg.source(), cfg.seed_for(spec))
                records.append(s.record(variant, {k: float(v) for k, v in metrics.items() if k != "extras"},
                                        extras=metrics.get("extras", {})))
                continue
            records.append(_trained_record(s, variant, hp))
        if together:
            records += _together_records(s, settings(spec, None, cfg.data), together)
    return records


def _trained_record(s: Session, variant: str, hp: dict) -> Record:
    model, losses, history, clock = s.train(hp)
    raw, data = s.data(hp)
    metrics = {"loss": float(losses[-1]), **_flat(s.evaluate(model, data))}
    return s.record(variant, metrics, history={"loss": losses.tolist(), **history}, compile_s=clock.compile_s,
                    train_s=clock.train_s, steps=len(losses), samples=_samples(hp, raw, len(losses)),
                    extras=_extras(s, hp))


def _together_records(s: Session, hp: dict, variants) -> list[Record]:
    """Several models trained on the same batches by one step (batchnorm): one Record per model.
    Each record's train_s is the time of the one loop that trained them all."""
    model, losses, history, clock = s.train(hp)
    raw, data = s.data(hp)
    final = _flat(s.evaluate(model, data))
    records = []
    for i, v in enumerate(variants):
        h = {"loss": losses[:, i].tolist(), **_unflat(history, v)}
        records.append(s.record(v, {"loss": float(losses[-1, i]), **_unflat(final, v)}, history=h,
                                compile_s=clock.compile_s, train_s=clock.train_s, steps=len(losses),
                                samples=_samples(hp, raw, len(losses)),
                                extras={**_extras(s, hp), "trained_with": list(variants)}))
    return records


def _samples(hp: dict, raw, steps: int) -> int:
    """The images the steps saw: an epoch's last, partial batch counts its own rows."""
    plan = plan_for(hp, len(raw[0]), 0)
    if not plan.per_epoch:
        return 0
    epochs, rest = divmod(steps, plan.per_epoch)
    per_epoch = plan.per_epoch * plan.size if plan.drop_last else plan.n
    return epochs * per_epoch + rest * min(plan.size, plan.n)


def _extras(s: Session, hp: dict) -> dict:
    """The data set the run actually used (a lesson may use another one per --data)."""
    return {"dataset": hp.get("dataset", s.spec.dataset)}


def trace(spec, framework: str, cfg: RunConfig, weights: dict | None, steps: int | None, variant: str,
          hazard: str | None = None) -> dict:
    """Per-step losses, final weights and metrics of one variant trained from ``weights``.

    ``steps`` None is the whole run. ``hazard`` removes that hazard's fix (JAX) for the run.
    ``weights`` None starts from the framework's own initialisation.
    """
    if spec.hp().get("data_parallel") or cfg.workers != 1:
        from shared import distributed
        if not distributed.inside():  # on cfg.workers workers, maybe in other processes
            return distributed.trace(spec, framework, cfg, weights, steps, variant, hazard)
    s = Session(spec, framework, cfg.replace(progress=False, loop="ours"), hazard)
    with s.placed():
        together = spec.hp().get("together")
        hp = settings(spec, variant, cfg.data)
        if together:
            hp = {**hp, "together": (variant,)}
        model, losses, _, _ = s.train(hp, weights=weights, steps=steps, each_epoch=False)
        _, data = s.data(hp)
        metrics = _flat(s.evaluate(model, data))
        if together:
            losses, metrics = losses[:, 0], _unflat(metrics, variant)
        return {"losses": losses, "weights": s.h.export_weights(model), "metrics": metrics}


def initial_weights(spec, variant: str, cfg: RunConfig, framework: str = "torch", hazard: str | None = None) -> dict:
    """A freshly built model's weights in torch's layout: the start both frameworks share in parity runs."""
    s = Session(spec, framework, cfg, hazard)
    with s.placed():
        hp = settings(spec, variant, cfg.data)
        if spec.hp().get("together"):
            hp = {**hp, "together": (variant,)}
        return s.h.export_weights(s.model(hp))


def matmul_rate(framework: str, cfg: RunConfig) -> float:
    """The framework's float32 matmul rate on the configured device (the bench's arithmetic floor)."""
    h = harness(framework)
    device = h.select_device(cfg.device)
    with h.placed(cfg, device):
        return h.matmul_rate(device)
