"""Each translation hazard's fix matters, shown where it bites: its demo (`lessons hazards --demo NAME`,
torch_impl/hazards.py and jax_impl/hazards.py) puts the gap without the fix far past the one-ulp
control and keeps it within the control with the fix, and the CLI prints that difference. Lesson
runs without a fix (``--hazard NAME``) are tested with their lesson (poly_fit: rmsprop_defaults,
xor: bce_clamp, batchnorm: bn_momentum, bn_running_var, cnn: the conv hazards); here: the registry,
the demos, the CLI, the verdicts, init, adam_bias_correction and tf32."""
import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from shared.tools import demos, hazards, parity
from shared.harness import runner
from shared import specs
from shared.cli import main
from shared.harness.config import RunConfig

SPEC = specs.get("multiclass")
STEPS = 30
ROOT = Path(__file__).resolve().parent.parent
ON_CPU = [h.name for h in hazards.HAZARDS if not h.gpu_only]


def test_every_hazard_is_registered_with_a_demo_and_the_lessons_that_meet_it():
    names = [h.name for h in hazards.HAZARDS]
    assert len(names) >= 17 and len(set(names)) == len(names)
    assert set(names) >= {"init", "rmsprop_defaults", "bn_momentum", "bn_running_var", "bce_clamp",
                          "adam_bias_correction", "tf32", "conv_padding", "pool_stride", "nchw_flatten", "adamw",
                          "sgd_weight_decay", "layer_norm", "gelu_approximate", "lr_schedule_units", "mse_l2_loss",
                          "clip_grad_norm"}
    fixes = {n.name for n in ast.parse((ROOT / "jax_impl" / "_as_torch.py").read_text()).body
             if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for h in hazards.HAZARDS:
        assert set(h.lessons) <= set(specs.LESSONS), h
        assert h.demo and h.name in specs.demos().hparams, h.name
        assert h.cost is None or h.cost in h.lessons, h.name  # priced in a lesson that meets it
        assert h.marker == "precision" or h.marker.removeprefix("_as_torch.") in fixes, h.marker


def test_lessons_hazards_lists_each_hazard_with_its_lessons(capsys):
    assert main(["hazards"]) == 0
    out = capsys.readouterr().out
    for h in hazards.HAZARDS:
        line = next(l for l in out.splitlines() if l.startswith(h.name + " "))
        assert (h.lessons[0] if h.lessons else " - ") in line
    assert f"{len(hazards.HAZARDS)} hazards. See one bite: `lessons hazards --demo NAME`" in out


def test_demo_twins_are_one_function_per_hazard_in_the_registrys_order():
    """torch_impl/hazards.py and jax_impl/hazards.py read as a translation: the same functions in the
    same order (helpers first), a public one per hazard in the registry's order; each JAX demo calls
    its hazard's fix (tf32's is the precision policy the harness applies)."""
    from shared.views import twins

    names = {fw: [n.name for n in ast.parse((ROOT / f"{fw}_impl" / "hazards.py").read_text()).body
                  if isinstance(n, ast.FunctionDef)] for fw in ("torch", "jax")}
    assert [n for n in names["torch"] if not n.startswith("_")] == [h.name for h in hazards.HAZARDS]
    helpers = {fw: [n for n in ns if n.startswith("_")] for fw, ns in names.items()}
    assert helpers["torch"] == [n for n in helpers["jax"] if n in helpers["torch"]]
    pairs = {p.name: p for p in twins.load("hazards").pairs}
    for h in hazards.HAZARDS:
        assert pairs[h.name].torch and pairs[h.name].jax, h.name
        if h.marker != "precision":
            assert h in pairs[h.name].hazards and pairs[h.name].sides[h.name] == ("jax",), h.name


@pytest.mark.parametrize("name", ON_CPU)
def test_each_demo_bites_without_its_fix_and_the_cli_shows_it(tmp_path, capsys, name):
    """`lessons hazards --demo NAME`: without the fix the gap to torch is over FACTOR times the one-ulp
    control's (or the shapes differ); with it, within that. The printed table and verdict show it,
    and the record and plot the site reads are written."""
    assert main(["hazards", "--demo", name, "--no-cost", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "hazards" / f"{name}.json").read_text())
    assert (tmp_path / "hazards" / f"{name}.png").stat().st_size > 5_000
    assert record["bites"] and record["fixed"], record["verdict"]
    for case, runs in record["cases"].items():
        assert runs["fixed"]["ratio"] <= demos.FACTOR, (case, runs)
    assert max(runs["without"]["ratio"] for runs in record["cases"].values()) > demos.FACTOR
    assert f"verdict: bites: without the fix" in out and "JAX without it (stock)" in out
    rows = [l for l in out.splitlines() if "JAX without it (stock)" in l]
    assert any(re.search(r"\s(inf|[\d.e+,]+)$", r) and float(r.split()[-1].replace(",", "")) > demos.FACTOR
               for r in rows), rows


def test_a_demo_prices_its_hazard_in_its_lesson(tmp_path, capsys):
    """With the cost: the lesson's JAX twin at its own settings with the fix and without; a port that does
    not run (cnn without pool_stride: fc1 gets 16 x 4 x 4 features... of the wrong size) says so."""
    assert main(["hazards", "--demo", "pool_stride", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cost in cnn at its own settings" in out
    fixed = next(l for l in out.splitlines() if l.startswith("with the fix"))
    without = next(l for l in out.splitlines() if l.startswith("without it"))
    assert float(fixed.split()[4]) >= specs.get("cnn").targets["lenet"].at_least
    assert "fails: TypeError" in without


@pytest.mark.parametrize("argv,message", [
    (["hazards", "--demo", "nope"], "unknown hazard 'nope'; choose one of: init,"),
    (["hazards", "--demo", "tf32"], "the tf32 hazard shows only on a GPU; add --device gpu"),
])
def test_bad_demo_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_a_gap_from_step_one_is_never_called_rounding():
    """Judged per window: a gap there from step 1 is not rounding, however far the control drifts
    later; a gap that opens where the control does is."""
    steps = 2000
    control = np.full(steps, 1e-7)
    control[1500:] = 0.2                      # the control drifts late (RMSprop's bursts)
    early = np.full(steps, 0.13)              # the gap is there from the start
    late = np.where(np.arange(steps) < 1500, 2e-7, 0.15)
    r = lambda rel: parity.ParityResult("v", "float32", rel, control)
    assert not r(early).explained_by_rounding and r(early).unexplained_window == (0, 10)
    assert "larger than rounding from steps 1-10" in parity.verdict(r(early))
    assert parity.verdict(r(early)).endswith("--localize names the step and the stage (forward, loss, gradients, "
                                             "update) where they part")   # the stage, never notes that do not exist
    assert r(late).explained_by_rounding and "rounding amplified" in parity.verdict(r(late))


def test_poly_fit_without_rmsprop_defaults_is_not_called_rounding(runs, cfg):
    """`lessons parity poly_fit --hazard rmsprop_defaults`: 0.128 off over steps 1-10 while the control is
    ~1e-7 there; it drifts only from step ~1600. The verdict names the hazard."""
    spec = specs.get("poly_fit")
    pair = runs.traces(spec, cfg, "optim", steps=None, hazard="rmsprop_defaults")
    control = runs.control(spec, cfg, "optim", steps=None)
    r = parity.compare("optim without rmsprop_defaults", cfg.dtype, pair["torch"], pair["jax"], control)
    r.hazard = "rmsprop_defaults"
    assert r.window_max(0, 10) > 0.1 and r.control.max() > 0.01  # the control does drift, late
    assert not r.explained_by_rounding
    assert parity.verdict(r).startswith("float32; larger than rounding from steps 1-10")
    assert parity.verdict(r).endswith("the rmsprop_defaults hazard")


@pytest.mark.parametrize("argv,message", [
    (["parity", "multiclass", "--hazard", "nope"], "unknown hazard 'nope'; choose one of: init,"),
    (["parity", "multiclass", "--hazard", "bce_clamp"], "multiclass does not meet the hazard 'bce_clamp'"),
    (["parity", "multiclass", "--hazard", "tf32"], "the tf32 hazard shows only on a GPU"),
])
def test_bad_hazard_is_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_parity_with_a_hazard_prints_the_run_without_its_fix(tmp_path, capsys):
    assert main(["parity", "multiclass", "--hazard", "adam_bias_correction", "--steps", "12", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mlp without adam_bias_correction" in out and "fix: as_torch.adam" in out
    assert "its demo: lessons hazards --demo adam_bias_correction" in out
    row = next(l for l in out.splitlines() if l.startswith("mlp without adam_bias_correction"))
    assert row.endswith("the adam_bias_correction hazard"), row
    assert (tmp_path / "multiclass" / "parity-float32-adam_bias_correction.png").stat().st_size > 0


@pytest.fixture(scope="module")
def adam_traces():
    """torch, JAX, JAX with optax.adam's bias correction, and torch nudged by one ulp, float32."""
    cfg = RunConfig(progress=False)
    weights = runner.initial_weights(SPEC, "mlp", cfg)
    trace = lambda fw, w=weights, hazard=None: runner.trace(SPEC, fw, cfg, w, STEPS, "mlp", hazard=hazard)
    return {"torch": trace("torch"), "jax": trace("jax"), "removed": trace("jax", hazard="adam_bias_correction"),
            "control": trace("torch", parity.nudge(weights, "float32"))}


def test_adam_bias_correction_matters(adam_traces):
    """optax.adam's float32 1 - 0.999**t: the loss gap grows ~50x past the one-ulp control; with the
    fix it stays within a few times the control."""
    gap = lambda k: parity.rel_diff(adam_traces["torch"]["losses"], adam_traces[k]["losses"]).max()
    assert gap("removed") > 10 * gap("control"), (gap("removed"), gap("control"))
    assert gap("jax") < 5 * gap("control"), (gap("jax"), gap("control"))


def test_init_matters():
    """Without the fix Flax draws lecun-normal kernels (sqrt(3) times torch's spread) and zero
    biases; with it every tensor has torch's U(+-1/sqrt(fan_in)) spread."""
    cfg = RunConfig(progress=False)
    torch_w = runner.initial_weights(SPEC, "mlp", cfg)
    fixed = runner.initial_weights(SPEC, "mlp", cfg, framework="jax")
    removed = runner.initial_weights(SPEC, "mlp", cfg, framework="jax", hazard="init")
    for name, w in torch_w.items():
        fan_in = torch_w[name.replace("bias", "weight")].shape[1]
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(fixed[name]).max() <= bound and np.abs(w).max() <= bound
        if name.endswith("weight"):  # enough samples to compare spreads tightly
            assert abs(fixed[name].std() / w.std() - 1) < 0.1, name
            assert abs(removed[name].std() / w.std() - np.sqrt(3)) < 0.2, name
        else:
            assert fixed[name].std() > 0.1 * bound and not removed[name].any(), name


@pytest.mark.gpu
def test_tf32_matters_on_gpu(gpu):
    """JAX's default GPU matmul precision (TF32) puts the float32 loss gap past the control;
    the strict policy keeps it near."""
    cfg = RunConfig(device="gpu", progress=False)
    weights = runner.initial_weights(SPEC, "mlp", cfg)
    t = runner.trace(SPEC, "torch", cfg, weights, STEPS, "mlp")["losses"]
    j = runner.trace(SPEC, "jax", cfg, weights, STEPS, "mlp")["losses"]
    j_tf32 = runner.trace(SPEC, "jax", cfg, weights, STEPS, "mlp", hazard="tf32")["losses"]
    c = runner.trace(SPEC, "torch", cfg, parity.nudge(weights, "float32"), STEPS, "mlp")["losses"]
    control = parity.rel_diff(t, c).max()
    assert parity.rel_diff(t, j_tf32).max() > 10 * control
    assert parity.rel_diff(t, j).max() < 5 * max(control, parity.EPS["float32"])


def test_parity_header_says_where_each_run_starts(tmp_path, capsys):
    """With --hazard init both JAX runs start from their own initialisation, and the header says so."""
    assert main(["parity", "multiclass", "--hazard", "init", "--steps", "3", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "starts: torch from its own initial weights; JAX from its own initialisation" in out
    assert "JAX without init from Flax's default initialisation" in out and "from torch's initial weights" not in out
    assert "see the lesson's parity notes" not in out


@pytest.mark.gpu
def test_tf32_demo_bites_on_gpu(gpu, tmp_path, capsys):
    """JAX's default GPU precision (TF32 matmuls and convolutions) against torch with TF32 off."""
    assert main(["hazards", "--demo", "tf32", "--device", "gpu", "--no-cost", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "hazards" / "tf32.json").read_text())
    assert record["bites"] and record["fixed"], record["verdict"]
