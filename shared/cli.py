"""The `lessons` command: list, run and compare the lessons in either framework.

    lessons list
    lessons run LESSON --framework torch|jax|both
    lessons compare LESSON|--all
    lessons parity LESSON [--dtype float64]
    lessons bench [LESSON|--all]

Bad input ends with one line on stderr that says what to do, and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import numpy as np

from shared import parity, plots, report, results, specs
from shared.config import DATA_SOURCES, DEVICES, FRAMEWORKS, RunConfig
from shared.precision import DTYPES
from shared.errors import DataError, LessonError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        raise LessonError(f"{message} (see `{self.prog} --help`)")


def implementation(framework: str, lesson: str):
    """Load ``<framework>_impl.<lesson>``, the only place shared/ reaches into a framework."""
    if framework not in FRAMEWORKS:
        raise LessonError(f"unknown framework {framework!r}; choose one of: torch, jax, both")
    try:
        return importlib.import_module(f"{framework}_impl.{lesson}")
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("torch", "torchvision", "jax", "jaxlib", "flax", "optax"):
            raise LessonError(f"{e.name} is not installed; run `python3 bootstrap.py test` to create the environment") from e
        raise


def run_lesson(spec, frameworks: list[str], cfg: RunConfig) -> list[results.Record]:
    records = []
    for fw in frameworks:
        if cfg.progress:
            print(f"· {spec.name} ({fw}) ...", file=sys.stderr, flush=True)
        records += implementation(fw, spec.name).run(spec, cfg)
    return records


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default), gpu, or auto")
    p.add_argument("--data", default="embedded", choices=DATA_SOURCES,
                   help="embedded: the 5,000 offline MNIST digits (default); full: the full datasets; "
                        "fullsize: MNIST's full shapes offline (Fashion-MNIST images stand in), for timing")
    p.add_argument("--seed", type=int, help="override the lesson's seed")
    p.add_argument("--epochs", type=int, help="override the lesson's epochs (or steps) for a quick run")
    p.add_argument("--out", type=Path, default=Path("out"), help="where JSON and plots go (default: out/)")
    p.add_argument("--mirror", help="base URL of a dataset mirror to try first (or set TJL_MIRROR)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lessons", description="Classic deep-learning lessons in PyTorch and JAX, side by side.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the lessons")
    r = sub.add_parser("run", help="run one lesson in one framework or both")
    r.add_argument("lesson")
    r.add_argument("--framework", default="both", choices=(*FRAMEWORKS, "both"))
    _common_options(r)
    c = sub.add_parser("compare", help="run both frameworks, print the table, write JSON and plots")
    c.add_argument("lesson", nargs="?")
    c.add_argument("--all", action="store_true", help="every lesson")
    _common_options(c)
    q = sub.add_parser("parity", help="both frameworks from the same weights and batches, step by step")
    q.add_argument("lesson")
    q.add_argument("--dtype", default="float32", choices=DTYPES)
    q.add_argument("--steps", type=int, help="compare this many steps (default: the whole run)")
    q.add_argument("--no-control", dest="control", action="store_false",
                   help="skip the torch-vs-nudged-torch rounding control")
    _common_options(q)
    b = sub.add_parser("bench", help="training speed against the arithmetic floor and the course's loop")
    b.add_argument("lesson", nargs="?")
    b.add_argument("--all", action="store_true", help="every lesson with a benchmark (the default)")
    b.add_argument("--repeats", type=int, default=3, help="timed runs per framework (median; default 3)")
    _common_options(b)
    return p


def _config(args) -> RunConfig:
    return RunConfig(device=args.device, data=args.data, seed=args.seed, epochs=args.epochs, progress=args.progress,
                     mirror=args.mirror)


def cmd_list(args) -> int:
    for spec in specs.all_specs():
        print(f"{spec.name:20s} {spec.title}")
    return 0


def _lesson_names(args) -> list[str]:
    if getattr(args, "all", False):
        if args.lesson:
            raise LessonError("give a lesson or --all, not both")
        return list(specs.LESSONS)
    if not args.lesson:
        raise LessonError("name a lesson or pass --all (see `lessons list`)")
    return [args.lesson]


def cmd_run(args) -> int:
    cfg = _config(args)
    frameworks = list(FRAMEWORKS) if getattr(args, "framework", "both") == "both" else [args.framework]
    names = _lesson_names(args)
    lesson_specs = {n: specs.get(n) for n in names}  # validate every name before running anything
    all_records, figures, skipped = [], {}, {}
    for name, spec in lesson_specs.items():
        try:
            records = run_lesson(spec, frameworks, cfg)
        except DataError as e:
            if len(names) == 1:
                raise
            skipped[name] = str(e)  # --all goes on without a lesson whose data is missing
            print(f"lessons: skipped {name}: {e}", file=sys.stderr)
            continue
        all_records += records
        print(f"\n{spec.title}\n")
        print(results.comparison_table(records, lesson_specs))
        print()
        print(results.format_table(*results.detail_cells(records, spec.details)))
        figures[name] = plots.plot_lesson(spec, records, args.out)
        for path in [*results.save(records, args.out), *figures[name]]:
            print(f"wrote {path}")
    if len(names) > 1:
        print("\nAll lessons\n")
        print(results.comparison_table(all_records, lesson_specs))
        for name, why in skipped.items():
            print(f"skipped {name}: {why}")
    if args.command == "compare":
        print(f"wrote {report.write_report(args.out, lesson_specs, all_records, figures, skipped)}")
    return 0


def cmd_parity(args) -> int:
    spec = specs.get(args.lesson)
    cfg = _config(args).replace(dtype=args.dtype)
    if args.steps is not None and args.steps < 1:
        raise LessonError(f"--steps must be at least 1, got {args.steps}")
    torch_impl, jax_impl = implementation("torch", spec.name), implementation("jax", spec.name)
    if spec.parity.get("stochastic"):
        return _parity_bands(spec, cfg, torch_impl, jax_impl)
    seed = cfg.seed_for(spec)
    found = []
    for variant in spec.parity["variants"]:
        weights = torch_impl.init_weights(spec, seed, variant=variant)
        traces = [impl.parity_trace(spec, cfg, weights, args.steps, variant=variant) for impl in (torch_impl, jax_impl)]
        control = (torch_impl.parity_trace(spec, cfg, parity.nudge(weights, cfg.dtype), args.steps, variant=variant)
                   if args.control else None)
        found.append(parity.compare(variant, cfg.dtype, *traces, control))
    print(f"\n{spec.title}: torch vs jax from torch's initial weights (seed {seed}), {cfg.dtype}, {found[0].rel.size} steps\n")
    print(parity.summary_table(found))
    for r in found:
        print(f"\n{r.variant}: final parameter differences\n")
        print(parity.weights_table(r))
    notes = spec.parity.get("notes")
    if notes:
        print(f"\nnotes: {notes}")
    print(f"\nwrote {parity.plot(found, args.out / spec.name / f'parity-{cfg.dtype}.png', f'{spec.name}: |Δloss| per step ({cfg.dtype})')}")
    return 0


def _parity_bands(spec, cfg: RunConfig, torch_impl, jax_impl) -> int:
    """Stochastic lessons (dropout masks come from different RNGs): accuracy bands over seeds."""
    seeds = spec.parity["seeds"]
    rows, values = [], {"torch": {}, "jax": {}}
    for seed in seeds:
        for fw, impl in (("torch", torch_impl), ("jax", jax_impl)):
            for r in impl.run(spec, cfg.replace(seed=seed)):
                target = spec.targets[r.variant]
                values[fw].setdefault(r.variant, []).append(r.metrics[target.metric])
    for variant in values["torch"]:
        t, j = np.array(values["torch"][variant]), np.array(values["jax"][variant])
        overlap = max(t.min(), j.min()) <= min(t.max(), j.max())
        rows.append([variant, f"{t.mean():.4f} ± {t.std():.4f}", f"{j.mean():.4f} ± {j.std():.4f}",
                     f"{abs(t.mean() - j.mean()):.4f}", "yes" if overlap else "NO"])
    print(f"\n{spec.title}: stochastic, compared by accuracy bands over seeds {list(seeds)}\n")
    print(results.format_table(["variant", "torch mean ± sd", "jax mean ± sd", "|Δ mean|", "ranges overlap"], rows))
    return 0


def cmd_bench(args) -> int:
    from shared import bench
    from shared.precision import DEFAULT

    if args.repeats < 1:
        raise LessonError(f"--repeats must be at least 1, got {args.repeats}")
    if args.lesson:
        names = _lesson_names(args)
        if not specs.get(names[0]).bench:
            raise LessonError(f"{names[0]} has no benchmark; lessons with one: "
                              + ", ".join(s.name for s in specs.all_specs() if s.bench))
    else:
        names = [s.name for s in specs.all_specs() if s.bench]
    cfg = _config(args).replace(precision=DEFAULT, progress=False)
    modules = {fw: importlib.import_module(f"{fw}_impl._bench") for fw in FRAMEWORKS}
    devices = {fw: implementation(fw, "_common").select_device(cfg.device) for fw in FRAMEWORKS}
    rates = {fw: modules[fw].matmul_rate(devices[fw]) for fw in FRAMEWORKS}
    rate = max(rates.values())
    print("float32 matmul rate: " + ", ".join(f"{fw} {r / 1e9:.0f} GFLOP/s" for fw, r in rates.items())
          + f"; floor uses {rate / 1e9:.0f}; each framework's default precision; data: --data fullsize")
    rows = []
    for name in names:
        spec = specs.get(name)
        print(f"· {name}", file=sys.stderr, flush=True)
        impls = {fw: implementation(fw, name) for fw in FRAMEWORKS}
        rows += bench.measure(spec, cfg, impls, rate, args.repeats)
    print()
    print(bench.table(rows))
    path = results.atomic_write_text(args.out / "bench.json", json.dumps(bench.as_json(rows, rates), indent=1))
    print(f"\nwrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else argv)
        return {"list": cmd_list, "run": cmd_run, "compare": cmd_run, "parity": cmd_parity, "bench": cmd_bench}[args.command](args)
    except LessonError as e:
        print(f"lessons: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lessons: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
