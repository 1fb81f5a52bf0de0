"""Create the environment from pinned versions, then run the demo or the tests.

    python3 bootstrap.py demo           # every lesson, both frameworks, embedded data: table + plots
    python3 bootstrap.py test           # the test suite
    python3 bootstrap.py test --lower   # the test suite at the lowest versions pyproject.toml allows

Only the standard library is used here: this runs on a machine that has nothing but python3.
The virtual environment lives in .venv (from constraints.txt, the tested exact versions), or with
--lower in .venv-lower (from constraints-lower.txt, every dependency at its declared floor). Each
is reused while pyproject.toml and its constraints file are unchanged. An environment takes about
6.5 GB (torch's CUDA build); without that much free disk, bootstrap says so and exits 2.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ENVS = {False: (ROOT / ".venv", "constraints.txt"), True: (ROOT / ".venv-lower", "constraints-lower.txt")}
NEEDED_GB = 7  # measured: .venv 6.4 GB, .venv-lower 6.1 GB, plus pip's unpacking


class BootstrapError(Exception):
    """Raised with a one-line message; main prints it and exits 2."""


def _fingerprint(constraints: str) -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", constraints):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_env(lower: bool = False) -> Path:
    """Create the venv and install the project (editable) with its constraints file."""
    env, constraints = ENVS[lower]
    python, stamp = env / "bin" / "python", env / ".installed"
    if stamp.exists() and stamp.read_text() == _fingerprint(constraints) and python.exists():
        return python
    created = not python.exists()
    free_gb = shutil.disk_usage(ROOT).free / 1e9
    if created and free_gb < NEEDED_GB:
        raise BootstrapError(
            f"{env.name} needs about {NEEDED_GB} GB free and {ROOT} has {free_gb:.1f} GB; "
            "free some disk and run again")
    if created:
        print(f"bootstrap: creating {env.name}", flush=True)
        venv.EnvBuilder(with_pip=True).create(env)
    print(f"bootstrap: installing pinned dependencies ({constraints})", flush=True)
    rc = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "-c", str(ROOT / constraints), "-e", f"{ROOT}[test]"],
    ).returncode
    if rc != 0:
        if created:  # leave no half-installed environment behind
            shutil.rmtree(env, ignore_errors=True)
        raise BootstrapError(f"installing {env.name} from {constraints} failed (pip exit {rc}, above)")
    stamp.write_text(_fingerprint(constraints))
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print("usage: python3 bootstrap.py demo|test [--lower] [extra args]", file=sys.stderr)
        return 2
    cmd, extra = argv[0], argv[1:]
    lower = extra[:1] == ["--lower"]
    if lower:
        extra = extra[1:]
    try:
        python = ensure_env(lower)
    except BootstrapError as e:
        print(f"bootstrap: {e}", file=sys.stderr)
        return 2
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if cmd == "demo":
        args = [str(python.parent / "lessons"), "compare", "--all", *extra]
    else:
        args = [str(python), "-m", "pytest", *extra]
    return subprocess.run(args, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
