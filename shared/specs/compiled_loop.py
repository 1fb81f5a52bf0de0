"""compiled_loop: one training run written three ways in each framework, and what JAX compiles."""
from shared.specs.base import Bench, LessonSpec, Parity, RunShape, Target

TRAINED = Target("test_accuracy", at_least=0.88, framework_tol=0.01)   # softmax_regression's MNIST run

SPEC = LessonSpec(
    name="compiled_loop",
    title="One training loop three ways: what runs, and why JAX is fast",
    teaches=(
        "Beyond the course: softmax_regression's MNIST run (Linear(784, 10), SGD lr 0.1, batches of 100, "
        "15 epochs) trained by three forms of the same loop, which give the same losses at very different "
        "speeds. as_written: the course's DataLoader loop with loss.item() every step / an nnx.jit step per "
        "batch read with float(). resident: the data on the device, batches as x[idx], the losses read once "
        "per epoch / the step under jax.jit on nnx.split state. compiled: torch.compile of the step (slower "
        "on a CPU, and kept to show it) / the whole epoch as one lax.scan, the code every JAX fast path "
        "runs. Then what trips a PyTorch user in JAX, each in a function that runs: print vs "
        "jax.debug.print under jit, a second compilation for a smaller last batch, nnx.Rngs streams vs "
        "torch.manual_seed, immutable arrays and .at[], and block_until_ready before reading a clock."
    ),
    dataset="mnist",
    seed=777,
    hparams={
        # softmax_regression's MNIST settings (the course's, 003 [5] 4); "loop" names the variant's form.
        "common": {"classes": 10, "lr": 0.1, "batch_size": 100, "shuffle": True, "drop_last": True, "epochs": 15},
        "as_written": {"loop": "as_written"},
        "resident": {"loop": "resident"},
        "compiled": {"loop": "compiled"},
        "tracing": {"calls": 3},                          # calls of a jitted function that prints
        # 4,000 embedded digits / 128 leave a last batch of 32 (60,000 / 128: 96), so drop_last matters
        "recompiles": {"batch_size": 128},
        "timing": {"size": 1024},                         # a (size, size) matmul, timed with and without a wait
    },
    shape=RunShape(exercises=("tracing", "recompiles", "timing")),
    targets={
        # seed 777, embedded digits (CPU): test accuracy 0.906 torch / 0.908 jax, as softmax_regression
        "as_written": TRAINED,
        "resident": TRAINED,
        "compiled": TRAINED,
        # lines that show the value: torch's print every call; JAX's print once (a tracer), its debug print every call
        "tracing": Target("value_prints", at_least=3, at_most=3, framework_tol=0),
        "recompiles": Target("compilations", at_least=2, at_most=2, framework_tol=0),  # drop_last: 1
        "timing": Target("queued_share"),   # the share of the time a call takes to return: measured, not judged
    },
    course={"note": "003, [5] 4 (MNIST softmax regression); the loop forms are beyond the course",
            "seed": 777, "data": "torchvision MNIST, 60,000 training images with ToTensor() (0..1 pixels)",
            "model": "nn.Linear(784, 10, bias=True)", "loss": "CrossEntropyLoss", "optimizer": "SGD(lr=0.1)",
            "epochs": 15, "batch_size": 100, "shuffle": True, "drop_last": True,
            "loop": "for X, Y in data_loader: ...; avg_cost += cost / total_batch",
            "published": {}},
    deviations={"data": "the embedded 4,000 training / 1,000 test digits by default (--data full for MNIST's)",
                "loop": "as_written is the course's loop; resident and compiled are the same steps in the forms "
                        "written for speed (the course's avg_cost is read every step: here .item())",
                "evaluation": "test accuracy and loss on 0..1 pixels, after the last step, in eval mode"},
    notes=("Measured by `lessons bench compiled_loop` (full-size data, 2 busy CPU cores; docs/benchmarks.md): "
           "JAX's epoch as one lax.scan ran 3,033 steps/s, jax.jit on split state 1,826, an nnx.jit call per "
           "step 336 (the scan 9x that); torch's resident loop 1,396, torch.compile 982, the DataLoader loop "
           "919. The loop, not the step, is the cost on a model this small."),
    details=("test_loss", "prints", "compilations_drop_last"),
    bench=Bench(epochs=2, forms=True),
    parity=Parity(
        variants=("as_written",),   # the fast path is one loop for all three forms; their own loops: train_loop_*
        steps=None,                 # the whole run: 15 epochs x 40 batches = 600 steps on embedded data
        first_steps=10, loss_rel=1e-5,
        final_rel=1e-3,
        train_loop_epochs=2,        # each form's train() against the fast path (tests/test_every_lesson.py)
        extras={"forms_float64_rel": 1e-12},   # every form against the others, float64, each step
    ),
)
