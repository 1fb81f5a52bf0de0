"""`lessons check LESSON --jax FILE | --torch FILE`: a translation of a lesson, graded stage by stage.

FILE is loaded as the lesson's twin in that framework (any path) and run through the same
sessions as the project's twins (shared/harness/session.py), against the reference twin of the
other framework (of the same one where masks are drawn per framework: dropout), from the same
weights (torch's initial ones, through the weight exchange) and the reference's data. The
reference run again from weights nudged by one rounding unit is the control; the stage
comparison is shared/tools/stages.py's. Stages, in order: structure, data, init (advice),
forward, loss, gradients, update, training, evaluation, loop.

Where a stage fails, the diagnosis is computed, not guessed: the JAX reference is run again with
each of the lesson's hazard fixes removed, and a translation that computes what "stock without
the fix" computes is named after that hazard; otherwise the stage's tensor furthest past the
control, the ReLU inputs that changed sign, and what a transposed weight, a scaled update or
accumulated gradients would explain. Exit 0: every stage passes; 1: graded, and a stage fails;
2: the file cannot be graded (it does not load, lacks a name, raises, is not done, or hangs),
with one line naming FILE:LINE where there is one, and nothing written; where the JAX reference
raises the same error without a hazard's fix (a --jax file that crashes from the forward stage on),
a second line names that hazard.
"""
from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import math
import shutil
import signal
import sys
import textwrap
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from shared.errors import DivergenceError, LessonError
from shared.harness import protocol, runner, session
from shared.harness.config import FRAMEWORKS
from shared.outputs import OutputDir
from shared.tools import hazards, stages
from shared.tools.parity import nudge
from shared.tools.results import fmt, format_table

STAGES = ("structure", "data", "init", "forward", "loss", "gradients", "update", "training", "evaluation", "loop")
TIMEOUT_S = 120          # per stage, unless --timeout says otherwise
INIT_SIGMAS = 5.0        # a tensor's init is torch's when its spread and mean are within this many sampling sd
INIT_SAMPLES = 8         # fewer values than this say nothing about their distribution


# -- the user's file ---------------------------------------------------------------------------------

@dataclass
class UserFile:
    path: Path
    module: ModuleType
    stubs: list[str]     # functions (Class.method) whose body is still `raise NotImplementedError`


def _is_stub(node) -> bool:
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def stubs(tree: ast.Module) -> list[str]:
    """The top-level functions and the classes' methods that only raise NotImplementedError."""
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_stub(node):
            found.append(node.name)
        elif isinstance(node, ast.ClassDef):
            found += [f"{node.name}.{m.name}" for m in node.body
                      if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_stub(m)]
    return found


def load(path: Path, framework: str, lesson: str, timeout_s: float) -> UserFile:
    """FILE as a module; a file that is missing, does not parse or raises on import is one line."""
    path = Path(path)
    if not path.is_file():
        raise LessonError(f"{path}: no such file; give the path of your {lesson} twin "
                          f"(`lessons exercise {lesson} --framework {framework}` writes a starter)")
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as e:
        raise LessonError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LessonError(f"{path}: cannot read it: {getattr(e, 'strerror', None) or e}") from None
    name = f"_lessons_check_{framework}_{lesson}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the classes it defines know their module (copying, pickling)
    with _bounded(timeout_s, path, "importing it"):
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise LessonError(user_error(path, e)) from None
    return UserFile(path, module, stubs(tree))


def _in_file(frame, path: Path) -> bool:
    try:
        return Path(frame.filename).resolve() == path.resolve()
    except OSError:
        return False


def user_error(path: Path, exc: BaseException, during: str = "") -> str:
    """"FILE:LINE in function: Error: message" from the innermost frame of FILE in the traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _in_file(f, path)]
    where = f"{path}:{frames[-1].lineno} in {frames[-1].name}" if frames else f"{path} ({during})" if during else str(path)
    message = _first_line(exc)
    message = message if len(message) <= 240 else message[:237] + "..."
    return f"{where}: {type(exc).__name__}" + (f": {message}" if message else "")


def _first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")


class _Crashed(LessonError):
    """The user's code raised: one line at FILE:LINE; ``raised``, the exception, for the diagnosis."""

    def __init__(self, path: Path, exc: BaseException):
        super().__init__(user_error(path, exc))
        self.raised = exc


class _Timeout(BaseException):
    """Raised by the alarm inside a stage that runs too long (not an Exception: user code's
    ``except Exception`` does not swallow it)."""


@contextlib.contextmanager
def _bounded(seconds: float, path: Path, what: str):
    """The block, stopped after ``seconds`` (SIGALRM; without it, e.g. off the main thread, unbounded)."""
    def alarm(signum, frame):
        raise _Timeout()

    try:
        previous = signal.signal(signal.SIGALRM, alarm)
    except (ValueError, AttributeError):
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Timeout as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if _in_file(f, path)]
        where = f"{path}:{frames[-1].lineno} in {frames[-1].name}" if frames else str(path)
        raise LessonError(f"{where}: stopped after {seconds:g} s {what} (--timeout): does it end?") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _NotDone(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


@contextlib.contextmanager
def _theirs(path: Path):
    """Around calls into the user's code: a stub is _NotDone, any other error one line at FILE:LINE."""
    try:
        yield
    except (_NotDone, LessonError):
        raise
    except NotImplementedError as e:
        frames = traceback.extract_tb(e.__traceback__)
        if frames and _in_file(frames[-1], path):
            raise _NotDone(frames[-1].name) from None
        raise _Crashed(path, e) from None
    except (Exception, SystemExit) as e:  # sys.exit() in their code ends their function, not the check
        raise _Crashed(path, e) from None


class _WithInputs:
    """The user's module, with the project's own twin's ``load_data`` (the same framework's layout:
    a CNN's images are NCHW in torch, NHWC in Flax): every stage after `data` starts from its arrays."""

    def __init__(self, module: ModuleType, load_data):
        self._module, self.load_data = module, load_data

    def __getattr__(self, name):
        return getattr(self._module, name)


# -- grades --------------------------------------------------------------------------------------------

@dataclass
class StageGrade:
    stage: str
    status: str = "pass"            # pass | FAIL | advice | not done | not run
    variant: str = ""
    worst: stages.Gap | None = None
    note: str = ""                  # where it fails, one phrase
    diagnosis: list[str] = field(default_factory=list)

    def set(self, status: str, variant: str, worst: stages.Gap | None, note: str, diagnosis=()):
        """Keep the worst outcome over the variants: FAIL over advice over pass."""
        rank = {"pass": 0, "advice": 1, "not run": 2, "FAIL": 3, "not done": 4}
        if rank[status] > rank[self.status] or (status == self.status and worst is not None and (
                self.worst is None or worst.excess > self.worst.excess)):
            self.status, self.variant, self.worst, self.note, self.diagnosis = (status, variant, worst, note,
                                                                                list(diagnosis))


@dataclass
class Grade:
    lesson: str
    framework: str
    path: Path
    reference: str
    dtype: str
    steps: dict = field(default_factory=dict)      # variant -> training steps
    stages: dict = field(default_factory=dict)     # stage -> StageGrade
    not_done: list[str] = field(default_factory=list)

    @property
    def first(self) -> StageGrade | None:
        return next((g for g in self.stages.values() if g.status == "FAIL"), None)

    @property
    def exit_code(self) -> int:
        return 2 if self.not_done else 1 if self.first else 0

    def record(self) -> dict:
        first = self.first
        return {"lesson": self.lesson, "framework": self.framework, "file": str(self.path),
                "reference": self.reference, "dtype": self.dtype, "steps": self.steps,
                "stages": [{"stage": g.stage, "status": g.status, "variant": g.variant,
                            "gap": None if g.worst is None else _finite(g.worst.gap),
                            "control": None if g.worst is None or g.worst.control is None else g.worst.control,
                            "limit": None if g.worst is None else g.worst.limit,
                            "tensor": None if g.worst is None else g.worst.tensor, "note": g.note,
                            "diagnosis": g.diagnosis}
                           for g in self.stages.values()],
                "first": first.stage if first else None, "diagnosis": first.diagnosis if first else [],
                "passed": first is None}


def _finite(x: float):
    return x if math.isfinite(x) else str(x)


# -- grading -----------------------------------------------------------------------------------------

def other(framework: str) -> str:
    return "jax" if framework == "torch" else "torch"


class _Checker:
    """One grading: the sessions (user, reference, control and diagnosis runs) and their probes."""

    def __init__(self, spec, framework: str, user: UserFile, cfg, timeout_s: float, stack: contextlib.ExitStack):
        self.spec, self.framework, self.user, self.cfg, self.timeout_s = spec, framework, user, cfg, timeout_s
        self.memo, self.kept = {}, []
        self.ref_fw = framework if spec.parity.stochastic else other(framework)

        def opened(fw, **kw):
            return stack.enter_context(runner.opened(spec, fw, cfg, **kw))

        self.ref = opened(self.ref_fw)
        self.torch = self.ref if self.ref_fw == "torch" else opened("torch")
        self.twin = self.ref if self.ref_fw == framework else self.torch if framework == "torch" else opened(framework)
        self.mine = opened(framework, lesson=_WithInputs(user.module, self.twin.lesson.load_data))
        self._opened, self.hazards, self.current = opened, {}, "structure"
        self.variants = spec.parity.variants or spec.trained
        self.grade = Grade(spec.name, framework, user.path, f"{self.ref_fw}_impl/{spec.name}.py", cfg.dtype,
                           stages={s: StageGrade(s) for s in STAGES})

    # the runs ------------------------------------------------------------------------------------------
    def without(self, hazard: str):
        """The JAX reference with ``hazard``'s fix removed."""
        if hazard not in self.hazards:
            self.hazards[hazard] = self._opened("jax", hazard=hazard)
        return self.hazards[hazard]

    def run(self, s, what: str, fn, *args, **kw):
        """``fn(s, *args)``, once per session and arguments; the user's session's errors are theirs."""
        key = (id(s), what, *(id(a) if isinstance(a, dict) else a for a in args), *sorted(kw.items()))
        self.kept += [a for a in args if isinstance(a, dict)]  # an id stays that dict's while memoised
        if key not in self.memo:
            if s is self.mine:
                with self.bounded(), _theirs(self.user.path):
                    self.memo[key] = fn(s, *args, **kw)
            else:
                self.memo[key] = fn(s, *args, **kw)
        return self.memo[key]

    def probe(self, s, weights: dict, variant: str, stage: str) -> dict:
        """One step's probe: the user's stage by stage (an error belongs to its stage), the others' whole."""
        return self.run(s, "probe", session.probe, weights, variant, stages=(stage,) if s is self.mine else stages.ORDER)

    def stage(self, s, stage: str, weights: dict, variant: str) -> dict:
        """The tensors the stage compares, from ``weights``."""
        if stage in stages.ORDER:
            p = self.probe(s, weights, variant, stage)
            return {**p["forward"], **stages.activations(p["activations"]["train"])} if stage == "forward" else p[stage]
        if stage == "training":
            steps = self.grade.steps[variant]
            return stages.by_window(self.run(s, "trace", session.trace, weights, steps, variant, evaluate=False)["losses"])
        if stage == "evaluation":
            return self.run(s, "evaluation", session.evaluation, weights, variant)
        found = self.run(s, "loop", session.loop, weights, variant)
        return {"losses": found["losses"], **{f"evaluation {i + 1}: {k}": v for i, m in enumerate(found["metrics"])
                                              for k, v in m.items()}}

    # the stages ----------------------------------------------------------------------------------------
    def structure(self) -> None:
        contract = protocol.DataParallelLesson if self.spec.shape.data_parallel else protocol.Lesson
        problems = protocol.differences(self.user.module, contract, names=False)
        for name in dict.fromkeys([*self.spec.shape.steps.values(), *self.spec.shape.exercises]):
            if not callable(getattr(self.user.module, name, None)):
                problems.append(f"no {name}")
        if problems:
            raise LessonError(f"{self.user.path}: " + "; ".join(dict.fromkeys(problems)) + f" (the names and signatures of "
                              f"{self.framework}_impl/{self.spec.name}.py: `lessons show {self.spec.name}`)")
        g = self.grade.stages["structure"]
        for v in self.variants:
            want = self.w0(v)
            have = self.run(self.mine, "init", session.initial_weights, v)
            problems = _mapping(want, have)
            g.set("FAIL" if problems else "pass", v, stages.Gap(problems[0][0], math.inf, None, 0.0) if problems
                  else None, problems[0][1] if problems else "", [p[1] for p in problems[1:4]])

    def w0(self, variant: str) -> dict:
        return self.run(self.torch, "init", session.initial_weights, variant)

    def maps(self, variant: str) -> bool:
        return not _mapping(self.w0(variant), self.run(self.mine, "init", session.initial_weights, variant))

    def data(self) -> None:
        g = self.grade.stages["data"]
        for v in self.variants:
            want = self.run(self.twin, "data", session.raw_data, v)  # in the user's framework's layout
            hp = self.spec.settings(v, self.cfg.data)
            with self.bounded(), _theirs(self.user.path):
                have = self.user.module.load_data(hp, self.cfg.source())
            problem = _data_problem(want, have)
            g.set("FAIL" if problem else "pass", v, None, problem or "")

    def init(self) -> None:
        g = self.grade.stages["init"]
        for v in self.variants:
            have = self.run(self.mine, "init", session.initial_weights, v)
            odd = _init_differences(self.w0(v), have)
            if not odd:
                g.set("pass", v, None, "")
                continue
            diagnosis = []
            if self.framework == "jax" and hazards.get("init") in hazards.for_lesson(self.spec.name):
                stock = self.run(self.without("init"), "init", session.initial_weights, v)
                if not _init_differences(stock, have, names=[n for n, _ in odd]):
                    diagnosis.append(_hazard_line(self.spec.name, "init"))
            g.set("advice", v, None, odd[0][1], diagnosis or [f"{n}: {why}" for n, why in odd[:3]])

    def probed(self, stage: str) -> None:
        """forward, loss, gradients, update, training, evaluation, loop: the user against the reference
        starting at the torch twin's initial weights, within the control."""
        g = self.grade.stages[stage]
        # train() is one loop for every variant: the first is enough, except for models trained together
        # (each alone; the mode a model follows shows only in some)
        for v in self.variants if stage != "loop" or self.spec.shape.together else self.variants[:1]:
            if not self.maps(v):
                g.set("not run", v, None, "the weights do not map (structure)")
                continue
            w0 = self.w0(v)
            control = nudge(w0, self.cfg.dtype)
            ref, ctl = self.stage(self.ref, stage, w0, v), self.stage(self.ref, stage, control, v)
            twin = None if self.twin is self.ref else self.stage(self.twin, stage, w0, v)
            try:
                mine = self.stage(self.mine, stage, w0, v)
            except DivergenceError as e:
                g.set("FAIL", v, stages.Gap("losses", math.inf, None, 0.0), str(e).split(": ", 1)[-1])
                continue
            except _Crashed as e:
                raise LessonError("\n".join([str(e), *self.same_crash(stage, w0, v, e.raised)])) from None
            gaps = stages.compare(ref, mine, ctl, self.cfg.dtype, twin=twin)
            worst = stages.worst(gaps)
            if stages.within(gaps):
                g.set("pass", v, worst, worst.tensor if worst else "")
                continue
            g.set("FAIL", v, worst, _where(stage, worst), self.diagnose(stage, v, w0, mine, ref, gaps, worst))

    def bounded(self):
        """Around the user's code: stopped after the timeout, named by the stage it runs in."""
        return _bounded(self.timeout_s, self.user.path, f"in the {self.current} stage")

    # the diagnosis -------------------------------------------------------------------------------------
    def diagnose(self, stage: str, v: str, w0: dict, mine: dict, ref: dict, gaps: list, worst) -> list[str]:
        lines = []
        if self.framework == "jax" and self.ref_fw == "torch":
            fixed = self.stage(self.twin, stage, w0, v)
            for h in hazards.for_lesson(self.spec.name):
                if h.gpu_only or h.evidence == "init":
                    continue
                try:
                    stock = self.stage(self.without(h.name), stage, w0, v)
                except (DivergenceError, TypeError, ValueError):
                    continue  # the stock call cannot run this lesson (cnn's 'SAME' padding: fc1 gets 784 inputs)
                if stages.matches(mine, stock, gaps) and not stages.matches(fixed, stock, gaps):
                    lines.append(_hazard_line(self.spec.name, h.name))
            if lines:
                return lines
            lines.append("no known hazard matches")
        lines.append(f"largest difference: {_where(stage, worst)}: {fmt(worst.gap)} (limit {fmt(worst.limit)}: "
                     f"control {fmt(worst.control)})")
        explain = getattr(self, f"_explain_{stage}", None)
        return lines + (explain(v, w0, mine, ref, gaps) if explain else [])

    def same_crash(self, stage: str, w0: dict, v: str, theirs: Exception) -> list[str]:
        """The hazards without whose fix the JAX reference raises what the user's code raised, e.g.
        cnn with nnx.Conv's default 'SAME' padding: fc1 gets 784 inputs where it takes 400."""
        if self.framework != "jax":
            return []
        lines = []
        for h in hazards.for_lesson(self.spec.name):
            if h.gpu_only or h.evidence == "init":
                continue
            try:
                self.stage(self.without(h.name), stage, w0, v)
            except Exception as stock:
                if type(stock) is type(theirs) and _first_line(stock) == _first_line(theirs):
                    lines.append(_hazard_line(self.spec.name, h.name))
        return lines

    def _explain_forward(self, v, w0, mine, ref, gaps) -> list[str]:
        out = []
        seen = {k: self.probe(s, w, v, "forward")["activations"]["train"] for k, s, w in (
            ("ref", self.ref, w0), ("mine", self.mine, w0), ("ctl", self.ref, nudge(w0, self.cfg.dtype)),
            ("twin", self.twin, w0))}
        acts = stages.compare(*(stages.activations(seen[k]) for k in ("ref", "mine", "ctl")), self.cfg.dtype,
                              twin=stages.activations(seen["twin"]))
        first = next((a for a in acts if not a.ok), None)
        if first is not None:
            out.append(f"the first layer that differs feeds the {first.tensor.removesuffix(' input')} "
                       f"(in call order); everything before it matches")
        flipped = stages.flips(seen["ref"], seen["mine"])
        if flipped.total:
            out.append(flipped.describe())
        limits = {g.tensor: g.limit for g in gaps}
        evals = [k for k in ref if k.startswith("eval output")]
        train = {k: k.replace("eval output", "train output") for k in evals}
        if evals and any(stages.gap(ref[k], ref[train[k]]) > limits[k] for k in evals) \
                and all(stages.gap(ref[train[k]], mine[k]) <= limits[k] for k in evals):
            out.append("in eval mode your model computes what the reference computes in train mode: its Dropout or "
                       "BatchNorm does not follow model.eval()")
        outputs = [k for k in ref if " output" in k]
        for name, w in w0.items():
            if w.ndim == 2 and w.shape[0] == w.shape[1] > 1:
                swapped = {**w0, name: w.T.copy()}
                p = self.probe(self.mine, swapped, v, "forward")["forward"]
                if all(stages.gap(ref[k], p[k]) <= limits[k] for k in outputs):
                    out.append(f"{name} is used transposed: with it transposed your forward matches; torch's Linear "
                               f"computes x @ W.T + b with W (out, in), a Flax kernel is (in, out)")
        return out

    def _explain_loss(self, v, w0, mine, ref, gaps) -> list[str]:
        c = stages.scale_between(ref, mine)
        n = len(self.run(self.ref, "data", session.raw_data, v)[0])
        size = self.spec.settings(v, self.cfg.data).get("batch_size") or n
        if c is not None and abs(c - size) < 0.01 * size:
            return [f"your loss is {c:g} times the reference's, the batch's size: a sum where torch takes the mean?"]
        return [f"your loss is {c:.4g} times the reference's"] if c is not None else []

    def _explain_gradients(self, v, w0, mine, ref, gaps) -> list[str]:
        c = stages.scale_between(ref, mine)
        return [f"every gradient is {c:.4g} times the reference's (the loss is scaled: sum instead of mean?)"] \
            if c is not None else []

    def _explain_update(self, v, w0, mine, ref, gaps) -> list[str]:
        out = []
        moves = {k: x for k, x in ref.items() if k.startswith("step 1 Δ")}
        c = stages.scale_between(moves, mine)
        lr = self.spec.settings(v, self.cfg.data).get("lr")
        if c is not None:
            out.append(f"every parameter moves {c:.4g} times the reference's step"
                       + (f": the learning rate {c * lr:.4g} where the lesson's is {lr:g}?" if lr else ""))
        if all(g.ok for g in gaps if g.tensor.startswith("step 1 ")):
            out.append("the first step matches and the second does not: something carries over between steps")
        if self.framework == "torch":
            held = self.probe(self.mine, w0, v, "update")["held"]
            twin = self.probe(self.twin, w0, v, "update")["held"]
            summed = {k: twin[k] + twin[k.replace("step 2", "step 1")] for k in twin if k.startswith("step 2")}
            if summed and stages.within(stages.compare(summed, held, None, self.cfg.dtype)):
                out.append("after step 2 your parameters hold the sum of steps 1 and 2's gradients: torch adds "
                           "into .grad until optimizer.zero_grad() (or model.zero_grad()) clears it")
        return out

    def _explain_loop(self, v, w0, mine, ref, gaps) -> list[str]:
        if all(g.ok for g in gaps if g.tensor == "losses"):
            return ["your train() takes the reference's steps (the losses match) but evaluates differently: "
                    "is the model in eval mode (model.eval()) when it evaluates, and on the right split?"]
        return []

    # exercises and final metrics ---------------------------------------------------------------------
    def exercises(self) -> None:
        """The variants that train nothing (lesson.<variant>(hp, source, seed)): each number within the
        target's tolerance of the reference's, or of the project's twin in the user's framework where
        the frameworks differ by design (JAX prints once per trace); a target that is measured, not
        judged (a timing), is left out. Graded in the evaluation stage."""
        g = self.grade.stages["evaluation"]
        for v in self.spec.shape.exercises:
            hp, target = self.spec.settings(v, self.cfg.data), self.spec.target(v, self.cfg.data)
            if target is not None and target.framework_tol is None and target.check(math.nan):
                continue   # no bound and no tolerance: measured, not judged
            ref = _numbers(getattr(self.ref.lesson, v)(hp, self.cfg.source(), self.ref.seed))
            own = ref if self.twin is self.ref else \
                _numbers(getattr(self.twin.lesson, v)(hp, self.cfg.source(), self.twin.seed))
            with self.bounded(), _theirs(self.user.path):
                mine = _numbers(getattr(self.user.module, v)(hp, self.cfg.source(), self.mine.seed))
            tol = max(target.framework_tol or 0.0, 1e-6)

            def near(k, x):
                return k in mine and abs(mine[k] - x) <= tol * max(1.0, abs(x))

            bad = [(k, abs(mine[k] - x) if k in mine else math.inf) for k, x in ref.items()
                   if not near(k, x) and not (k in own and near(k, own[k]))]
            if bad:
                k, d = max(bad, key=lambda b: b[1])
                g.set("FAIL", v, stages.Gap(f"{v}: {k}", d, None, tol), f"{v}: {k} differs by {fmt(d)}",
                      [f"{v}: {k} {fmt(mine.get(k))} where the reference gives {fmt(ref[k])} (tolerance {tol:g})"])


def _numbers(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items() if k != "extras"}


def _mapping(want: dict, have: dict) -> list[tuple[str, str]]:
    """(tensor, what is wrong) where the user's model does not map onto torch's names and shapes."""
    out = []
    for name, w in want.items():
        if name not in have:
            out.append((name, f"your model has no {name} {tuple(w.shape)}"
                              + (" (a Linear without its bias?)" if name.endswith("bias") else "")))
        elif have[name].shape != w.shape:
            flipped = have[name].shape == w.shape[::-1] and len(w.shape) == 2
            out.append((name, f"{name} is {tuple(have[name].shape)} where torch's is {tuple(w.shape)}"
                              + (": transposed (a Flax kernel is (in, out), torch's weight (out, in); "
                                 "the exchange transposes a kernel named `kernel`)" if flipped else "")))
    out += [(name, f"{name} {tuple(have[name].shape)} has no counterpart in torch's model")
            for name in have if name not in want]
    return out


def _data_problem(want: tuple, have) -> str | None:
    if not isinstance(have, (tuple, list)) or len(have) != len(want):
        return f"load_data returns {type(have).__name__} of {len(have) if hasattr(have, '__len__') else '?'} where " \
               f"the reference returns {len(want)} arrays"
    names = ("x_train", "y_train", "x_test", "y_test")
    for i, (w, h) in enumerate(zip(want, have)):
        h = np.asarray(h)
        label = names[i] if i < len(names) else f"array {i + 1}"
        if h.shape != w.shape:
            return f"{label} is {h.shape} where the reference's is {w.shape}"
        if h.dtype.kind != w.dtype.kind:
            return f"{label} is {h.dtype} where the reference's is {w.dtype}"
        if not np.array_equal(h, w):
            return f"{label} holds other values than the reference's"
    return None


def _init_differences(want: dict, have: dict, names=None) -> list[tuple[str, str]]:
    """Tensors whose initial values are not drawn like ``want``'s: spread, mean or bounds (sampling
    noise allowed for: INIT_SIGMAS standard deviations of the estimate)."""
    out = []
    for name in names or want:
        if name not in have or have[name].shape != want[name].shape:
            continue
        w, h = np.asarray(want[name], np.float64).ravel(), np.asarray(have[name], np.float64).ravel()
        n, sd = w.size, w.std()
        if n < INIT_SAMPLES:
            continue  # too few values to tell one distribution from another
        if sd == 0:
            if not np.array_equal(w, h):
                out.append((name, f"{name} starts at {fmt(float(h.mean()))} ± {fmt(float(h.std()))} where torch's is "
                                  f"{fmt(float(w[0]))} everywhere"))
            continue
        noise = INIT_SIGMAS / math.sqrt(max(n, 2))
        if h.std() == 0 or abs(h.std() / sd - 1) > max(noise, 0.05) or abs(h.mean() - w.mean()) > INIT_SIGMAS * sd / math.sqrt(n) \
                or np.abs(h).max() > np.abs(w).max() * (1 + noise):
            out.append((name, f"{name} is drawn with sd {fmt(float(h.std()))}, |max| {fmt(float(np.abs(h).max()))}; "
                              f"torch's: sd {fmt(float(sd))}, |max| {fmt(float(np.abs(w).max()))}"))
    return out


def _hazard_line(lesson: str, name: str) -> str:
    h = hazards.get(name)
    see = f"lessons parity {lesson} --hazard {name}" + (" --device gpu" if h.gpu_only else "")
    return f"looks like hazard {name}: {h.differs}; fix: {h.fix}; see it: {see}"


def _where(stage: str, worst) -> str:
    if worst is None:
        return ""
    return f"losses, {worst.tensor}" if stage == "training" else worst.tensor


def grade(spec, framework: str, path: Path, cfg, *, steps: int | None = None, timeout_s: float = TIMEOUT_S) -> Grade:
    """Grade FILE as ``spec``'s twin in ``framework``; LessonError (exit 2) when it cannot be graded."""
    if framework not in FRAMEWORKS:
        raise LessonError(f"unknown framework {framework!r}; choose one of: torch, jax")
    if not spec.trained:
        raise LessonError(f"{spec.name} trains nothing; `lessons check` grades the lessons that train")
    user = load(path, framework, spec.name, timeout_s)
    with contextlib.ExitStack() as stack:
        c = _Checker(spec, framework, user, cfg, timeout_s, stack)
        for v in c.variants:
            c.grade.steps[v] = steps or _default_steps(c, v)
        for stage in STAGES:
            c.current = stage
            try:
                if stage == "structure":
                    c.structure()
                elif stage == "data":
                    c.data()
                elif stage == "init":
                    c.init()
                else:
                    c.probed(stage)
                    if stage == "evaluation":
                        c.exercises()
            except _NotDone as e:
                c.grade.stages[stage].set("not done", "", None, f"needs {_owner(user, e.name)}")
                c.grade.not_done.append(_owner(user, e.name))
        c.grade.not_done = list(dict.fromkeys([*user.stubs, *c.grade.not_done]))  # in the file's order
        return c.grade


def _owner(user: UserFile, function: str) -> str:
    """A stub's name as the file writes it (Class.method for a method)."""
    return next((s for s in user.stubs if s == function or s.endswith("." + function)), function)


def _default_steps(c: _Checker, variant: str) -> int:
    """The steps over which the lesson claims per-step parity (Parity.first_steps in float32 where
    the variant has that claim; else the traced steps), the whole run where the spec traces it all."""
    p = c.spec.parity
    first = p.first_steps if c.cfg.dtype == "float32" and variant in (p.first_steps_variants or p.variants) else None
    steps = first or p.steps_for(variant, c.cfg.dtype)
    if steps:
        return steps
    hp = c.spec.settings(variant, c.cfg.data)
    plan = session.plan_for(hp, len(c.run(c.ref, "data", session.raw_data, variant)[0]), c.ref.seed)
    return plan.per_epoch * hp["epochs"]


# -- output ----------------------------------------------------------------------------------------------

def report(g: Grade) -> str:
    """The table of stages, the diagnosis of the first that fails, and where to look."""
    several = len(g.steps) > 1
    rows = []
    for s in g.stages.values():
        graded = s.worst is not None and s.status not in ("not done", "not run")
        rows.append([s.stage, s.status, fmt(s.worst.gap) if graded else "-",
                     fmt(s.worst.control) if graded and s.worst.control is not None else "-",
                     fmt(s.worst.limit) if graded else "-",
                     f"{s.variant}: {s.note}" if several and s.variant and s.note else s.note])
    trained = ", ".join(f"{v} {n}" if several else str(n) for v, n in g.steps.items())
    lines = [f"{g.path} as {g.lesson}'s {g.framework} twin, against {g.reference} from torch's initial weights "
             f"({g.dtype}; training steps compared: {trained})"]
    first, advice = g.first, g.stages["init"]
    if first is not None:
        lines.append(f"first stage to look at: {first.stage}" + (f" ({first.variant})" if several else "")
                     + f": {first.note}")
        notes = first.diagnosis
    elif g.not_done:
        lines.append("not done yet: " + ", ".join(g.not_done))
        notes = []
    else:
        lines.append("every stage passes" + (f" (advice: init: {advice.note})" if advice.status == "advice" else ""))
        notes = advice.diagnosis if advice.status == "advice" else []
    width = shutil.get_terminal_size((80, 24)).columns
    wrap = lambda text, lead="": textwrap.fill(text, width, initial_indent=lead, subsequent_indent="  ")
    table = format_table(["stage", "result", "gap", "control", "limit", "where"], rows)
    key = (f"gap: largest relative difference from the reference; limit: {stages.CONTROL_FACTOR:g}x the control's "
           f"(the reference from weights one rounding unit off), {stages.TWIN_FACTOR:g}x the project's own "
           f"{g.framework} twin's, or {stages.CONTROL_FACTOR:g} rounding units")
    return "\n".join([wrap(lines[0]), "", table, wrap(key), "", wrap(lines[1]), *(wrap(n, "- ") for n in notes)])


def command(args) -> int:
    """The CLI's ``check``: grade, print, write the record (graded files only)."""
    from shared import specs

    if (args.jax is None) == (args.torch is None):
        raise LessonError("give the file to check as --jax FILE or --torch FILE (one of them)")
    if args.steps is not None and args.steps < 1:
        raise LessonError(f"--steps must be at least 1, got {args.steps}")
    if args.timeout <= 0:
        raise LessonError(f"--timeout must be positive, got {args.timeout:g}")
    spec = specs.get(args.lesson)
    framework, path = ("jax", args.jax) if args.jax is not None else ("torch", args.torch)
    out, target = OutputDir(args.out), args.out / spec.name / f"check-{framework}.json"
    out.check([target])  # a file of the user's in the way: one line before anything runs
    g = grade(spec, framework, Path(path), args.cfg, steps=args.steps, timeout_s=args.timeout)
    if any(s.status in ("pass", "FAIL", "advice") for s in g.stages.values()):
        print(report(g))
    if g.not_done:
        raise LessonError(f"{g.path}: not done yet: {', '.join(g.not_done)}")
    written = out.write_text(target, json.dumps(g.record(), indent=1) + "\n")
    print(f"\nwrote {written}")
    return g.exit_code
