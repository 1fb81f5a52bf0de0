"""The `lessons` command: list, run and compare the lessons in either framework.

    lessons list
    lessons run LESSON --framework torch|jax|both [--set KEY=VALUE ...] [--loop train|fast]
    lessons compare LESSON|--all
    lessons parity LESSON [--dtype float64] [--hazard NAME] [--localize]
    lessons hazards [--demo NAME|all]
    lessons exercise LESSON --framework jax|torch [--out DIR] [--force]
    lessons check LESSON --jax FILE | --torch FILE [--dtype float64] [--steps N] [--out DIR]
    lessons bench [LESSON|--all]
    lessons show LESSON [--width N] [--exercise [--framework jax|torch]]
    lessons site [--out DIR] [--results DIR] [--execute]
    lessons notebook LESSON|--all [--out DIR] [--framework torch|jax] [--epochs N]

Bad input ends with one line on stderr that says what to do, and exit code 2.
"""
from __future__ import annotations

from shared import interrupts

with interrupts.quiet_while_importing():  # Ctrl-C in the first second: one line, not a traceback
    import argparse
    import json
    import os
    import sys
    import time
    from pathlib import Path

    import numpy as np

    from shared import specs, streams
    from shared.errors import DataError, LessonError
    from shared.harness import distributed, launchers, runner
    from shared.harness import records as records_io
    from shared.harness.config import (DATA_SOURCES, DEVICES, FRAMEWORKS, LOOP_FAST, LOOP_OWN, LOOPS,
                                       RunConfig)
    from shared.harness.precision import DEFAULT, DTYPES
    from shared.harness.records import Record
    from shared.outputs import OutputDir
    from shared.progress import Status
    from shared.specs import settings
    from shared.terminal import wrap
    from shared.tools import bench, check, demos, hazards, parity, plots, report, results, summary

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        raise LessonError(f"{message} (see `{self.prog} --help`)")


def run_lesson(spec, frameworks: list[str], cfg: RunConfig) -> list[Record]:
    records = []
    for fw in frameworks:
        records += runner.run(spec, fw, cfg)
    return records


def _common_options(p: argparse.ArgumentParser, loop: str | None = None) -> None:
    """The options every running command takes; ``loop``: --loop with that default (None: no --loop,
    the command always uses the fast path)."""
    p.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default), gpu, or auto")
    p.add_argument("--data", default="embedded", choices=DATA_SOURCES,
                   help="embedded: the 5,000 offline MNIST digits (default); full: the full datasets; "
                        "fullsize: MNIST's full shapes offline (Fashion-MNIST images stand in), for timing")
    p.add_argument("--seed", type=int, help="override the lesson's seed")
    p.add_argument("--epochs", type=int, help="override the lesson's epochs (or steps) for a quick run")
    p.add_argument("--out", type=Path, default=Path("out"), help="where JSON and plots go (default: out/)")
    p.add_argument("--mirror", help="base URL of a dataset mirror to try first (or set TJL_MIRROR)")
    p.add_argument("--no-local-data", dest="local_data", action="store_false",
                   help="do not search the automatic local data directories (Debian's, TJL_LOCAL_DATA); "
                        "or set TJL_NO_LOCAL_DATA=1")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")
    p.add_argument("--workers", type=int,
                   help="data_parallel: split each global batch over this many workers (torch: processes, "
                        "JAX: devices); 1, 2 or 4 (default 1; under torchrun or JAX's coordinator settings: "
                        "the processes started)")
    p.add_argument("--force", action="store_true",
                   help="replace files in --out that lessons did not write, or that were changed since")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="use VALUE for the lesson's setting KEY instead of the spec's (repeatable), e.g. "
                        "--set lr=0.05 --set batch_size=32; an unknown KEY lists the lesson's settings")
    if loop is not None:
        p.add_argument("--loop", default=loop, choices=LOOPS,
                       help=f"train: the lesson's own train(), as its file shows it; fast: the harness's fast "
                            f"path over the lesson's train_step (the same batches, faster). Default: {loop}")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lessons", description="Classic deep-learning lessons in PyTorch and JAX, side by side.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the lessons")
    r = sub.add_parser("run", help="run one lesson in one framework or both")
    r.add_argument("lesson")
    r.add_argument("--framework", default="both", choices=(*FRAMEWORKS, "both"))
    _common_options(r, loop=LOOP_OWN)
    j = r.add_argument_group("one of several JAX processes (what jax.distributed.initialize takes; or set "
                             "JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID)")
    j.add_argument("--coordinator-address", metavar="HOST:PORT", help="where process 0 serves the coordinator")
    j.add_argument("--num-processes", metavar="N", help="how many processes the run has")
    j.add_argument("--process-id", metavar="I", help="this process: 0 .. N-1")
    c = sub.add_parser("compare", help="run both frameworks, print the table, write JSON and plots")
    c.add_argument("lesson", nargs="?")
    c.add_argument("--all", action="store_true", help="every lesson")
    c.add_argument("--skip-missing", action="store_true",
                   help="with --all, exit 0 even when a lesson is skipped for missing data (else exit 1)")
    _common_options(c, loop=LOOP_FAST)
    for sp in (r, c):
        sp.add_argument("-v", "--verbose", action="store_true",
                        help="print each lesson's detail: its tables, the course's settings, the files written (one lesson: always)")
    q = sub.add_parser("parity", help="both frameworks from the same weights and batches, step by step")
    q.add_argument("lesson")
    q.add_argument("--dtype", default="float32", choices=DTYPES)
    q.add_argument("--steps", type=int, help="compare this many steps (default: the whole run)")
    q.add_argument("--no-control", dest="control", action="store_false",
                   help="skip the torch-vs-nudged-torch rounding control")
    q.add_argument("--hazard", help="also run the JAX twin with this hazard's fix removed (see `lessons hazards`)")
    q.add_argument("--localize", action="store_true",
                   help="rerun to the first step past the control and compare that step stage by stage "
                        "(forward, loss, gradients, update): which stage, which tensor, which ReLUs flipped")
    _common_options(q)
    h = sub.add_parser("hazards", help="the translation hazards the lessons handle, and where; --demo shows one")
    h.add_argument("--demo", metavar="NAME|all",
                   help="show the hazard where it bites: torch, the JAX twin with the fix and without it, the "
                        "one-ulp control, and what it costs its lesson; `all`: every one this device shows")
    h.add_argument("--no-cost", dest="cost", action="store_false",
                   help="skip training the lesson at its own settings with and without the fix")
    h.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default), gpu (tf32 needs it), or auto")
    h.add_argument("--seed", type=int, help="draw the demo's inputs (and train the lesson) with this seed")
    h.add_argument("--out", type=Path, default=Path("out"),
                   help="where each demo's JSON and plot go, in hazards/ (default: out/; the site reads them)")
    h.add_argument("--force", action="store_true",
                   help="replace files in --out that lessons did not write, or that were changed since")
    _practice_parsers(sub)
    b = sub.add_parser("bench", help="training speed against the arithmetic floor and the course's loop")
    b.add_argument("lesson", nargs="?")
    b.add_argument("--all", action="store_true", help="every lesson with a benchmark (the default)")
    b.add_argument("--repeats", type=int, default=3, help="timed runs per framework (median; default 3)")
    _common_options(b)
    _views_parsers(sub)
    return p


def _practice_parsers(sub) -> None:
    """`exercise` and `check`: translate a lesson yourself, and have it graded."""
    e = sub.add_parser("exercise", help="write a starter file for translating a lesson into one framework")
    e.add_argument("lesson")
    e.add_argument("--framework", required=True, choices=FRAMEWORKS, help="the framework you translate into")
    e.add_argument("--out", type=Path, default=Path("exercises"), help="where LESSON.py goes (default: exercises/)")
    e.add_argument("--force", action="store_true", help="overwrite an existing file")
    k = sub.add_parser("check", help="grade your translation of a lesson stage by stage against the reference twins")
    k.add_argument("lesson")
    k.add_argument("--jax", metavar="FILE", help="your JAX twin of the lesson")
    k.add_argument("--torch", metavar="FILE", help="your torch twin of the lesson")
    k.add_argument("--dtype", default="float32", choices=DTYPES)
    k.add_argument("--steps", type=int, help="training steps to compare (default: the lesson's parity steps)")
    k.add_argument("--timeout", type=float, default=check.TIMEOUT_S,
                   help=f"seconds each stage may take before it is stopped (default {check.TIMEOUT_S})")
    k.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default), gpu, or auto")
    k.add_argument("--data", default="embedded", choices=DATA_SOURCES, help="the data (default: embedded)")
    k.add_argument("--seed", type=int, help="override the lesson's seed")
    k.add_argument("--out", type=Path, default=Path("out"), help="where the grade's JSON goes (default: out/)")
    k.set_defaults(epochs=None, progress=False, mirror=None, local_data=True, loop=LOOP_FAST, workers=None, settings=[])


def _views_parsers(sub) -> None:
    """`show`, `site` and `notebook`: views generated from the lesson files (shared/views/)."""
    s = sub.add_parser("show", help="the torch and JAX twins in two columns, function by function")
    s.add_argument("lesson")
    s.add_argument("--width", type=int, help="columns to use (default: the terminal's); under 120: one column")
    s.add_argument("--exercise", action="store_true",
                   help="the other framework's twin beside the starter `lessons exercise` writes (hazards without fixes)")
    s.add_argument("--framework", choices=("torch", "jax"), help="with --exercise: the starter's framework (default: jax)")
    w = sub.add_parser("site", help="a static offline site: one page per lesson, code side by side, results")
    w.add_argument("--out", type=Path, default=Path("site"), help="where the site goes (default: site/)")
    w.add_argument("--results", type=Path, default=Path("out"),
                   help="where `lessons compare` and `lessons parity` wrote JSON and plots (default: out/)")
    w.add_argument("--force", action="store_true",
                   help="replace files in --out that lessons did not write, or that were changed since")
    w.add_argument("--execute", action="store_true",
                   help="run each notebook (nbclient and ipykernel, the test extra) so it opens with its outputs")
    n = sub.add_parser("notebook", help="a Jupyter notebook of a lesson: the pairs as cells, then a run of both")
    n.add_argument("lesson", nargs="?")
    n.add_argument("--all", action="store_true", help="every lesson")
    n.add_argument("--out", type=Path, default=Path("notebooks"), help="where notebooks go (default: notebooks/)")
    n.add_argument("--framework", default="both", choices=("torch", "jax", "both"),
                   help="both (default), or a notebook with one framework's cells only")
    n.add_argument("--epochs", type=int, help="the notebook's run uses this many epochs (a quick run)")
    n.add_argument("--seed", type=int, help="the notebook's run uses this seed")
    n.add_argument("--data", default="embedded", choices=DATA_SOURCES, help="the notebook's run uses this data")
    n.add_argument("--device", default="cpu", choices=DEVICES, help="the notebook's run uses this device")
    n.add_argument("--force", action="store_true",
                   help="replace notebooks in --out that lessons did not write, or that were changed since")
    n.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="the notebook's settings cell starts with this change (repeatable)")


def _config(args, spec=None) -> RunConfig:
    """The run's settings, checked (one line and exit 2 for a bad one), and --out, before anything runs.
    ``spec``: the one lesson --set applies to (None: --all, where --set is refused).

    Under torchrun or JAX's coordinator settings (shared/harness/launchers.py) this process is one of
    the run's: --workers is their number, and only process 0 prints (progress too) and writes.
    """
    local_data = args.local_data and os.environ.get("TJL_NO_LOCAL_DATA", "") in ("", "0")
    launch = launchers.detect(os.environ, getattr(args, "coordinator_address", None),
                              getattr(args, "num_processes", None), getattr(args, "process_id", None))
    workers = args.workers if args.workers is not None else 1
    if launch is not None and launch.launcher == "torchrun":
        if args.workers is not None and args.workers != launch.processes:
            raise LessonError(f"--workers {args.workers}: {launch.describe()} (WORLD_SIZE); leave --workers out "
                              f"or make it {launch.processes}")
        workers = launch.processes
    elif launch is not None and args.workers is None:
        workers = launch.processes   # one device each; --workers K where the processes have K devices in all
    cfg = RunConfig(device=args.device, data=args.data, seed=args.seed, epochs=args.epochs,
                    progress=args.progress and (launch is None or launch.lead), mirror=args.mirror,
                    local_data=local_data, loop=getattr(args, "loop", LOOP_FAST), workers=workers, launch=launch,
                    overrides=_overrides(args, spec))
    if launch is None or launch.lead:
        _output(args).check()
    return cfg


def _output(args) -> OutputDir:
    """--out, as a directory whose files lessons replaces only when it wrote them (shared/outputs.py)."""
    return OutputDir(args.out, force=getattr(args, "force", False))


def _overrides(args, spec) -> dict:
    """--set KEY=VALUE for ``spec``'s lesson, parsed to each setting's type and checked."""
    if not args.settings:
        return {}
    if spec is None:
        raise LessonError("--set changes one lesson's settings; name the lesson instead of --all")
    changes = settings.parse(spec, args.settings)
    if "epochs" in changes and args.epochs is not None:
        raise LessonError("give --epochs N or --set epochs=N, not both")
    return changes


def cmd_list(args) -> int:
    print(results.format_table(["lesson", "what it teaches"], [[s.name, s.title] for s in specs.all_specs()]))
    return 0


def _lesson_names(args) -> list[str]:
    if getattr(args, "all", False):
        if args.lesson:
            raise LessonError("give a lesson or --all, not both")
        return list(specs.LESSONS)
    if not args.lesson:
        raise LessonError("name a lesson or pass --all (see `lessons list`)")
    return [args.lesson]


def _check_runs(lesson_specs, cfg: RunConfig, command: str, frameworks) -> None:
    """What the lessons' runs need, checked before anything prints: --workers (and TJL_RUN_TIMEOUT),
    and what a process an engine's launcher started may run."""
    launchers.check(cfg.launch, command, frameworks, lesson_specs)
    for spec in lesson_specs:
        distributed.check_workers(spec, cfg)


def cmd_run(args) -> int:
    names = _lesson_names(args)
    lesson_specs = {n: specs.get(n) for n in names}  # validate every name before running anything
    cfg = _config(args, lesson_specs[names[0]] if len(names) == 1 else None)
    frameworks = list(FRAMEWORKS) if getattr(args, "framework", "both") == "both" else [args.framework]
    _check_runs(lesson_specs.values(), cfg, args.command, frameworks)
    out = _output(args)
    lead = cfg.launch is None or cfg.launch.lead   # one of several launched processes: process 0 reports
    if lead:  # a file of the user's where a record (or the report) goes: one line before any training
        known = [args.out / n / f"{fw}-{cfg.device}-{cfg.data}.json" for n in names for fw in frameworks
                 if cfg.device != "auto"]
        out.check(known + ([args.out / "report.md"] if args.command == "compare" else []))
    status = Status(cfg.progress)
    verbose = args.verbose or len(names) == 1   # one lesson: its detail; --all: a line each
    all_records, figures, skipped = [], {}, {}
    for i, (name, spec) in enumerate(lesson_specs.items()):
        status.show(f"· {name} ({i + 1} of {len(names)}) ...")
        start = time.perf_counter()
        try:
            records = run_lesson(spec, frameworks, cfg)
        except DataError as e:
            if len(names) == 1:
                raise
            status.clear()
            skipped[name] = str(e)  # --all goes on without a lesson whose data is missing
            print(f"lessons: skipped {name}: {e}", file=sys.stderr)
            continue
        status.clear()
        if not lead:
            continue
        all_records += records
        pngs = plots.lesson_pngs(spec, records, args.out)
        figures[name] = list(pngs)
        # the results first, then the tables: a terminal that fails (encoding, closed pipe) loses nothing
        written = out.write({**records_io.json_files(records, args.out), **pngs})
        took = time.perf_counter() - start
        changed = settings.described(spec, [r.overrides for r in records], epochs_flag=cfg.epochs is not None)
        print(summary.lesson_detail(spec, records, written, changed) if verbose
              else summary.lesson_line(spec, records, took), flush=True)
    if not lead:
        return 0
    report_path = None
    if args.command == "compare":
        report_path = report.write_report(out, lesson_specs, all_records, figures, skipped,
                                          epochs_flag=cfg.epochs is not None)
    done = [n for n in names if n not in skipped]
    if done and not (verbose and len(names) == 1):   # a lone lesson's detail has its table already
        print(f"\n{summary.table_title(done, lesson_specs, cfg)}\n")
        print(results.comparison_table(all_records, lesson_specs))
    closing = summary.closing(all_records, report=report_path, out=args.out, skipped=skipped, loop=cfg.loop)
    code = 0
    if skipped:
        ran = f"{len(done)} of {len(names)} lessons ran, skipped: {', '.join(skipped)}"
        if not getattr(args, "skip_missing", False):
            print(f"lessons: {ran}; exit 1 (pass --skip-missing to accept that)", file=sys.stderr)
            code = 1
        else:   # before the not-judged line, which stays last
            closing.insert(len(closing) - any(r.overrides for r in all_records), f"{ran} (accepted: --skip-missing)")
    print("\n" + "\n".join(closing))
    return code


def cmd_hazards(args) -> int:
    if args.demo is None:
        rows = [[h.name, ", ".join(h.lessons) or "-", h.differs, h.fix + (" (GPU only)" if h.gpu_only else "")]
                for h in hazards.HAZARDS]
        print(results.format_table(["hazard", "lessons", "what differs", "what the JAX twin does"], rows))
        print("\n" + wrap(f"{len(hazards.HAZARDS)} hazards. See one bite: `lessons hazards --demo NAME` (torch, the "
                          "JAX twin with the fix and without it, the one-ulp control, and what it costs its lesson)."))
        return 0
    cfg = RunConfig(device=args.device, seed=args.seed, progress=False)
    if args.demo == "all":
        names = [h.name for h in hazards.HAZARDS if not (h.gpu_only and cfg.device == "cpu")]
        skipped = [h.name for h in hazards.HAZARDS if h.name not in names]
    else:
        names, skipped = [hazards.get(args.demo).name], []
    out = _output(args)  # a file of the user's where a demo's record or plot goes: one line before any run
    out.check([p for n in names for p in demos.paths(n, args.out)])
    for i, name in enumerate(names):
        d = demos.run(name, cfg, cost=args.cost)
        written = out.write(demos.files(d, args.out))  # the files first: a terminal that fails loses nothing
        print(("\n" if i else "") + demos.report(d))
        print("\n" + "\n".join(f"wrote {path}" for path in written))
    for name in skipped:
        print(f"\nskipped {name}: it shows only on a GPU (add --device gpu)")
    return 0


def cmd_parity(args) -> int:
    spec = specs.get(args.lesson)
    cfg = _config(args, spec).replace(dtype=args.dtype)
    if args.steps is not None and args.steps < 1:
        raise LessonError(f"--steps must be at least 1, got {args.steps}")
    hazard = hazards.check(args.hazard, spec.name) if args.hazard is not None else None  # "" is no hazard's name
    if hazard is not None and hazard.gpu_only and cfg.device == "cpu":
        raise LessonError(f"the {hazard.name} hazard shows only on a GPU; add --device gpu")
    if args.localize and not args.control:
        raise LessonError("--localize compares against the control; drop --no-control")
    if spec.parity.stochastic:
        if hazard is not None or args.localize:
            raise LessonError(f"{spec.name} is compared by accuracy bands over seeds; --hazard and --localize need "
                              "a deterministic lesson")
        _check_runs([spec], cfg, "parity", FRAMEWORKS)
        return _parity_bands(spec, cfg)
    _check_runs([spec], cfg, "parity", FRAMEWORKS)
    name = f"parity-{cfg.dtype}" + (f"-{hazard.name}" if hazard else "")
    png = args.out / spec.name / f"{name}.png"
    out = _output(args)
    out.check([png])
    found, mains = [], []
    for variant in spec.parity.variants:
        runs = parity.run_variant(spec, cfg, variant, args.steps, control=args.control,
                                  hazard=hazard.name if hazard else None)
        found += runs
        mains.append(runs[0])
    # the plot first: then a terminal that fails loses nothing
    path = out.write({png: parity.plot_png(found, f"{spec.name}: |Δloss| per step ({cfg.dtype})")})[0]
    notes = spec.parity.notes
    print("\n" + wrap(parity.header(spec, cfg, found[0].rel.size, hazard.name if hazard else None)) + "\n")
    print(parity.summary_table(found, notes=bool(notes)))
    for r in found:
        if not r.failure:
            print(f"\n{wrap(r.variant)}: final parameter differences\n")
            print(parity.weights_table(r))
    if hazard is not None:
        print("\n" + wrap(f"hazard {hazard.name}: {hazard.differs}.\nfix: {hazard.fix}.\nits demo: {hazard.demo_command}"))
    if args.localize:
        print("\nWhere torch and jax part (--localize), against the control (torch from weights nudged one ulp)\n")
        for r in mains:
            print(parity.localize_report(spec, cfg, r) + "\n")
    if notes:
        print(f"\n{wrap(f'notes: {notes}')}")
    print(f"\nwrote {path}")
    return 0


def _parity_bands(spec, cfg: RunConfig) -> int:
    """Stochastic lessons (dropout masks come from different RNGs): accuracy bands over seeds."""
    seeds = sorted(set().union(*(t.tol_seeds for t in spec.targets.values())))
    rows, values = [], {"torch": {}, "jax": {}}
    for seed in seeds:
        for fw in FRAMEWORKS:
            for r in runner.run(spec, fw, cfg.replace(seed=seed)):
                target = spec.targets[r.variant]
                values[fw].setdefault(r.variant, []).append(r.metrics[target.metric])
    for variant in values["torch"]:
        t, j = np.array(values["torch"][variant]), np.array(values["jax"][variant])
        overlap = max(t.min(), j.min()) <= min(t.max(), j.max())
        rows.append([variant, f"{t.mean():.4f} ± {t.std():.4f}", f"{j.mean():.4f} ± {j.std():.4f}",
                     f"{abs(t.mean() - j.mean()):.4f}", "yes" if overlap else "NO"])
    title = f"{spec.title}: stochastic, compared by accuracy bands over seeds {list(seeds)}, trained by the harness's fast path"
    print(f"\n{wrap(title)}\n")
    print(results.format_table(["variant", "torch mean ± sd", "jax mean ± sd", "|Δ mean|", "ranges overlap"], rows))
    return 0


def cmd_check(args) -> int:
    args.cfg = _config(args).replace(dtype=args.dtype)
    return check.command(args)


def cmd_bench(args) -> int:
    if args.repeats < 1:
        raise LessonError(f"--repeats must be at least 1, got {args.repeats}")
    if args.lesson:
        names = _lesson_names(args)
        if not specs.get(names[0]).bench:
            raise LessonError(f"{names[0]} has no benchmark; lessons with one: "
                              + ", ".join(s.name for s in specs.all_specs() if s.bench))
    else:
        names = [s.name for s in specs.all_specs() if s.bench]
    cfg = _config(args, specs.get(names[0]) if args.lesson else None).replace(precision=DEFAULT, progress=False)
    _check_runs([specs.get(n) for n in names], cfg, "bench", FRAMEWORKS)
    out = _output(args)
    out.check([args.out / "bench.json"])
    rates = {fw: runner.matmul_rate(fw, cfg) for fw in FRAMEWORKS}
    rate = max(rates.values())
    print(wrap("float32 matmul rate: " + ", ".join(f"{fw} {r / 1e9:.0f} GFLOP/s" for fw, r in rates.items())
               + f"; floor uses {rate / 1e9:.0f}; each framework's default precision; data: --data fullsize"))
    rows, worker_rows, form_rows = [], [], []
    for name in names:
        spec = specs.get(name)
        print(f"· {name}", file=sys.stderr, flush=True)
        if spec.bench.workers:  # data_parallel: speed against the number of workers
            worker_rows += bench.measure_workers(spec, cfg, args.repeats)
        elif spec.bench.forms:  # compiled_loop: each variant is a form of the loop, timed in its own train()
            form_rows += bench.measure_forms(spec, cfg, rate, args.repeats)
        else:
            rows += bench.measure(spec, cfg, rate, args.repeats)
    payload = {**bench.as_json(rows, rates), **({"workers": worker_rows} if worker_rows else {}),
               **({"forms": form_rows} if form_rows else {})}
    path = out.write_text(args.out / "bench.json", json.dumps(payload, indent=1))  # first: see cmd_run
    if rows:
        print()
        print(wrap("The fast path (the harness's loop over each lesson's train_step) against the floor and the "
                   "lesson's own train() (--loop train):"))
        print()
        print(bench.table(rows))
    if form_rows:
        print("\n" + wrap(f"{form_rows[0]['lesson']}: each form of the loop in its own train(), compilation apart") + "\n")
        print(bench.forms_table(form_rows))
    if worker_rows:
        print("\n" + wrap("Data parallel: speed against the number of workers (torch: processes, JAX: devices)") + "\n")
        print(bench.workers_table(worker_rows))
    print(f"\nwrote {path}")
    return 0


def _view(name: str):
    """shared/views/<name>.py's command(args), imported only when used (pygments, ipynb writing)."""
    def cmd(args) -> int:
        import importlib
        return importlib.import_module(f"shared.views.{name}").command(args)
    return cmd


def main(argv: list[str] | None = None) -> int:
    """The command; every failure a user can meet ends in one line on stderr (`check` adds a second
    naming a hazard where one explains a crash in the user's file): a LessonError (exit 2),
    Ctrl-C (130), SIGTERM or SIGHUP (128 + the signal), each after the cleanup it needs. Output
    survives a terminal that cannot encode it and a pipe closed early (shared/streams.py)."""
    with streams.guarded(), interrupts.handled():
        try:
            args = parser().parse_args(sys.argv[1:] if argv is None else argv)
            return {"list": cmd_list, "run": cmd_run, "compare": cmd_run, "parity": cmd_parity,
                    "hazards": cmd_hazards, "bench": cmd_bench, "exercise": _view("exercise"), "check": cmd_check,
                    "show": _view("show"), "site": _view("site"),
                    "notebook": _view("notebook")}[args.command](args)
        except LessonError as e:
            print(f"lessons: error: {e}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt as e:
            line, code = interrupts.message(e)
            print(line, file=sys.stderr)
            return code


if __name__ == "__main__":
    sys.exit(main())
