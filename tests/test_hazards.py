"""Each translation hazard's fix matters: removing it (``--hazard NAME``) makes the cross-framework
gap measurably larger than the one-ulp control. Lesson-specific hazards are tested with their
lesson (poly_fit: rmsprop_defaults, xor: bce_clamp, batchnorm: bn_momentum, bn_running_var);
here: the registry, the CLI, init, adam_bias_correction and tf32."""
import numpy as np
import pytest

from shared.tools import hazards, parity
from shared.harness import runner
from shared import specs
from shared.cli import main
from shared.harness.config import RunConfig

SPEC = specs.get("multiclass")
STEPS = 30


def test_every_hazard_is_registered_with_lessons_that_meet_it():
    names = {h.name for h in hazards.HAZARDS}
    assert names >= {"init", "rmsprop_defaults", "bn_momentum", "bn_running_var", "bce_clamp",
                     "adam_bias_correction", "tf32"}
    for h in hazards.HAZARDS:
        assert h.lessons and set(h.lessons) <= set(specs.LESSONS), h


def test_lessons_hazards_lists_each_hazard_with_its_lessons(capsys):
    assert main(["hazards"]) == 0
    out = capsys.readouterr().out
    for h in hazards.HAZARDS:
        line = next(l for l in out.splitlines() if l.startswith(h.name + " "))
        assert h.lessons[0] in line


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
