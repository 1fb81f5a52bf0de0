"""The "JAX for PyTorch users" page of ``lessons site``, and the README's table of the same concepts.

Each concept is a PyTorch idiom, its JAX counterpart and what a PyTorch user needs to know, with
the line of a lesson file that shows each side: a :class:`Where` names the lesson, the framework,
the function and a piece of its code, and the line is found in the file (shared/views/twins.py), so
the links follow the files as they change; a piece no longer found is shown without a link (the
tests require every one to be found). On the site a link opens the lesson's page at that line; in
the README it opens the file at that line.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from shared.views import twins

PAGE = "jax-for-pytorch-users.html"
TITLE = "JAX for PyTorch users"


@dataclass(frozen=True)
class Where:
    lesson: str
    framework: str
    function: str     # the top-level function (or other segment) of the lesson file
    code: str         # a piece of one of its lines


@dataclass(frozen=True)
class Concept:
    name: str
    torch: str        # the PyTorch idiom, as code
    jax: str          # its JAX counterpart
    note: str         # what differs, and what to do
    torch_at: Where
    jax_at: Where


def _at(lesson: str, function: str, torch_code: str, jax_code: str, jax_function: str | None = None):
    return Where(lesson, "torch", function, torch_code), Where(lesson, "jax", jax_function or function, jax_code)


CONCEPTS: tuple[Concept, ...] = (
    Concept("random numbers", "torch.manual_seed(seed)", "nnx.Rngs(seed), jax.random.key(seed)",
            "torch draws from one global generator that every draw advances; JAX takes explicit keys, and an "
            "NNX module keeps its own stream (a key and a counter) in its state. The twins' dropout masks differ "
            "for every seed: compare by accuracy over seeds, or feed torch's mask in for equality to the bit.",
            *_at("compiled_loop", "dropout_mask", "torch.manual_seed(seed)", "nnx.Rngs(seed)")),
    Concept("changing an array", "x[row] = value", "x.at[row].set(value)",
            "JAX arrays are immutable: .at[] returns a new array and leaves x as it was (inside jit, XLA "
            "updates in place when x is not used again).",
            *_at("compiled_loop", "set_row", "x[row] = value", "x.at[row].set(value)")),
    Concept("Python inside the step", "print(x)", 'jax.debug.print("{}", x)',
            "torch runs Python as it goes (eager): print runs every call. jax.jit runs the function once with "
            "tracers to record it, then runs the compiled program: print runs once and shows a tracer; "
            "jax.debug.print is part of the program and prints every value.",
            *_at("compiled_loop", "tracing", 'print("print:", x)', "jax.debug.print(")),
    Concept("reading a number", "loss.item()", "float(loss)",
            "Both copy the value to the host and wait for the device to compute it: once per step, a wait "
            "per step. Keep the losses on the device and read them once per epoch.",
            *_at("compiled_loop", "loop_as_written", ".item()", "float(step(")),
    Concept("compiling", "torch.compile(step)", "nnx.jit(train_step), jax.jit(f)",
            "Eager torch runs op by op, and torch.compile is optional (on a CPU here it is slower). In JAX jit "
            "is the usual way: a jitted function is traced once per input shape and runs as one XLA program; "
            "nnx.jit also flattens the model into arrays on every call, in Python.",
            *_at("compiled_loop", "compiled", "torch.compile(step)", "nnx.jit(train_step)",
                 jax_function="loop_as_written")),
    Concept("a new shape compiles again", "torch.compile(fn)", "jax.jit(fn)",
            "A smaller last batch (drop_last off) is a second shape, so a second compilation in both (torch "
            "then marks the dimension dynamic; jit compiles once per shape): use drop_last, or pad the batch.",
            *_at("compiled_loop", "recompiles", "torch.compile(loss_fn, backend=counting)", "shapes.append(x.shape)")),
    Concept("the training loop", "for idx in batches: step(...)", "jax.lax.scan(one, state, batches)",
            "scan compiles the whole epoch into one program: no Python between steps. On small models that is "
            "where JAX's speed comes from (`lessons bench compiled_loop`).",
            *_at("compiled_loop", "loop_resident", "for idx in order.split", "jax.lax.scan(one, state, batches)",
                 jax_function="compiled")),
    Concept("model state", "optimizer.step()", "graphdef, state = nnx.split(...); nnx.merge(graphdef, state)",
            "torch's modules and optimizers change their tensors in place. Under jax.jit a step is a pure "
            "function, state in and new state out: nnx.split once, and the step rebuilds the objects from the "
            "state it is given.",
            *_at("compiled_loop", "train_step", "optimizer.step()", "nnx.split((model, optimizer))",
                 jax_function="loop_resident")),
    Concept("gradients", "loss.backward()", "nnx.value_and_grad(loss_fn)(model, x, y)",
            "JAX returns the gradients as values: nothing accumulates in .grad, so there is no zero_grad.",
            *_at("compiled_loop", "train_step", "loss.backward()", "nnx.value_and_grad(loss_fn)")),
    Concept("train and eval mode", "model.eval()", "model.eval()",
            "NNX's methods set Dropout's deterministic (and BatchNorm's use_running_average): under jit each "
            "mode is its own compiled program. Forgetting model.eval() scores a random sub-network.",
            *_at("dropout", "train", "model.eval()", "model.eval()")),
    Concept("batches", "DataLoader(dataset, batch_sampler=...)", "x[idx]",
            "JAX has no DataLoader: a batch is a gather of device-resident arrays by the plan's indices "
            "(inside the program, under scan).",
            *_at("compiled_loop", "loop_as_written", "DataLoader(dataset", "x[idx], y[idx]")),
    Concept("timing", "torch.cuda.synchronize()", "jax.block_until_ready(out)",
            "Calls return once the work is queued (torch on a GPU, JAX everywhere): wait for the result "
            "before reading a clock, or you time the dispatch.",
            *_at("compiled_loop", "timing", "torch.cuda.synchronize", "jax.block_until_ready(out)")),
    Concept("data parallel", "DistributedDataParallel(model)", 'NamedSharding(mesh, P("data"))',
            "DDP all-reduces the gradients of k processes; in JAX the batch's sharding tells XLA to split the "
            "step over the devices and insert the all-reduce itself.",
            *_at("data_parallel", "distribute", "DistributedDataParallel(model)", 'NamedSharding(_mesh(), P("data"))',
                 jax_function="shard")),
)


def locate(where: Where, root: Path = twins.ROOT) -> tuple[str, int] | None:
    """(the file's path, the line number) of ``where``, or None where its code is not found."""
    twin = twins.read(where.framework, twins.lesson_path(where.framework, where.lesson, root))
    for seg in twin.segments:
        if seg.name == where.function:
            for i, line in enumerate(seg.source.split("\n")):
                if where.code in line:
                    return twin.display_path, seg.first_line + i
    return None


def line_anchor(framework: str, line: int) -> str:
    """The id of a code line on a lesson's page (shared/views/site.py numbers every line so)."""
    return f"{framework}-L{line}"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _cell(code: str, where: Where) -> str:
    found = locate(where)
    link = "" if found is None else (f"<br><a href=\"{_e(where.lesson)}.html#{line_anchor(where.framework, found[1])}\">"
                                     f"{_e(found[0])}:{found[1]}</a>")
    return f"<code>{_e(code)}</code>{link}"


def body(results_dir: Path) -> str:
    """The page's HTML body (the site wraps it in its page and navigation)."""
    rows = "".join(
        f"<tr><td data-label=\"concept\"><strong>{_e(c.name)}</strong></td>"
        f"<td data-label=\"PyTorch\">{_cell(c.torch, c.torch_at)}</td>"
        f"<td data-label=\"JAX\">{_cell(c.jax, c.jax_at)}</td><td data-label=\"what to know\">{_e(c.note)}</td></tr>"
        for c in CONCEPTS)
    return "\n".join([
        f"<h1>{TITLE}</h1>",
        "<p class=\"teaches\">What trips a PyTorch user in JAX, each next to the lines of the lessons that show "
        "it: the link opens the lesson's page at that line, beside its twin. Most of it is in "
        "<a href=\"compiled_loop.html\"><code>compiled_loop</code></a>, where one training run is written three ways "
        "in each framework.</p>",
        "<div class=\"scroll\"><table class=\"concepts stack\"><thead><tr><th scope=\"col\">concept</th>"
        "<th scope=\"col\">PyTorch</th><th scope=\"col\">JAX</th><th scope=\"col\">what to know</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>",
        "<h2 id=\"speed\">Why JAX is fast here, measured</h2>",
        "<p>The models in these lessons are small, so the loop around the step takes most of the time: an "
        "<code>nnx.jit</code> call per step spends longer flattening the model in Python and waiting for each "
        "loss than computing the step. <code>jax.jit</code> on <code>nnx.split</code> state dispatches once per "
        "step; <code>lax.scan</code> runs the whole epoch as one program, which is what every JAX lesson's "
        "fast path (<code>--loop fast</code>) runs.</p>",
        _speed(Path(results_dir)),
    ])


def _speed(results_dir: Path) -> str:
    """The forms' speeds from `lessons bench compiled_loop --out DIR` (DIR/bench.json), if it ran."""
    try:
        rows = json.loads((results_dir / "bench.json").read_text()).get("forms", [])
    except (OSError, ValueError, AttributeError):
        rows = []
    if not rows:
        return (f"<p class=\"none\">No timings in <code>{_e(results_dir)}</code> yet: run <code>lessons bench "
                f"compiled_loop --out {_e(results_dir)}</code>, then <code>lessons site</code> again.</p>")
    first = rows[0]["variant"]
    head = "".join(f"<th scope=\"col\">{h}</th>" for h in ("fw", "form", "steps/s", "compile s", f"x {first}"))
    body = "".join(
        f"<tr><td data-label=\"fw\">{_e(r['framework'])}</td><td data-label=\"form\">{_e(r['variant'])}</td>"
        f"<td class=\"num\" data-label=\"steps/s\">{r['steps'] / r['train_s']:,.0f}</td>"
        f"<td class=\"num\" data-label=\"compile s\">{r['compile_s']:.2f}</td>"
        f"<td class=\"num\" data-label=\"x {_e(first)}\">{r['speedup']:.1f}</td></tr>" for r in rows)
    return ("<p>From <code>lessons bench compiled_loop</code> (full-size data, the median of its runs, compilation "
            "apart):</p>"
            f"<div class=\"scroll\"><table class=\"stack\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            "</div>")


def markdown() -> str:
    """The README's concept table: each idiom with a link to its line in the lesson file."""
    def cell(code: str, where: Where) -> str:
        found = locate(where)
        text = f"`{code}`".replace("|", "\\|")
        return text if found is None else f"{text} ([{found[0]}:{found[1]}]({found[0]}#L{found[1]}))"

    lines = ["| concept | PyTorch | JAX | what to know |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {cell(c.torch, c.torch_at)} | {cell(c.jax, c.jax_at)} | {c.note.replace('|', '/')} |"
              for c in CONCEPTS]
    return "\n".join(lines)
