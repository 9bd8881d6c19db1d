#!/usr/bin/env python3
"""Build, test and demo driver for terraform-provider-pulumiservice.

Only the standard library is imported at the top: this script creates the project's virtualenv
(.venv) and installs everything else into it, then re-executes work inside it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
PACKAGE = ROOT / "terraform_provider_pulumiservice"
PROTO_DIR = ROOT / "proto"
STUB_DIR = PACKAGE / "_proto"


def project_version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        sys.exit("build.py: no version in pyproject.toml")
    return match.group(1)


def step(message: str) -> float:
    print(f"==> {message}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"    done in {time.monotonic() - started:.1f}s", flush=True)


def run(*args: str | Path, **kwargs: object) -> None:
    subprocess.run([str(a) for a in args], check=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv() -> None:
    """Create .venv and install the project with its dev extras; skip when pyproject is unchanged."""
    stamp = VENV / ".installed-pyproject-sha256"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if VENV_PYTHON.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    started = step("preparing .venv (installing dependencies)")
    if not VENV_PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    run(VENV_PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip")
    run(VENV_PYTHON, "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]")
    stamp.write_text(wanted)
    done(started)


def generate_stubs() -> None:
    """Compile proto/*.proto into terraform_provider_pulumiservice/_proto (skipped when fresh)."""
    protos = sorted(PROTO_DIR.glob("*.proto"))
    version_file = PACKAGE / "_version.py"
    version_text = f'"""Written by build.py from pyproject.toml."""\n\nVERSION = "{project_version()}"\n'
    if not version_file.exists() or version_file.read_text() != version_text:
        version_file.write_text(version_text)
    newest_input = max(p.stat().st_mtime for p in protos)
    outputs = list(STUB_DIR.glob("*_pb2*.py"))
    if len(outputs) >= 2 * len(protos) and min(p.stat().st_mtime for p in outputs) > newest_input:
        return
    started = step("generating protobuf stubs")
    run(
        VENV_PYTHON, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}",
        f"--python_out={STUB_DIR}", f"--grpc_python_out={STUB_DIR}", f"--pyi_out={STUB_DIR}",
        *protos,
    )
    # protoc writes top-level imports between the generated modules; make them package-relative.
    for path in STUB_DIR.glob("*_pb2*.py*"):
        text = path.read_text()
        fixed = re.sub(r"^import (\w+_pb2) as", r"from . import \1 as", text, flags=re.MULTILINE)
        if fixed != text:
            path.write_text(fixed)
    done(started)


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def cmd_test(args: list[str]) -> int:
    generate_stubs()
    started = step("running the test suite")
    code = subprocess.run([str(VENV_PYTHON), "-m", "pytest", *args], cwd=ROOT).returncode
    done(started)
    return code


def main(argv: list[str]) -> int:
    ensure_venv()
    command = argv[0] if argv else "build"
    rest = argv[1:]
    if command == "protos":
        generate_stubs()
        return 0
    if command == "test":
        return cmd_test(rest)
    print(f"build.py: unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
