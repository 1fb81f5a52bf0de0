"""shared/ never imports a framework: checked in a fresh interpreter, and in the source."""
import ast
import json
import subprocess
import sys
from pathlib import Path

FRAMEWORKS = {"torch", "torchvision", "jax", "jaxlib", "flax", "optax"}
SHARED = Path(__file__).resolve().parents[1] / "shared"


def test_importing_every_shared_module_loads_no_framework():
    code = (
        "import importlib, json, pkgutil, sys, shared\n"
        "names = [m.name for m in pkgutil.walk_packages(shared.__path__, 'shared.')]\n"
        "for n in names: importlib.import_module(n)\n"
        "print(json.dumps([names, sorted(m.split('.')[0] for m in sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=SHARED.parent).stdout
    names, loaded = json.loads(out)
    assert "shared.cli" in names and "shared.data" in names
    assert FRAMEWORKS.isdisjoint(loaded), FRAMEWORKS & set(loaded)


def test_no_framework_import_statement_in_shared_source():
    offenders = []
    for path in SHARED.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {m}" for m in mods if m.split(".")[0] in FRAMEWORKS]
    assert not offenders
