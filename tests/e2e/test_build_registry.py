"""Installing the release as a team would: from a private HTTPS provider registry (signed
SHA256SUMS) and from a provider network mirror, with the real terraform."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    EXECUTABLE_PREFIX,
    PROVIDER_SOURCE,
    REPO_ROOT,
    EmulatorHandle,
    TerraformFailed,
    TerraformRunner,
    load_build_script,
    terraform_env,
)
from tests.support.registry import (
    GnuPG,
    HttpsServer,
    RegistryProvider,
    ScratchCertificates,
    gnupg_home,
    https_server,
    key_id_of,
    make_test_certificates,
    tfrc_without_mirrors,
)

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not on PATH")

CONFIG = """
terraform {
  required_providers {
    pulumiservice = {
      source = "%(source)s"
    }
  }
}

provider "pulumiservice" {}

resource "pulumiservice_api_agents_task" "installed" {
  org_name = "registry-org"
  message  = "installed from %(how)s"
}

output "task_id" {
  value = pulumiservice_api_agents_task.installed.task_id
}
"""


def _version() -> str:
    return str(load_build_script().project_version())


def _build_py(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "build.py"), *args], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900,
    )
    assert result.returncode == 0, f"build.py {args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _copy_release(built_dist: Path, target: Path) -> Path:
    """The zips and the manifest of dist/release (what the release workflow gathers)."""
    target.mkdir(parents=True)
    version = _version()
    for path in (built_dist / "release").glob(f"{EXECUTABLE_PREFIX}_{version}_*"):
        if path.name.endswith((".zip", "_manifest.json")):
            shutil.copyfile(path, target / path.name)
    return target


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> ScratchCertificates:
    return make_test_certificates(tmp_path_factory.mktemp("registry-ca"))


@pytest.fixture(scope="module")
def gnupg() -> Iterator[GnuPG]:
    with gnupg_home() as home:
        home.generate_key("tfps-release")
        home.generate_key("tfps-stranger")
        yield home


@pytest.fixture(scope="module")
def signed_release(
    built_dist: Path, gnupg: GnuPG, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    release = _copy_release(built_dist, tmp_path_factory.mktemp("signed") / "release")
    result = _build_py(
        "checksums", str(release), env=gnupg.env(GPG_FINGERPRINT=gnupg.fingerprints[0])
    )
    assert "signed" in result.stdout and "unsigned" not in result.stdout, result.stdout
    return release


@pytest.fixture()
def server(tmp_path: Path, certificates: ScratchCertificates) -> Iterator[HttpsServer]:
    root = tmp_path / "www"
    root.mkdir()
    with https_server(root, certificates) as running:
        yield running


def _offer(server: HttpsServer, release: Path, gnupg: GnuPG, key: str) -> RegistryProvider:
    provider = RegistryProvider(
        namespace="pulumi", type="pulumiservice", version=_version(), release_dir=release,
        protocols=["6.0"], public_key_armor=gnupg.armored_public_key(key), key_id=key_id_of(key),
    )
    server.add_provider(provider)
    return provider


def _terraform(
    workdir: Path, tfrc: Path, certificates: ScratchCertificates, emulator: EmulatorHandle
) -> TerraformRunner:
    env = terraform_env(tfrc, emulator.url, emulator.token)
    env["SSL_CERT_FILE"] = str(certificates.ca_file)  # Terraform trusts only the test CA
    workdir.mkdir(parents=True, exist_ok=True)
    return TerraformRunner(workdir, env)


def _host_zip_name() -> str:
    """The release zip of the platform these tests run on."""
    platform = load_build_script().terraform_platform()
    return f"{EXECUTABLE_PREFIX}_{_version()}_{platform}.zip"


def _registry_terraform(
    tmp_path: Path,
    server: HttpsServer,
    certificates: ScratchCertificates,
    emulator: EmulatorHandle,
    how: str,
) -> tuple[TerraformRunner, str]:
    """terraform with no mirrors, in a configuration that installs from the test registry."""
    source = f"{server.host}/pulumi/pulumiservice"
    tf = _terraform(
        tmp_path / "work", tfrc_without_mirrors(tmp_path / "empty.tfrc"), certificates, emulator
    )
    tf.write({"main.tf": CONFIG % {"source": source, "how": how}})
    return tf, source


def _locked_hashes(workdir: Path, source: str) -> list[str]:
    lock = (workdir / ".terraform.lock.hcl").read_text()
    block = lock.split(f'provider "{source}"', 1)[1].split("\n}", 1)[0]
    return re.findall(r'"((?:h1|zh):[^"]+)"', block)


def test_checksums_without_gpg_fingerprint_are_unsigned_and_say_so(
    built_dist: Path, tmp_path: Path, gnupg: GnuPG
) -> None:
    release = _copy_release(built_dist, tmp_path / "release")
    env = gnupg.env()
    env.pop("GPG_FINGERPRINT", None)
    result = _build_py("checksums", str(release), env=env)
    assert "unsigned" in result.stdout, result.stdout
    assert not list(release.glob("*.sig"))
    sums = (release / f"{EXECUTABLE_PREFIX}_{_version()}_SHA256SUMS").read_text()
    listed = set(re.findall(r"^[0-9a-f]{64}  (\S+)$", sums, re.MULTILINE))
    expected = {p.name for p in release.glob("*.zip")}
    expected.add(f"{EXECUTABLE_PREFIX}_{_version()}_manifest.json")
    assert listed == expected


def test_signature_is_a_detached_binary_signature_of_sha256sums_by_the_chosen_key(
    signed_release: Path, gnupg: GnuPG
) -> None:
    prefix = f"{EXECUTABLE_PREFIX}_{_version()}"
    signature = signed_release / f"{prefix}_SHA256SUMS.sig"
    assert not signature.read_bytes().startswith(b"-----BEGIN"), "armored, not binary"
    verified = gnupg.run(
        "--status-fd", "1", "--verify", str(signature), str(signed_release / f"{prefix}_SHA256SUMS")
    )
    assert f"VALIDSIG {gnupg.fingerprints[0]}" in verified.stdout


def test_terraform_installs_from_an_https_registry_after_verifying_the_signature(
    signed_release: Path, gnupg: GnuPG, server: HttpsServer, certificates: ScratchCertificates,
    emulator: EmulatorHandle, tmp_path: Path,
) -> None:
    _offer(server, signed_release, gnupg, gnupg.fingerprints[0])
    tf, source = _registry_terraform(tmp_path, server, certificates, emulator, "a registry")
    init = tf.init()
    assert f"key ID {key_id_of(gnupg.fingerprints[0])}" in init.stdout, init.stdout

    locked = _locked_hashes(tf.workdir, source)
    build = load_build_script()
    host_zip = signed_release / _host_zip_name()
    assert build.zip_hash1(host_zip) in locked, locked
    assert "zh:" + build.sha256_file(host_zip) in locked, locked
    # zh: hashes come from the signed SHA256SUMS: Terraform takes one per line of it.
    sums = (signed_release / f"{EXECUTABLE_PREFIX}_{_version()}_SHA256SUMS").read_text()
    assert sorted(h for h in locked if h.startswith("zh:")) == sorted(
        "zh:" + line.split()[0] for line in sums.splitlines()
    )

    tf.apply()
    assert tf.output("task_id") in {entry["task"]["id"] for entry in emulator.tasks()}
    tf.destroy()


def test_a_tampered_zip_is_refused(
    signed_release: Path, gnupg: GnuPG, server: HttpsServer, certificates: ScratchCertificates,
    emulator: EmulatorHandle, tmp_path: Path,
) -> None:
    release = tmp_path / "tampered"
    shutil.copytree(signed_release, release)
    name = _host_zip_name()
    tampered = release / ("tampered-" + name)
    shutil.copyfile(release / name, tampered)
    with tampered.open("ab") as handle:
        handle.write(b"\0")  # still a readable zip, but not the one SHA256SUMS names
    provider = _offer(server, release, gnupg, gnupg.fingerprints[0])
    provider.substitutes[name] = tampered.name
    tf, _ = _registry_terraform(tmp_path, server, certificates, emulator, "a tampered zip")
    result = tf.init(check=False)
    assert result.returncode != 0
    assert "checksum" in result.stderr.lower(), result.stderr
    assert not (tf.workdir / ".terraform" / "providers").exists() or not list(
        (tf.workdir / ".terraform" / "providers").rglob(f"{EXECUTABLE_PREFIX}_v*")
    )


def test_a_signature_by_another_key_is_refused(
    signed_release: Path, gnupg: GnuPG, server: HttpsServer, certificates: ScratchCertificates,
    emulator: EmulatorHandle, tmp_path: Path,
) -> None:
    # The registry names the stranger's key, but SHA256SUMS was signed by the release key.
    _offer(server, signed_release, gnupg, gnupg.fingerprints[1])
    tf, _ = _registry_terraform(tmp_path, server, certificates, emulator, "a wrong key")
    result = tf.init(check=False)
    assert result.returncode != 0
    assert "signature" in result.stderr.lower(), result.stderr


def test_terraform_installs_from_the_network_mirror_build_py_writes(
    server: HttpsServer, certificates: ScratchCertificates, emulator: EmulatorHandle,
    built_dist: Path, tmp_path: Path,
) -> None:
    mirror = server.root / "mirror"
    _build_py("network-mirror", str(mirror))
    provider_root = mirror / PROVIDER_SOURCE
    assert (provider_root / "index.json").is_file()
    version_json = (provider_root / f"{_version()}.json").read_text()
    build = load_build_script()
    host_zip = built_dist / "release" / _host_zip_name()
    h1 = build.zip_hash1(host_zip)
    assert h1 in version_json

    tfrc = tmp_path / "mirror.tfrc"
    tfrc.write_text(
        "provider_installation {\n"
        "  network_mirror {\n"
        f'    url     = "{server.url}/mirror/"\n'
        f'    include = ["{PROVIDER_SOURCE}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{PROVIDER_SOURCE}"]\n'
        "  }\n"
        "}\n"
    )
    tf = _terraform(tmp_path / "work", tfrc, certificates, emulator)
    tf.write({"main.tf": CONFIG % {"source": "pulumi/pulumiservice", "how": "a network mirror"}})
    tf.init()
    assert f"/mirror/{PROVIDER_SOURCE}/index.json" in server.requests
    locked = _locked_hashes(tf.workdir, PROVIDER_SOURCE)
    assert h1 in locked, locked
    tf.apply()
    assert tf.output("task_id") in {entry["task"]["id"] for entry in emulator.tasks()}
    tf.destroy()


def test_terraform_refuses_a_registry_whose_certificate_it_does_not_trust(
    signed_release: Path, gnupg: GnuPG, server: HttpsServer, certificates: ScratchCertificates,
    emulator: EmulatorHandle, tmp_path: Path,
) -> None:
    # The control for the CA set-up: without SSL_CERT_FILE the test CA is unknown.
    _offer(server, signed_release, gnupg, gnupg.fingerprints[0])
    tf, _ = _registry_terraform(tmp_path, server, certificates, emulator, "an untrusted registry")
    tf.env.pop("SSL_CERT_FILE")
    tf.env["SSL_CERT_DIR"] = str(tmp_path / "no-certificates")
    with pytest.raises(TerraformFailed, match="certificate"):
        tf.init()
