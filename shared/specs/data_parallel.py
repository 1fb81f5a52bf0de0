"""data_parallel: one global batch split over k workers whose averaged gradients make one step."""
from shared.specs.base import Bench, LessonSpec, Parity, RunShape, Target

SPEC = LessonSpec(
    name="data_parallel",
    title="Data-parallel SGD: each global batch split over k workers",
    teaches=(
        "The course splits the data into pieces because one GPU cannot hold it all. Data "
        "parallelism gives the pieces to k workers at once: each worker holds the whole model, takes "
        "its 1/k of every global batch and computes the gradient of its piece; an all-reduce "
        "averages the k gradients, and every worker takes the same step. The step is the one a single "
        "device takes on the whole batch. torch: DistributedDataParallel over k gloo (or NCCL) "
        "processes. JAX: the batch sharded over a k-device Mesh, by jit with shardings and by "
        "shard_map with an explicit lax.pmean."
    ),
    dataset="mnist",
    seed=43052,
    hparams={
        "common": {"classes": (0, 1, 2), "hidden": 32, "lr": 1e-3, "epochs": 10,   # multiclass's MLP and Adam
                   "batch_size": 256, "shuffle": True, "drop_last": True},       # the global batch
    },
    shape=RunShape(
        data_parallel=True, workers=(1, 2, 4),   # --workers K: one of these
        # auto: jit with shardings, XLA inserts the all-reduce (torch: DDP's hooks in backward);
        # explicit: the all-reduce written out, shard_map + lax.pmean (torch: no_sync + dist.all_reduce)
        steps={"auto": "train_step", "explicit": "train_step_explicit"},
    ),
    targets={
        "auto": Target("test_accuracy", at_least=0.95, framework_tol=0.02),
        "explicit": Target("test_accuracy", at_least=0.95, framework_tol=0.02),
    },
    details=("train_loss", "test_loss", "train_accuracy"),
    course={"note": "000, section 2 (A: the data in pieces)", "seed": 21345,
            "why": "GPU memory is expensive (80 GB for 30 million won) and fills fast, so not all 100,000 "
                   "points of y = 2x + noise need to go to the GPU at once",
            "pieces": "the data in two halves (even and odd observations): one half on the GPU, yhat, loss, "
                      "grad, update; then the other half; repeat",
            "batch_size": "2048 (DataLoader, MNIST 0/1, 784-32-1 with Sigmoid and BCELoss)",
            "optimizer": "Adam()", "epochs": 100, "shuffle": False},
    deviations={"pieces": "the k pieces of a global batch go to k workers at the same time, and their gradients "
                          "are averaged into one update; the course updates after each half in turn",
                "data": "the embedded 1,200 training digits 0/1/2 with multiclass's 784-32-3 MLP and "
                        "cross-entropy (--data full for MNIST's)",
                "seed": "multiclass's seed, for multiclass's model",
                "batch_size": "256: it splits evenly over 1, 2 and 4 workers, 4 steps per epoch here",
                "epochs": "10 (40 steps): the lesson is about equal steps on 1, 2 and 4 workers, and each "
                          "run starts k processes",
                "shuffle": "per epoch from (seed, epoch) with drop_last, so every global batch is full and "
                           "splits evenly"},
    notes="k workers take the same steps as one device; on 2 CPU cores they are no faster (docs/benchmarks.md).",
    # `lessons bench data_parallel`: steps/s and samples/s against k, and the all-reduce's time
    bench=Bench(epochs=2, workers=(1, 2, 4)),
    parity=Parity(
        variants=("auto", "explicit"),
        steps=None,           # the whole run: 40 steps
        first_steps=10, loss_rel=1e-5,
        final_rel=1e-3,
        train_loop_epochs=2,  # the lesson's own train() (`lessons run`) against the fast path, one worker
        extras={"workers_rel": {"float32": 1e-5, "float64": 1e-9}},  # k workers against one device, same framework
    ),
)
