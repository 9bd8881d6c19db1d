#!/usr/bin/env python3
"""Build, test, release and demo driver for terraform-provider-pulumiservice.

Only the standard library is imported: this script creates the project's virtualenv (.venv),
installs everything else into it, and runs the tools from there.

Commands (python3 build.py <command> [args]):
  build (default)   protobuf stubs, then the PyInstaller executable in dist/plugin, dist/dev.tfrc
                    and the release artifacts in dist/release (skipped when sources are unchanged)
  protos            only regenerate the protobuf stubs
  mirror DIR        install the built provider into a filesystem mirror; prints its lock hashes
  network-mirror DIR  write a provider network mirror (index.json, <version>.json, zips)
  checksums [DIR]   rewrite SHA256SUMS of a release directory (signed when GPG_FINGERPRINT is set)
  glibc [DIR]       the highest GLIBC symbol version each ELF file of the bundle needs
  lock              re-resolve requirements.lock with uv (hashes for every platform)
  docs [--check]    regenerate docs/ from the served schema and examples/ (--check: compare only)
  demo              build, start the emulator, apply and destroy examples/quickstart
  test [ARGS]       build, then unit tests, then e2e tests (ARGS go to pytest)
  lint              ruff and mypy over the package
  startup-time      build one-file and one-folder bundles and time exec -> handshake for each
  bench             side-by-side benchmark against the Go null provider (prints ratios)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# TFPS_VENV lets a second checkout build with this one's venv (the reproducibility test).
VENV = Path(os.environ.get("TFPS_VENV") or ROOT / ".venv").resolve()
# A venv keeps its programs in Scripts\ on Windows, bin/ elsewhere.
VENV_BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
VENV_PYTHON = VENV_BIN / ("python.exe" if os.name == "nt" else "python")
PACKAGE_NAME = "terraform_provider_pulumiservice"
PACKAGE = ROOT / PACKAGE_NAME
PROTO_DIR = ROOT / "proto"
STUB_DIR = PACKAGE / "_proto"
PACKAGING = ROOT / "packaging"
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"
DIST = ROOT / "dist"
PLUGIN_DIR = DIST / "plugin"
RELEASE_DIR = DIST / "release"
DEV_TFRC = DIST / "dev.tfrc"
DEV_MIRROR = DIST / "mirror"
BUILD_STAMP = DIST / ".plugin-build-stamp"
WORK = ROOT / "build"
LOCK_FILE = ROOT / "requirements.lock"
# Only `build.py lock` uses uv (to write the lock); everything else installs with pip.
UV_VERSION = "0.13.8"

BINARY_NAME = "terraform-provider-pulumiservice"
PROVIDER_SOURCE = "registry.terraform.io/pulumi/pulumiservice"
PROVIDER_SHORT_SOURCE = "pulumi/pulumiservice"
PROTOCOL_VERSIONS = ["6.0"]
# A fixed date for every zip entry so identical inputs give byte-identical archives.
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------------------------
# small helpers


def project_version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        sys.exit("build.py: no version in pyproject.toml")
    return match.group(1)


def executable_name(version: str | None = None) -> str:
    suffix = ".exe" if os.name == "nt" else ""  # Terraform looks for the .exe on Windows
    return f"{BINARY_NAME}_v{version or project_version()}{suffix}"


def terraform_platform() -> str:
    """This machine as Terraform names platforms: linux_amd64, darwin_arm64, ..."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {
        "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
        "i386": "386", "i686": "386", "x86": "386", "armv7l": "arm", "armv6l": "arm",
    }.get(machine, machine)
    return f"{system}_{arch}"


class Progress:
    """Prints "==> step (n/N): ..." lines and how long each step took."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.number = 0

    @contextlib.contextmanager
    def step(self, message: str) -> Iterator[None]:
        self.number += 1
        print(f"==> step ({self.number}/{self.total}): {message}", flush=True)
        started = time.monotonic()
        try:
            yield
        finally:
            print(f"    ({time.monotonic() - started:.1f}s)", flush=True)


def step(message: str) -> float:
    print(f"==> {message}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"    done in {time.monotonic() - started:.1f}s", flush=True)


def run(*args: str | Path, **kwargs: object) -> None:
    subprocess.run([str(a) for a in args], check=True, **kwargs)  # type: ignore[call-overload]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def terraform_binary() -> str:
    found = shutil.which("terraform")
    if not found:
        sys.exit("build.py: `terraform` is not on PATH")
    return found


def terraform_env(tfrc: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(tfrc),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "TF_INPUT": "0",
        }
    )
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# virtualenv and generated code


def ensure_venv() -> None:
    """Create .venv and install exactly the locked dependencies (hash-checked), then the project
    itself, editable, built with those locked tools. Skipped when pyproject and lock are same."""
    stamp = VENV / ".installed-lock-sha256"
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + b"\0" + LOCK_FILE.read_bytes()
    ).hexdigest()
    if VENV_PYTHON.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    if (ROOT / ".venv").resolve() != VENV:
        # Reinstalling would point the shared venv's editable install at this checkout.
        raise SystemExit(f"build.py: TFPS_VENV={VENV} was made from another pyproject.toml or "
                         f"{LOCK_FILE.name}; build without TFPS_VENV")
    missing = unlocked_requirements()
    if missing:
        raise SystemExit(f"build.py: {LOCK_FILE.name} has no pin for {', '.join(missing)} "
                         "from pyproject.toml: run `python3 build.py lock` and commit the lock")
    started = step(f"preparing .venv (installing {LOCK_FILE.name} with --require-hashes)")
    if not VENV_PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    pip: list[str | Path] = [
        VENV_PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check"
    ]
    # Every runtime, development and build dependency at the locked version and hash.
    run(*pip, "--require-hashes", "--no-deps", "-r", LOCK_FILE)
    # No build isolation: the project is built by the locked setuptools and grpcio-tools, not
    # whatever the index offers today; --no-deps: the lock already installed everything.
    run(*pip, "--no-deps", "--no-build-isolation", "-e", ROOT)
    # A lock older than a raised floor in pyproject.toml shows up here.
    check = subprocess.run([str(VENV_PYTHON), "-m", "pip", "check"], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"build.py: the locked versions do not satisfy pyproject.toml:\n"
                         f"{check.stdout}run `python3 build.py lock` and commit the lock")
    stamp.write_text(wanted)
    done(started)


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement


def unlocked_requirements() -> list[str]:
    """Dependencies (runtime, dev extra, build system) that requirements.lock does not pin."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = list(project["project"].get("dependencies", []))
    wanted += project["project"].get("optional-dependencies", {}).get("dev", [])
    wanted += project.get("build-system", {}).get("requires", [])
    pinned = {
        _requirement_name(line)
        for line in LOCK_FILE.read_text().splitlines()
        if re.match(r"[A-Za-z0-9]", line)
    }
    return sorted({_requirement_name(r) for r in wanted} - pinned)


def cmd_lock(args: list[str]) -> int:
    """Re-resolve requirements.lock (universal: every platform's markers and wheel hashes)."""
    uv_venv = WORK / "uv"
    uv = uv_venv / "bin" / "uv"
    if not uv.exists():
        run(sys.executable, "-m", "venv", uv_venv)
        run(uv_venv / "bin" / "python", "-m", "pip", "install", "-q", f"uv=={UV_VERSION}")
    run(
        uv, "pip", "compile", "pyproject.toml", PACKAGING / "build-requirements.in",
        "--extra", "dev", "--universal", "--python-version", "3.11", "--generate-hashes",
        "--no-header", "--quiet", "--native-tls", "--output-file", LOCK_FILE, *args,
        cwd=ROOT,
    )
    print(f"lock:      {LOCK_FILE} (commit it; the next build.py run reinstalls .venv)")
    return 0


def generate_stubs() -> None:
    """Compile proto/*.proto into terraform_provider_pulumiservice/_proto (skipped when fresh)."""
    protos = sorted(PROTO_DIR.glob("*.proto"))
    version_file = PACKAGE / "_version.py"
    version_text = (
        f'"""Written at build time from pyproject.toml."""\n\nVERSION = "{project_version()}"\n'
    )
    if not version_file.exists() or version_file.read_text() != version_text:
        version_file.write_text(version_text)
    newest_input = max(p.stat().st_mtime for p in protos)
    outputs = list(STUB_DIR.glob("*_pb2*.py"))
    if len(outputs) >= 2 * len(protos) and min(p.stat().st_mtime for p in outputs) > newest_input:
        return
    started = step("generating protobuf stubs")
    run(VENV_PYTHON, PROTO_DIR / "generate.py", STUB_DIR)
    done(started)


# --------------------------------------------------------------------------------------------
# the executable


def source_fingerprint() -> str:
    """Hash of everything that goes into the executable; a change means rebuild."""
    digest = hashlib.sha256()
    inputs = [ROOT / "pyproject.toml", LOCK_FILE, ROOT / "setup.py"]
    inputs += sorted(path for path in PROTO_DIR.glob("*") if path.is_file())  # + generate.py
    inputs += sorted(PACKAGING.glob("*"))
    inputs += sorted(
        path for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        and "emulator" not in path.relative_to(PACKAGE).parts  # not in the bundle
    )
    for path in inputs:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(f"{sys.platform} {terraform_platform()}".encode())
    return digest.hexdigest()


def pyinstaller(one_file: bool, exe_name: str, dist_path: Path, work_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        {
            "TFPS_EXE_NAME": exe_name,
            "TFPS_ONEFILE": "1" if one_file else "0",
            "TFPS_DIR_NAME": "plugin",
            "PYTHONHASHSEED": "0",
            # Whatever PyInstaller or a hook dates (the zip entries have this date too).
            "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "1577836800"),
            "PYI_LOG_LEVEL": "WARN",
        }
    )
    run(
        VENV_PYTHON, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", dist_path, "--workpath", work_path, PACKAGING / "provider.spec",
        cwd=ROOT, env=env,
    )


def build_plugin(force: bool = False) -> bool:
    """Build dist/plugin (one folder: executable + _internal/). Returns False when already fresh."""
    fingerprint = source_fingerprint()
    exe = PLUGIN_DIR / executable_name()
    if (
        not force and exe.exists() and BUILD_STAMP.exists()
        and BUILD_STAMP.read_text().strip() == fingerprint
    ):
        return False
    started = step(f"building {exe.relative_to(ROOT)} with PyInstaller (one-folder)")
    staging = WORK / "pyinstaller" / "dist"
    pyinstaller(False, executable_name(), staging, WORK / "pyinstaller" / "work")
    DIST.mkdir(exist_ok=True)
    if PLUGIN_DIR.exists():
        shutil.rmtree(PLUGIN_DIR)
    shutil.move(str(staging / "plugin"), str(PLUGIN_DIR))
    BUILD_STAMP.write_text(fingerprint + "\n")
    done(started)
    return True


def write_dev_tfrc() -> None:
    # dev_overrides alone makes `terraform init` ask registry.terraform.io about the provider
    # (which fails offline, or fetches the published one); the mirror answers it locally instead.
    text = (
        "# Written by build.py: run terraform with TF_CLI_CONFIG_FILE pointing here to use the\n"
        "# locally built provider (dev_overrides: `terraform init` is optional).\n"
        "provider_installation {\n"
        "  dev_overrides {\n"
        f'    "{PROVIDER_SHORT_SOURCE}" = {json.dumps(str(PLUGIN_DIR))}\n'
        "  }\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(DEV_MIRROR))}\n"
        f'    include = ["{PROVIDER_SOURCE}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{PROVIDER_SOURCE}"]\n'
        "  }\n"
        "}\n"
    )
    DIST.mkdir(exist_ok=True)
    if not DEV_TFRC.exists() or DEV_TFRC.read_text() != text:
        DEV_TFRC.write_text(text)


def package_files(directory: Path) -> list[tuple[str, Path]]:
    """(slash-separated relative name, path) of every file under directory, sorted by name."""
    files = []
    for path in directory.rglob("*"):
        if path.is_file():
            files.append((path.relative_to(directory).as_posix(), path))
    return sorted(files)


def write_zip(directory: Path, target: Path) -> None:
    """Zip the files of directory reproducibly, keeping each file's permission bits."""
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in package_files(directory):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so unzip tools honour the mode in external_attr
            mode = stat.S_IMODE(path.stat().st_mode)
            info.external_attr = (stat.S_IFREG | mode) << 16
            with path.open("rb") as source, archive.open(info, "w") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    partial.replace(target)


def release_names(version: str, plat: str) -> tuple[str, str, str]:
    base = f"{BINARY_NAME}_{version}"
    return f"{base}_{plat}.zip", f"{base}_SHA256SUMS", f"{base}_manifest.json"


def signature_name(version: str) -> str:
    return f"{BINARY_NAME}_{version}_SHA256SUMS.sig"


def write_release() -> Path:
    """dist/release: the platform zip, the registry manifest, SHA256SUMS (and its signature)."""
    version = project_version()
    zip_name, _, manifest_name = release_names(version, terraform_platform())
    RELEASE_DIR.mkdir(parents=True, exist_ok=True)
    archive = RELEASE_DIR / zip_name
    stamp = RELEASE_DIR / ".built-from"
    fingerprint = BUILD_STAMP.read_text() if BUILD_STAMP.exists() else ""
    if not (archive.exists() and stamp.exists() and stamp.read_text() == fingerprint):
        write_zip(PLUGIN_DIR, archive)
        stamp.write_text(fingerprint)
    manifest = RELEASE_DIR / manifest_name
    manifest.write_text(
        json.dumps({"version": 1, "metadata": {"protocol_versions": PROTOCOL_VERSIONS}}, indent=2)
        + "\n"
    )
    write_checksums(RELEASE_DIR)
    return archive


def write_checksums(release_dir: Path) -> Path:
    """SHA256SUMS over every zip of this version present (other platforms may have been copied
    in) and the manifest, as goreleaser writes it; signed when GPG_FINGERPRINT is set."""
    version = project_version()
    _, sums_name, manifest_name = release_names(version, "")
    listed = sorted(release_dir.glob(f"{BINARY_NAME}_{version}_*.zip"))
    if not listed:
        raise SystemExit(f"build.py: no {BINARY_NAME}_{version}_*.zip in {release_dir}")
    manifest = release_dir / manifest_name
    if not manifest.exists():
        raise SystemExit(f"build.py: {manifest} is missing")
    listed.append(manifest)
    sums = release_dir / sums_name
    sums.write_text("".join(f"{sha256_file(p)}  {p.name}\n" for p in listed))
    signature = release_dir / signature_name(version)
    # A signature of an older SHA256SUMS would only make registries refuse the release.
    signature.unlink(missing_ok=True)
    fingerprint = os.environ.get("GPG_FINGERPRINT", "").strip()
    if not fingerprint:
        print("release:   unsigned (set GPG_FINGERPRINT to sign SHA256SUMS with that GnuPG key)")
        return sums
    gpg = shutil.which("gpg")
    if gpg is None:
        raise SystemExit("build.py: GPG_FINGERPRINT is set but `gpg` is not on PATH")
    # GnuPG finds its keys through GNUPGHOME (inherited) or ~/.gnupg; --batch never prompts.
    command = [gpg, "--batch", "--yes", "--local-user", fingerprint, "--output", str(signature)]
    # A protected key's passphrase goes through stdin, never the command line.
    passphrase = os.environ.get("GPG_PASSPHRASE")
    if passphrase:
        command += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
    result = subprocess.run(
        [*command, "--detach-sign", str(sums)],
        input=passphrase or "", capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"build.py: gpg could not sign {sums.name} with key {fingerprint}:\n{result.stderr}"
        )
    print(f"release:   signed {sums.name} with {fingerprint} -> {signature.name}")
    return sums


def cmd_checksums(args: list[str]) -> int:
    """Rewrite SHA256SUMS (and the signature) of a release directory gathered from several
    platform builds (the release workflow's last job)."""
    if len(args) > 1:
        print("usage: build.py checksums [DIR]", file=sys.stderr)
        return 2
    release_dir = Path(args[0]).resolve() if args else RELEASE_DIR
    sums = write_checksums(release_dir)
    print(sums.read_text(), end="")
    return 0


# --------------------------------------------------------------------------------------------
# size and glibc floor of the bundle


def tree_size(directory: Path) -> int:
    return sum(path.stat().st_size for _, path in package_files(directory))


def _elf_version_needs(path: Path) -> set[str]:
    """Symbol versions an ELF file needs from its libraries (its .gnu.version_r section), e.g.
    {"GLIBC_2.17", "GLIBCXX_3.4.19"}. Empty for anything that is not ELF."""
    import struct

    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return set()
    is_64 = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if is_64:
        shoff, = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
        section_format = order + "IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)
        section_format = order + "IIIIIIIIII"
    sections = [
        struct.unpack_from(section_format, data, shoff + index * shentsize)
        for index in range(shnum)
    ]
    needs: set[str] = set()
    for _name, kind, _flags, _addr, offset, _size, link, info, _align, _entsize in sections:
        if kind != 0x6FFFFFFE:  # SHT_GNU_verneed
            continue
        strings_offset = sections[link][4]
        entry = offset
        for _ in range(info):  # sh_info: the number of Verneed entries
            _version, count, _file, aux, following = struct.unpack_from(
                order + "HHIII", data, entry
            )
            aux_entry = entry + aux
            for _ in range(count):
                _hash, _aflags, _other, name, aux_next = struct.unpack_from(
                    order + "IHHII", data, aux_entry
                )
                start = strings_offset + name
                needs.add(data[start:data.index(b"\0", start)].decode("ascii", "replace"))
                aux_entry += aux_next
            if not following:
                break
            entry += following
    return needs


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("_", 1)[1].split(".") if part.isdigit())


def glibc_needs(directory: Path) -> dict[str, str]:
    """Relative file name -> the highest GLIBC_x.y symbol version it needs, for every ELF file."""
    needs = {}
    for name, path in package_files(directory):
        versions = [v for v in _elf_version_needs(path) if re.fullmatch(r"GLIBC_\d+(\.\d+)*", v)]
        if versions:
            needs[name] = max(versions, key=_version_key)
    return needs


def glibc_floor(directory: Path) -> tuple[str, str] | None:
    """(GLIBC_x.y, the file that needs it): the oldest glibc the bundle runs on, or None."""
    needs = glibc_needs(directory)
    if not needs:
        return None
    name = max(sorted(needs), key=lambda n: _version_key(needs[n]))
    return needs[name], name


def report_bundle(archive: Path) -> None:
    print(f"size:      zip {archive.stat().st_size / 1e6:.1f} MB, "
          f"unpacked {tree_size(PLUGIN_DIR) / 1e6:.1f} MB")
    if sys.platform.startswith("linux"):
        floor = glibc_floor(PLUGIN_DIR)
        if floor is not None:
            print(f"glibc:     needs {floor[0].replace('_', ' ')} or later (highest: {floor[1]})")


def cmd_glibc(args: list[str]) -> int:
    """Print the highest GLIBC symbol version each ELF file of the bundle needs, then the floor;
    with --max X.Y, exit 1 when the floor is above X.Y (the release workflow's check)."""
    limit = None
    if "--max" in args:
        at = args.index("--max")
        if at + 1 >= len(args):
            print("usage: build.py glibc [DIR] [--max X.Y]", file=sys.stderr)
            return 2
        limit = args[at + 1]
        args = args[:at] + args[at + 2:]
    directory = Path(args[0]).resolve() if args else PLUGIN_DIR
    if not args:
        cmd_build([])
    needs = glibc_needs(directory)
    for name in sorted(needs):
        print(f"{needs[name]:<12} {name}")
    floor = glibc_floor(directory)
    print(f"floor: {floor[0] if floor else 'none'}")
    if limit and floor and _version_key(floor[0]) > _version_key(f"GLIBC_{limit}"):
        print(f"build.py: the bundle needs {floor[0]} ({floor[1]}), above GLIBC_{limit}",
              file=sys.stderr)
        return 1
    return 0


def cmd_build(args: list[str]) -> int:
    force = "--force" in args
    generate_stubs()
    build_plugin(force=force)
    archive = write_release()
    install_mirror(DEV_MIRROR, "packed", link=True)
    write_dev_tfrc()
    report_bundle(archive)
    print(f"provider:  {PLUGIN_DIR / executable_name()}")
    print(f"dev tfrc:  {DEV_TFRC}  (export TF_CLI_CONFIG_FILE={DEV_TFRC})")
    print(f"release:   {archive}")
    return 0


# --------------------------------------------------------------------------------------------
# filesystem mirror and lock-file hashes


def hash1(entries: list[tuple[str, bytes]]) -> str:
    """Go's dirhash.Hash1: sha256 over sorted "<sha256 hex>  <name>\\n" lines, base64, "h1:"."""
    summary = hashlib.sha256()
    for name, file_digest_hex in sorted((n, d.decode()) for n, d in entries):
        if "\n" in name:
            raise ValueError(f"file name with a newline cannot be hashed: {name!r}")
        summary.update(f"{file_digest_hex}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def dir_hash1(directory: Path) -> str:
    """h1: of an unpacked provider directory, as Terraform computes it for the lock file."""
    return hash1([(name, sha256_file(path).encode()) for name, path in package_files(directory)])


def zip_hash1(archive: Path) -> str:
    """h1: over a zip's contents (every entry, as Terraform's HashZip reads them)."""
    entries = []
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            digest = hashlib.sha256()
            with opened.open(info) as member:
                for chunk in iter(lambda: member.read(1 << 20), b""):
                    digest.update(chunk)
            entries.append((info.filename, digest.hexdigest().encode()))
    return hash1(entries)


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def install_mirror(mirror: Path, layout: str, link: bool = False) -> dict[str, str]:
    """Put the release zip (packed) and/or its files (unpacked) into a filesystem mirror."""
    version = project_version()
    plat = terraform_platform()
    archive = RELEASE_DIR / release_names(version, plat)[0]
    provider_root = mirror / PROVIDER_SOURCE
    provider_root.mkdir(parents=True, exist_ok=True)
    hashes = {"h1": zip_hash1(archive), "zh": "zh:" + sha256_file(archive)}
    if layout in ("packed", "both"):
        if link:
            _link_or_copy(archive, provider_root / archive.name)
        else:
            shutil.copyfile(archive, provider_root / archive.name)
    if layout in ("unpacked", "both"):
        unpacked = provider_root / version / plat
        if unpacked.exists():
            shutil.rmtree(unpacked)
        # Real copies, not symlinks: Terraform hashes and may copy this directory.
        shutil.copytree(PLUGIN_DIR, unpacked, symlinks=False)
        unpacked_h1 = dir_hash1(unpacked)
        if unpacked_h1 != hashes["h1"]:
            raise SystemExit(f"build.py: unpacked hash {unpacked_h1} != zip hash {hashes['h1']}")
    return hashes


def cmd_mirror(args: list[str]) -> int:
    layout = "both"
    positional: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--layout":
            layout = next(rest, "")
        elif arg.startswith("--layout="):
            layout = arg.split("=", 1)[1]
        else:
            positional.append(arg)
    if layout not in ("packed", "unpacked", "both") or len(positional) != 1:
        print("usage: build.py mirror DIR [--layout packed|unpacked|both]", file=sys.stderr)
        return 2
    cmd_build([])
    mirror = Path(positional[0]).resolve()
    hashes = install_mirror(mirror, layout)
    print(f"mirror:    {mirror} ({layout})")
    print(hashes["h1"])
    print(hashes["zh"])
    return 0


def write_network_mirror(target: Path, release_dir: Path = RELEASE_DIR) -> Path:
    """A provider network mirror (Terraform's provider network mirror protocol) under target:
    <host>/<namespace>/<type>/index.json, <version>.json with each platform's zip and h1: hash,
    and the zips. Versions already in target's index.json stay listed."""
    version = project_version()
    archives = sorted(release_dir.glob(f"{BINARY_NAME}_{version}_*_*.zip"))
    if not archives:
        raise SystemExit(f"build.py: no {BINARY_NAME}_{version}_*.zip in {release_dir}")
    provider_root = target / PROVIDER_SOURCE
    provider_root.mkdir(parents=True, exist_ok=True)
    entries = {}
    for archive in archives:
        plat = archive.name.removeprefix(f"{BINARY_NAME}_{version}_").removesuffix(".zip")
        shutil.copyfile(archive, provider_root / archive.name)
        # The URL is relative to <version>.json; h1: is what the lock file records.
        entries[plat] = {"url": archive.name, "hashes": [zip_hash1(archive)]}
    (provider_root / f"{version}.json").write_text(
        json.dumps({"archives": entries}, indent=2, sort_keys=True) + "\n"
    )
    index_path = provider_root / "index.json"
    versions: dict[str, object] = {}
    if index_path.exists():
        with contextlib.suppress(ValueError, AttributeError):
            versions = dict(json.loads(index_path.read_text()).get("versions", {}))
    versions[version] = {}
    index_path.write_text(json.dumps({"versions": versions}, indent=2, sort_keys=True) + "\n")
    return provider_root


def cmd_network_mirror(args: list[str]) -> int:
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: build.py network-mirror DIR", file=sys.stderr)
        return 2
    cmd_build([])
    target = Path(args[0]).resolve()
    provider_root = write_network_mirror(target)
    print(f"network mirror: {target} (serve it over HTTPS; Terraform asks for "
          f"<url>/{PROVIDER_SOURCE}/index.json)")
    for path in sorted(provider_root.iterdir()):
        print(f"  {path.relative_to(target)}")
    return 0


# --------------------------------------------------------------------------------------------
# documentation

DOC_PAGES = {
    # (schema kind, name without provider prefix) -> (page path, example path)
    ("resource", "api_agents_task"): (
        "resources/api_agents_task.md",
        "resources/pulumiservice_api_agents_task/resource.tf",
    ),
    ("data-source", "api_agents_task"): (
        "data-sources/api_agents_task.md",
        "data-sources/pulumiservice_api_agents_task/data-source.tf",
    ),
    ("data-source", "api_agents_task_events"): (
        "data-sources/api_agents_task_events.md",
        "data-sources/pulumiservice_api_agents_task_events/data-source.tf",
    ),
    ("data-source", "api_agents_tasks"): (
        "data-sources/api_agents_tasks.md",
        "data-sources/pulumiservice_api_agents_tasks/data-source.tf",
    ),
}


def served_schema() -> dict[str, object]:
    """The provider schema as Terraform sees it (dev_overrides: no init needed)."""
    with tempfile.TemporaryDirectory(prefix="tfps-schema-") as scratch:
        Path(scratch, "main.tf").write_text(
            "terraform {\n  required_providers {\n"
            f'    pulumiservice = {{ source = "{PROVIDER_SHORT_SOURCE}" }}\n'
            '  }\n}\n\nprovider "pulumiservice" {}\n'
        )
        result = subprocess.run(
            [terraform_binary(), "providers", "schema", "-json"],
            cwd=scratch, env=terraform_env(DEV_TFRC), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=120,
        )
    if result.returncode != 0:
        sys.exit(f"build.py: terraform providers schema failed:\n{result.stdout}{result.stderr}")
    schemas = json.loads(result.stdout)["provider_schemas"]
    schema = schemas.get(PROVIDER_SOURCE)
    if not isinstance(schema, dict):
        sys.exit(f"build.py: {PROVIDER_SOURCE} missing from the served schema")
    return schema


def type_label(cty_type: object) -> str:
    """A cty JSON type written the way docs readers expect: String, List of Object, ..."""
    if isinstance(cty_type, str):
        return {"dynamic": "Dynamic"}.get(cty_type, cty_type.capitalize())
    if isinstance(cty_type, list) and cty_type:
        kind = str(cty_type[0])
        if kind in ("list", "set", "map") and len(cty_type) > 1:
            return f"{kind.capitalize()} of {type_label(cty_type[1])}"
        if kind == "object":
            return "Object"
        if kind == "tuple":
            return "Tuple"
    return str(cty_type)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _attribute_line(name: str, attribute: dict[str, object], anchor: str | None) -> str:
    if "nested_type" in attribute:
        nested = attribute["nested_type"]
        mode = str(nested.get("nesting_mode", "single")) if isinstance(nested, dict) else "single"
        label = {"single": "Attributes", "list": "List of Attributes", "set": "Set of Attributes",
                 "map": "Map of Attributes"}.get(mode, "Attributes")
        if attribute.get("block"):
            label = "Block"
    else:
        label = type_label(attribute.get("type", "dynamic"))
    flags = [label]
    if attribute.get("sensitive"):
        flags.append("Sensitive")
    if attribute.get("deprecated"):
        flags.append("Deprecated")
    line = f"- `{name}` ({', '.join(flags)})"
    description = _one_line(str(attribute.get("description", "")))
    if description:
        line += f" {description}"
    if anchor:
        line += f" (see [below for nested schema](#{anchor}))"
    return line


def _anchor(path: str) -> str:
    return "nestedatt--" + path.replace(".", "--")


def _object_attributes(cty_type: object) -> dict[str, object] | None:
    """Attributes of an object type, or of the object elements of a list/set/map."""
    if isinstance(cty_type, list) and len(cty_type) >= 2:
        if cty_type[0] == "object" and isinstance(cty_type[1], dict):
            return cty_type[1]
        if cty_type[0] in ("list", "set", "map"):
            return _object_attributes(cty_type[1])
    return None


def render_attributes(
    attributes: dict[str, dict[str, object]], path: str, headings: bool
) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Bullet lines grouped as Required / Optional / Read-Only, plus nested sections to append."""
    groups: dict[str, list[str]] = {"Required": [], "Optional": [], "Read-Only": []}
    nested_sections: list[tuple[str, list[str]]] = []
    for name in sorted(attributes):
        attribute = attributes[name]
        if attribute.get("required"):
            group = "Required"
        elif attribute.get("optional"):
            group = "Optional"
        else:
            group = "Read-Only"
        child_path = f"{path}.{name}" if path else name
        anchor = None
        nested = attribute.get("nested_type")
        if isinstance(nested, dict) and isinstance(nested.get("attributes"), dict):
            anchor = _anchor(child_path)
            nested_lines, more = render_attributes(nested["attributes"], child_path, True)
            nested_sections.append((child_path, nested_lines))
            nested_sections.extend(more)
        else:
            object_attributes = _object_attributes(attribute.get("type"))
            if object_attributes is not None:
                anchor = _anchor(child_path)
                members = [
                    f"- `{key}` ({type_label(value)})"
                    for key, value in sorted(object_attributes.items())
                ]
                nested_sections.append((child_path, members))
        groups[group].append(_attribute_line(name, attribute, anchor))
    lines: list[str] = []
    for title, entries in groups.items():
        if not entries:
            continue
        if headings:
            lines += [f"### {title}" if not path else f"{title}:", ""]
        lines += entries + [""]
    return lines, nested_sections


def _blocks_as_attributes(block: dict[str, object]) -> dict[str, dict[str, object]]:
    """Nested blocks (`timeouts { ... }`) listed like optional attributes with nested schemas."""
    rendered: dict[str, dict[str, object]] = {}
    block_types = block.get("block_types", {})
    assert isinstance(block_types, dict)
    for name, nested in block_types.items():
        inner = nested.get("block", {})
        rendered[name] = {
            "optional": True,
            "block": True,
            "description": inner.get("description", ""),
            "nested_type": {"attributes": inner.get("attributes", {}), "nesting_mode": "single"},
        }
    return rendered


def render_schema(block: dict[str, object]) -> list[str]:
    attributes = block.get("attributes", {})
    assert isinstance(attributes, dict)
    attributes = {**attributes, **_blocks_as_attributes(block)}
    lines, nested_sections = render_attributes(attributes, "", headings=True)
    out = ["## Schema", "", *lines]
    for path, section in nested_sections:
        out += [
            f'<a id="{_anchor(path)}"></a>',
            f"### Nested Schema for `{path}`",
            "",
            *section,
        ]
        if section and section[-1] != "":
            out.append("")
    return out


def _front_matter(title: str, description: str) -> list[str]:
    lines = ["---", f'page_title: "{title}"', 'subcategory: ""', "description: |-"]
    lines += [f"  {line}" if line else "" for line in (description or title).splitlines()]
    return lines + ["---", ""]


def _example_block(path: Path, language: str) -> list[str]:
    if not path.exists():
        sys.exit(f"build.py: example {path.relative_to(ROOT)} is missing")
    return [f"```{language}", path.read_text().rstrip("\n"), "```", ""]


def render_provider_page(schema: dict[str, object]) -> str:
    provider = schema.get("provider", {})
    assert isinstance(provider, dict)
    block = provider.get("block", {})
    description = str(block.get("description", "")).strip() or (
        "Manage Pulumi Cloud agent tasks (Pulumi Neo) from Terraform."
    )
    lines = _front_matter("Provider: Pulumi Cloud (agent tasks)", description)
    lines += ["# pulumiservice Provider", "", description, "", "## Example Usage", ""]
    lines += _example_block(EXAMPLES / "provider" / "provider.tf", "terraform")
    lines += render_schema(block)
    return "\n".join(lines).rstrip("\n") + "\n"


def render_page(kind: str, name: str, block: dict[str, object], example: Path) -> str:
    full_name = f"pulumiservice_{name}"
    kind_title = "Resource" if kind == "resource" else "Data Source"
    description = str(block.get("description", "")).strip()
    lines = _front_matter(f"{full_name} {kind_title} - {BINARY_NAME}", description)
    lines += [f"# {full_name} ({kind_title})", ""]
    if description:
        lines += [description, ""]
    lines += ["## Example Usage", ""]
    lines += _example_block(example, "terraform")
    lines += render_schema(block)
    import_script = example.parent / "import.sh"
    if kind == "resource" and import_script.exists():
        lines += ["## Import", "", "Import is supported using the following syntax:", ""]
        lines += _example_block(import_script, "shell")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_docs(schema: dict[str, object]) -> dict[str, str]:
    pages = {"index.md": render_provider_page(schema)}
    for (kind, name), (page, example) in DOC_PAGES.items():
        key = "resource_schemas" if kind == "resource" else "data_source_schemas"
        table = schema.get(key, {})
        assert isinstance(table, dict)
        entry = table.get(f"pulumiservice_{name}")
        if not isinstance(entry, dict):
            sys.exit(f"build.py: the provider serves no {kind} pulumiservice_{name}")
        pages[page] = render_page(kind, name, entry.get("block", {}), EXAMPLES / example)
    return pages


def cmd_docs(args: list[str]) -> int:
    check = "--check" in args
    cmd_build([])
    pages = render_docs(served_schema())
    stale = []
    for relative, text in sorted(pages.items()):
        target = DOCS / relative
        if target.exists() and target.read_text() == text:
            continue
        stale.append(relative)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    # Pages nobody generates any more are stale too.
    for existing in sorted(DOCS.rglob("*.md")) if DOCS.exists() else []:
        relative = existing.relative_to(DOCS).as_posix()
        if relative not in pages:
            stale.append(relative)
            if not check:
                existing.unlink()
    if check:
        if stale:
            print("docs are out of date (run `python3 build.py docs`): " + ", ".join(stale))
            return 1
        print("docs are up to date")
        return 0
    print(f"docs: {len(pages)} pages, {len(stale)} rewritten")
    return 0


# --------------------------------------------------------------------------------------------
# demo


class Emulator:
    """The Pulumi Cloud emulator as a child process (for the demo)."""

    def __init__(self, scratch: Path) -> None:
        self.ready_file = scratch / "emulator-url"
        self.log = (scratch / "emulator.log").open("w")
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> str:
        self.process = subprocess.Popen(
            [str(VENV_PYTHON), "-m", f"{PACKAGE_NAME}.emulator", "--host", "127.0.0.1",
             "--port", "0", "--ready-file", str(self.ready_file)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it ourselves
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_file.exists() and self.ready_file.read_text().strip():
                self.url = self.ready_file.read_text().strip()
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.log.flush()
        log_text = Path(self.log.name).read_text()
        raise RuntimeError(f"the emulator did not become ready:\n{log_text}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _demo_terraform(workdir: Path, env: dict[str, str], *args: str) -> None:
    command = [terraform_binary(), *args]
    if not sys.stdout.isatty():
        command.insert(2, "-no-color")  # captured output (CI, tests) reads better without escapes
    print("    $ terraform " + " ".join(args), flush=True)
    subprocess.run(command, cwd=workdir, env=env, check=True, stdin=subprocess.DEVNULL)


def _confirm_destroy() -> bool:
    if not sys.stdin.isatty() or os.environ.get("CI"):
        return True
    try:
        answer = input("Destroy the demo task now? [Y/n] ").strip().lower()
    except EOFError:
        return True
    return answer in ("", "y", "yes")


def cmd_demo(args: list[str]) -> int:
    progress = Progress(6)
    with progress.step("build the provider"):
        cmd_build([])
    with tempfile.TemporaryDirectory(prefix="tfps-demo-") as scratch_name:
        scratch = Path(scratch_name)
        emulator = Emulator(scratch)
        try:
            with progress.step("start the Pulumi Cloud emulator"):
                url = emulator.start()
                print(f"    emulator at {url}")
            workdir = scratch / "quickstart"
            shutil.copytree(EXAMPLES / "quickstart", workdir)
            env = terraform_env(
                DEV_TFRC,
                TF_VAR_pulumi_api_url=url,
                TF_VAR_pulumi_access_token="emulator-token",
            )
            with progress.step("terraform init"):
                _demo_terraform(workdir, env, "init", "-input=false")
            with progress.step("terraform apply (start the agent task and wait for its answer)"):
                _demo_terraform(workdir, env, "apply", "-auto-approve", "-input=false")
            with progress.step("terraform output (the task and the agent's answer)"):
                _demo_terraform(workdir, env, "output")
            destroy = _confirm_destroy()
            with progress.step("terraform destroy" if destroy else "keep the task (no destroy)"):
                if destroy:
                    _demo_terraform(workdir, env, "destroy", "-auto-approve", "-input=false")
        except subprocess.CalledProcessError as error:
            print(f"build.py demo: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nbuild.py demo: interrupted", file=sys.stderr)
            return 130
        finally:
            emulator.stop()
    print("demo finished")
    return 0


# --------------------------------------------------------------------------------------------
# tests and lint


def _pytest(paths: list[str], args: list[str], env: dict[str, str]) -> int:
    command = [str(VENV_PYTHON), "-m", "pytest", *paths, *args]
    code = subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL).returncode
    # 5 = nothing collected (e.g. a -k filter matching only the other phase): not a failure.
    return 0 if code == 5 else code


def cmd_test(args: list[str]) -> int:
    cmd_build([])
    env = dict(os.environ)
    env["TFPS_PROVIDER_DIR"] = str(PLUGIN_DIR)
    env.setdefault("CHECKPOINT_DISABLE", "1")
    if any(not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in args):
        # Explicit test paths: one run of just those, with the build available to e2e tests.
        started = step("running the selected tests")
        code = _pytest([], args, env)
        done(started)
        return code
    unit_dirs = (ROOT / "tests" / "unit", PACKAGE)
    unit_paths = [str(p.relative_to(ROOT)) for p in unit_dirs if p.exists()]
    started = step("unit tests")
    unit = _pytest(unit_paths, args, env)
    done(started)
    started = step("end-to-end tests (terraform + built provider + emulator)")
    e2e = _pytest(["tests/e2e"], args, env)
    done(started)
    print(f"unit tests: {'passed' if unit == 0 else 'FAILED'}; "
          f"e2e tests: {'passed' if e2e == 0 else 'FAILED'}")
    return 0 if unit == 0 and e2e == 0 else 1


def cmd_lint(args: list[str]) -> int:
    generate_stubs()
    targets = [PACKAGE_NAME, *args]
    ruff = subprocess.run([str(VENV_BIN / "ruff"), "check", *targets], cwd=ROOT).returncode
    mypy = subprocess.run([str(VENV_BIN / "mypy"), *targets], cwd=ROOT).returncode
    return 0 if ruff == 0 and mypy == 0 else 1


def cmd_protos(args: list[str]) -> int:
    generate_stubs()
    return 0


# --------------------------------------------------------------------------------------------
# start-up time: one-file vs one-folder


def cmd_startup_time(args: list[str]) -> int:
    """Build both bundle modes and time exec -> handshake line for each."""
    runs = args[0] if args else "15"
    generate_stubs()
    build_plugin()
    one_file_dist = WORK / "onefile" / "dist"
    started = step("building the one-file variant for comparison")
    pyinstaller(True, executable_name(), one_file_dist, WORK / "onefile" / "work")
    done(started)
    from_source = WORK / "from-source" / BINARY_NAME
    from_source.parent.mkdir(parents=True, exist_ok=True)
    from_source.write_text(f'#!/bin/sh\nexec "{VENV_PYTHON}" -m {PACKAGE_NAME} "$@"\n')
    from_source.chmod(0o755)
    candidates = {
        "one-folder": PLUGIN_DIR / executable_name(),
        "one-file": one_file_dist / executable_name(),
        "from source": from_source,
    }
    command = [str(VENV_PYTHON), str(PACKAGING / "measure_startup.py"), "--runs", runs]
    for label, exe in candidates.items():
        command += ["--candidate", f"{label}={exe}"]
    return subprocess.run(command, cwd=ROOT).returncode


def cmd_bench(args: list[str]) -> int:
    """Side-by-side benchmark against the Go same-schema anchor (../shared/go-anchor, or
    `--anchor PATH`; built by its own build.sh for this build's schema into .bench-cache/),
    hashicorp/null and terraform_data; not part of the test suite. ARGS go to benchmarks.run
    (`--quick`, `--repeats N`, `--no-anchor`, `--install-anchor-deps`)."""
    cmd_build([])
    started = step("benchmark (this takes several minutes)")
    code = subprocess.run(
        [str(VENV_PYTHON), "-m", "benchmarks.run", *args], cwd=ROOT, stdin=subprocess.DEVNULL
    ).returncode
    done(started)
    return code


# --------------------------------------------------------------------------------------------

# Command name -> handler(args) -> exit code.
COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "build": cmd_build,
    "protos": cmd_protos,
    "mirror": cmd_mirror,
    "network-mirror": cmd_network_mirror,
    "checksums": cmd_checksums,
    "lock": cmd_lock,
    "glibc": cmd_glibc,
    "docs": cmd_docs,
    "demo": cmd_demo,
    "test": cmd_test,
    "lint": cmd_lint,
    "startup-time": cmd_startup_time,
    "bench": cmd_bench,
}


# Standard library only: the release workflow's last job runs them without installing anything.
NO_VENV_COMMANDS = frozenset({"checksums"})


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "build"
    if command in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    handler = COMMANDS.get(command)
    if handler is None:
        print(f"build.py: unknown command {command!r} (try --help)", file=sys.stderr)
        return 2
    if command not in NO_VENV_COMMANDS:
        ensure_venv()
    try:
        return handler(argv[1:])
    except subprocess.CalledProcessError as error:
        print(f"build.py {command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
