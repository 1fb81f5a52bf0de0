"""Create the environment from pinned versions, then run the demo or the tests.

    python3 bootstrap.py demo   # every lesson, both frameworks, embedded data: table + plots
    python3 bootstrap.py test   # the test suite

Only the standard library is used here: this runs on a machine that has nothing but python3.
The virtual environment lives in .venv and is reused while pyproject.toml and constraints.txt
are unchanged.
"""
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"


def _fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_env() -> Path:
    """Create .venv and install the project (editable) with the pinned constraints."""
    python = VENV / "bin" / "python"
    if STAMP.exists() and STAMP.read_text() == _fingerprint() and python.exists():
        return python
    if not python.exists():
        print("bootstrap: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("bootstrap: installing pinned dependencies (constraints.txt)", flush=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[test]"],
        check=True,
    )
    STAMP.write_text(_fingerprint())
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print("usage: python3 bootstrap.py demo|test [extra args]", file=sys.stderr)
        return 2
    python = ensure_env()
    cmd, extra = argv[0], argv[1:]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if cmd == "demo":
        args = [str(VENV / "bin" / "lessons"), "compare", "--all", *extra]
    else:
        args = [str(python), "-m", "pytest", *extra]
    return subprocess.run(args, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
