"""The Go same-schema reference provider ("the anchor"), built against the current build's schema.

The anchor lives outside this repository (`../shared/go-anchor` next to the project, or a path
given with `--anchor`); it is a benchmarking reference only. This module never copies its sources:
it captures `terraform providers schema -json` of the build under test, runs the anchor's own
`build.sh` with that schema (`SCHEMA_JSON=...`), and keeps the binary in a cache directory
outside the source tree (by default the gitignored `.bench-cache/`). The build is reused while the
schema and the anchor's sources are unchanged, and redone as soon as either changes, so the anchor
always serves exactly the schema of the build it is compared with (checked after every build).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import PROVIDER_SOURCE, dev_overrides_tfrc, terraform_path

# What the anchor's build.sh needs (it says so itself); checked here so that a machine without
# them gets an instruction instead of a half-run build.
DEBIAN_PACKAGES = (
    "golang-go",
    "golang-google-grpc-dev",
    "golang-google-protobuf-dev",
    "protoc-gen-go",
    "protoc-gen-go-grpc",
    "protobuf-compiler",
    "golang-github-zclconf-go-cty-dev",
)
ANCHOR_EXECUTABLE = "terraform-provider-pulumiservice"
BUILD_KEY_FILE = "bench-build-key"


class AnchorUnavailable(RuntimeError):
    """The anchor cannot be built here; the message says why and what to do."""


@dataclass(frozen=True)
class Anchor:
    provider_dir: Path  # what dev_overrides points at
    executable: Path
    schema_sha256: str
    rebuilt: bool
    build_seconds: float | None


def missing_packages() -> list[str]:
    if shutil.which("dpkg-query") is None:
        return [] if shutil.which("go") else list(DEBIAN_PACKAGES)
    missing = []
    for package in DEBIAN_PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True, text=True, check=False,
        ).stdout
        if "install ok installed" not in status:
            missing.append(package)
    return missing


def capture_schema(provider_dir: Path, scratch: Path) -> bytes:
    """`terraform providers schema -json` of the provider in `provider_dir`, as build.sh keeps
    it: the provider's entry only, compact JSON with sorted keys."""
    binary = terraform_path()
    if binary is None:
        raise AnchorUnavailable("terraform is not on PATH")
    workdir = Path(tempfile.mkdtemp(prefix="schema-", dir=scratch))
    tfrc = workdir / "dev.tfrc"
    tfrc.write_text(dev_overrides_tfrc(provider_dir))
    (workdir / "main.tf").write_text(
        'terraform {\n  required_providers {\n'
        '    pulumiservice = { source = "pulumi/pulumiservice" }\n  }\n}\n'
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    environment.update(TF_CLI_CONFIG_FILE=str(tfrc), CHECKPOINT_DISABLE="1")
    completed = subprocess.run(
        [binary, "providers", "schema", "-json"], cwd=workdir, env=environment,
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )
    shutil.rmtree(workdir, ignore_errors=True)
    if completed.returncode != 0:
        raise AnchorUnavailable(
            f"`terraform providers schema -json` against {provider_dir} failed:\n"
            f"{completed.stderr[-2000:]}"
        )
    entry = json.loads(completed.stdout)["provider_schemas"][PROVIDER_SOURCE]
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


def _sources_digest(anchor_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in anchor_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(anchor_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def install_packages(missing: list[str]) -> None:
    """apt-get install the missing Debian packages (apt-get update only if that fails)."""
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if subprocess.run(command, env=environment, stdin=subprocess.DEVNULL, check=False).returncode:
        subprocess.run(["apt-get", "update"], env=environment, stdin=subprocess.DEVNULL,
                       check=False)
        if subprocess.run(command, env=environment, stdin=subprocess.DEVNULL,
                          check=False).returncode:
            raise AnchorUnavailable(f"`{' '.join(command)}` failed")


def prepare_anchor(
    anchor_dir: Path, provider_dir: Path, cache_dir: Path, scratch: Path, *,
    install: bool = False,
) -> Anchor:
    """Build (or reuse) the anchor serving the schema of the build in `provider_dir`; with
    `install`, missing Debian packages are installed first (needs root)."""
    build_script = anchor_dir / "build.sh"
    if not build_script.is_file():
        raise AnchorUnavailable(f"no build.sh in {anchor_dir}")
    missing = missing_packages()
    if missing and install:
        install_packages(missing)
        missing = missing_packages()
    if missing:
        raise AnchorUnavailable(
            "the anchor needs Debian's Go packages; install them with\n"
            f"    sudo apt-get install -y --no-install-recommends {' '.join(missing)}\n"
            "(or run the bench with --install-anchor-deps), then run the bench again"
        )
    schema = capture_schema(provider_dir, scratch)
    schema_sha256 = hashlib.sha256(schema).hexdigest()
    key = f"{schema_sha256} {_sources_digest(anchor_dir)}\n"
    out_dir = cache_dir / "go-anchor"
    executable = out_dir / ANCHOR_EXECUTABLE
    key_file = out_dir / BUILD_KEY_FILE
    if executable.is_file() and key_file.is_file() and key_file.read_text() == key:
        return Anchor(out_dir, executable, schema_sha256, rebuilt=False, build_seconds=None)

    out_dir.mkdir(parents=True, exist_ok=True)
    key_file.unlink(missing_ok=True)
    schema_file = scratch / "anchor-schema.json"
    schema_file.write_bytes(schema)
    environment = dict(os.environ, SKIP_APT="1", SCHEMA_JSON=str(schema_file))
    started = time.monotonic()
    completed = subprocess.run(
        ["bash", str(build_script), "-", str(out_dir)], env=environment, cwd=scratch,
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900, check=False,
    )
    build_seconds = time.monotonic() - started
    if completed.returncode != 0 or not executable.is_file():
        raise AnchorUnavailable(
            f"the anchor's build.sh failed (exit {completed.returncode}):\n"
            f"{completed.stdout[-1500:]}\n{completed.stderr[-2500:]}"
        )
    served = capture_schema(out_dir, scratch)
    if served != schema:
        raise AnchorUnavailable(
            "the anchor built but serves a different schema from the build under test "
            f"(sha256 {hashlib.sha256(served).hexdigest()} against {schema_sha256})"
        )
    key_file.write_text(key)
    return Anchor(out_dir, executable, schema_sha256, rebuilt=True, build_seconds=build_seconds)


def default_anchor_dir(repo_root: Path) -> Path:
    return repo_root.parent / "shared" / "go-anchor"
