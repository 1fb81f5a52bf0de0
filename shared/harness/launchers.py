"""The engines' own launchers: a process that torchrun started, or one given JAX's coordinator
settings, is one process of a run that spans several (on one machine or several).

- torchrun (``torchrun --nproc_per_node=K -m torch_impl.data_parallel``, or ``--nnodes 2
  --rdzv-endpoint HOST:PORT`` on each of two machines) sets RANK, WORLD_SIZE, LOCAL_RANK,
  MASTER_ADDR and MASTER_PORT in each process it starts;
- JAX: the coordinator's address, the number of processes and this process's id, as
  ``jax.distributed.initialize`` takes them: ``--coordinator-address HOST:PORT --num-processes N
  --process-id I``, or JAX_COORDINATOR_ADDRESS (which JAX itself reads), JAX_NUM_PROCESSES and
  JAX_PROCESS_ID.

Such a process joins that group (shared/harness/distributed.py) instead of starting workers of
its own: the processes make one run, with the numbers ``--workers K`` gives; only process 0 prints
and writes.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.errors import LessonError

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
JAX_SETTINGS = (  # (option, environment variable): what jax.distributed.initialize takes
    ("--coordinator-address", "JAX_COORDINATOR_ADDRESS"),
    ("--num-processes", "JAX_NUM_PROCESSES"),
    ("--process-id", "JAX_PROCESS_ID"),
)


@dataclass(frozen=True)
class Launch:
    """This process as one of ``processes`` started by an engine's launcher."""

    launcher: str                # "torchrun" | "jax.distributed"
    framework: str               # the framework that launcher is for
    rank: int                    # this process: 0 .. processes - 1
    processes: int
    address: str | None = None   # JAX: the coordinator, HOST:PORT (torchrun: its environment says)

    @property
    def lead(self) -> bool:
        """Process 0: the one that prints and writes."""
        return self.rank == 0

    def describe(self) -> str:
        return f"{self.launcher} started {self.processes} processes"


def _whole(value, what: str, lowest: int) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        n = None
    if n is None or n < lowest:
        raise LessonError(f"{what} must be a whole number of at least {lowest}, got {value!r}")
    return n


def _torchrun(environ) -> Launch | None:
    if not all(environ.get(k) for k in TORCHRUN_ENV):
        return None
    world = _whole(environ["WORLD_SIZE"], "WORLD_SIZE (torchrun)", 1)
    rank = _whole(environ["RANK"], "RANK (torchrun)", 0)
    if rank >= world:
        raise LessonError(f"RANK {rank} is not below WORLD_SIZE {world} (torchrun's environment)")
    return Launch("torchrun", "torch", rank, world)


def _jax(environ, given: dict) -> Launch | None:
    values = {opt: given.get(opt) if given.get(opt) is not None else environ.get(env) for opt, env in JAX_SETTINGS}
    if all(v in (None, "") for v in values.values()):
        return None
    missing = [f"{opt} (or {env})" for opt, env in JAX_SETTINGS if values[opt] in (None, "")]
    if missing:
        raise LessonError(f"a JAX run over several processes needs the coordinator's address, the number of "
                          f"processes and this process's id; missing: {', '.join(missing)}")
    address = str(values["--coordinator-address"]).strip()
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise LessonError(f"--coordinator-address {address}: give HOST:PORT, e.g. 10.0.0.1:1234")
    processes = _whole(values["--num-processes"], "--num-processes", 1)
    rank = _whole(values["--process-id"], "--process-id", 0)
    if rank >= processes:
        raise LessonError(f"--process-id {rank} must be below --num-processes {processes}")
    return Launch("jax.distributed", "jax", rank, processes, address)


def detect(environ, coordinator_address=None, num_processes=None, process_id=None) -> Launch | None:
    """The launch this process is part of, from ``environ`` and the JAX options; None: started alone."""
    torch_launch = _torchrun(environ)
    jax_launch = _jax(environ, {"--coordinator-address": coordinator_address, "--num-processes": num_processes,
                                "--process-id": process_id})
    if torch_launch and jax_launch:
        raise LessonError("this process has both torchrun's environment and JAX's coordinator settings; "
                          "start it with one of them")
    return torch_launch or jax_launch


def check(launch: Launch | None, command: str, frameworks, lesson_specs) -> None:
    """A launched process runs ``lessons run`` of the launcher's framework; on several processes,
    only a data-parallel lesson."""
    if launch is None:
        return
    if command != "run":
        raise LessonError(f"{launch.describe()}; under it, use `lessons run` (`lessons {command}` starts its "
                          "own processes)")
    if list(frameworks) != [launch.framework]:
        raise LessonError(f"{launch.describe()} for {launch.framework}; add --framework {launch.framework}")
    if launch.processes > 1:
        for spec in lesson_specs:
            if not spec.shape.data_parallel:
                raise LessonError(f"{launch.describe()}, but {spec.name} trains on one device; only data_parallel "
                                  "runs over several processes")
