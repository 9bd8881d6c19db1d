"""setuptools build hook: the generated parts of the package are made at build time.

`pip install .` (or building a wheel) from a clean clone runs `build_py`, which here also writes
the gRPC stubs (proto/generate.py) and `_version.py` into the build, and leaves the `*_test.py`
modules out. Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PACKAGE = "terraform_provider_pulumiservice"


def _generator() -> Any:
    generator = ROOT / "proto" / "generate.py"
    spec = importlib.util.spec_from_file_location("tfps_proto_generate", generator)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithGeneratedCode(build_py):  # type: ignore[misc]  # setuptools has no stubs
    def run(self) -> None:
        super().run()
        # An editable install imports from the source tree, so the code goes there instead.
        target = ROOT / PACKAGE if self.editable_mode else Path(self.build_lib) / PACKAGE
        _generator().generate(target / "_proto")
        version = self.distribution.get_version()
        (target / "_version.py").write_text(
            f'"""Written at build time from pyproject.toml."""\n\nVERSION = "{version}"\n'
        )

    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        # Tests beside the code (`*_test.py`) are for the repository, not for the wheel.
        modules = super().find_package_modules(package, package_dir)
        return [entry for entry in modules if not entry[1].endswith("_test")]


setup(cmdclass={"build_py": BuildPyWithGeneratedCode})
