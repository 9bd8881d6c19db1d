"""Compile proto/*.proto into a package's _proto/ directory with grpc_tools.

One implementation for both build paths: `build.py` runs this file with the project's venv, and
the setuptools build hook in setup.py imports it, so `pip install .` from a clean clone gets the
same stubs without anyone committing generated code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent


def generate(output_dir: Path, proto_dir: Path = PROTO_DIR) -> list[Path]:
    """Write *_pb2.py, *_pb2_grpc.py and *_pb2.pyi into output_dir; returns the files."""
    from importlib.resources import files

    from grpc_tools import protoc

    protos = sorted(proto_dir.glob("*.proto"))
    output_dir.mkdir(parents=True, exist_ok=True)
    well_known = str(files("grpc_tools") / "_proto")
    code = protoc.main(
        [
            "grpc_tools.protoc", f"-I{proto_dir}", f"-I{well_known}",
            f"--python_out={output_dir}", f"--grpc_python_out={output_dir}",
            f"--pyi_out={output_dir}",
            *(str(p) for p in protos),
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed (exit {code}) compiling {proto_dir}/*.proto")
    written = sorted(output_dir.glob("*_pb2*.py*"))
    # protoc writes top-level imports between the generated modules; make them package-relative.
    for path in written:
        text = path.read_text()
        fixed = re.sub(r"^import (\w+_pb2) as", r"from . import \1 as", text, flags=re.MULTILINE)
        if fixed != text:
            path.write_text(fixed)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: generate.py OUTPUT_DIR")
    generate(Path(sys.argv[1]))
