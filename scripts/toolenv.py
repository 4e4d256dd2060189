"""An isolated virtual environment for Meltano itself.

Meltano pins many dependencies of its own, so it is not installed into the project's ``.venv``: it gets
its own virtual environment, created on first use and reused afterwards (a stamp file records the exact
requirement; a changed pin rebuilds it). Meltano then installs every plugin -- tap-dinero, target-dinero,
target-jsonl, tap-spreadsheets, and the airflow utility -- into virtual environments of their own under
``.meltano/``.

Usage (prints the environment's ``bin`` directory on stdout, progress on stderr)::

    python scripts/toolenv.py meltano
    python scripts/toolenv.py --uv .venv/bin/uv meltano     # build it with uv (the quick start does)

With ``--uv`` (or ``DINERO_UV``) the environment is created and filled by uv, which resolves and downloads
in parallel and shares one cache with Meltano's own plugin installs (Meltano installs plugins with uv): on
a fresh machine that is most of a minute less than pip. Should uv fail, pip builds it as before.

Location: ``.meltano/cli-venv`` (inside Meltano's own git-ignored project directory); override with
``DINERO_MELTANO_VENV``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Tool:
    """One isolated tool: where its virtual environment lives and what is installed into it."""

    name: str
    default_dir: Path
    env_var: str
    requirements: tuple[str, ...]
    executable: str

    @property
    def venv_dir(self) -> Path:
        """The environment's directory (the override variable wins over the default)."""
        override = os.environ.get(self.env_var)
        return Path(override).expanduser().resolve() if override else self.default_dir

    @property
    def bin_dir(self) -> Path:
        """The environment's ``bin`` directory."""
        return self.venv_dir / "bin"

    @property
    def stamp(self) -> str:
        """What the stamp file must hold for the environment to count as up to date."""
        return " ".join(self.requirements)


MELTANO_VERSION = "4.4.1"

TOOLS: dict[str, Tool] = {
    "meltano": Tool(
        name="meltano",
        default_dir=ROOT / ".meltano" / "cli-venv",
        env_var="DINERO_MELTANO_VENV",
        requirements=(f"meltano[postgres]=={MELTANO_VERSION}",),  # psycopg: a shared Postgres system DB
        executable="meltano",
    ),
}

STAMP_FILE = ".dinero-toolenv"


def _log(message: str) -> None:
    print(f"[toolenv] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock so two processes never build the same environment at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_ready(tool: Tool) -> bool:
    stamp = tool.venv_dir / STAMP_FILE
    return (
        (tool.bin_dir / tool.executable).exists()
        and stamp.exists()
        and stamp.read_text().strip() == tool.stamp
    )


def _base_python() -> str:
    """The interpreter to build environments from (the base one when running inside a venv)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _build_with_pip(tool: Tool) -> None:
    subprocess.run([_base_python(), "-m", "venv", str(tool.venv_dir)], check=True)
    pip = [str(tool.bin_dir / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", *tool.requirements], check=True)


def _build_with_uv(tool: Tool, uv: str) -> None:
    # No pip upgrade and no ensurepip: uv creates the environment in well under a second and installs the
    # requirements (Meltano brings pip along as a dependency of its own). --compile-bytecode does what pip
    # does by default: without it every Meltano start compiles its modules again wherever
    # PYTHONDONTWRITEBYTECODE is set (containers, CI), seconds per command.
    subprocess.run([uv, "venv", "--quiet", "--python", _base_python(), str(tool.venv_dir)], check=True)
    python = str(tool.bin_dir / "python")
    install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python]
    subprocess.run([*install, *tool.requirements], check=True)


def ensure(name: str, uv: str | None = None) -> Path:
    """Create (or reuse) the isolated environment of tool ``name`` and return its ``bin`` directory.

    ``uv``: path of a uv executable to build it with (faster); pip is the fallback when uv fails.
    """
    tool = TOOLS[name]
    if _is_ready(tool):
        return tool.bin_dir
    lock = tool.venv_dir.parent / f".{tool.venv_dir.name}.lock"
    with _locked(lock):
        if _is_ready(tool):  # built by another process while we waited
            return tool.bin_dir
        started = time.monotonic()
        if tool.venv_dir.exists():
            _log(f"{tool.venv_dir} is out of date; rebuilding it")
            shutil.rmtree(tool.venv_dir)
        _log(f"creating {tool.venv_dir} with {tool.stamp} (one time, {'uv' if uv else 'pip'})")
        built = False
        if uv:
            try:
                _build_with_uv(tool, uv)
                built = True
            except (OSError, subprocess.CalledProcessError) as exc:
                _log(f"uv could not build it ({exc}); using pip")
                shutil.rmtree(tool.venv_dir, ignore_errors=True)
        if not built:
            _build_with_pip(tool)
        (tool.venv_dir / STAMP_FILE).write_text(tool.stamp + "\n")
        _log(f"{tool.name} ready in {time.monotonic() - started:.0f} s")
    return tool.bin_dir


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: ensure one tool's environment and print its ``bin`` directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument(
        "--uv", default=os.environ.get("DINERO_UV") or None, help="uv executable to build with (default: pip)"
    )
    args = parser.parse_args(argv)
    print(ensure(args.tool, uv=args.uv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
