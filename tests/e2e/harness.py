"""End-to-end test helpers: drive the real `terraform` binary against the provider and emulator.

The fixtures in conftest.py build on these; tests may also use them directly (for example to run
terraform with a different CLI configuration).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SOURCE = "registry.terraform.io/pulumi/pulumiservice"
PROVIDER_NAMESPACE_TYPE = "pulumi/pulumiservice"
EXECUTABLE_PREFIX = "terraform-provider-pulumiservice"
DEFAULT_TOKEN = "emulator-token"

# Commands with a second command word (`state list`, `providers schema`): flags go after it.
_NESTED_COMMANDS = frozenset({"state", "providers", "workspace"})


def load_build_script() -> ModuleType:
    """build.py as a module (for its version, platform and hash helpers)."""
    cached = sys.modules.get("tfps_build_script")
    if cached is not None:
        return cached
    spec = importlib.util.spec_from_file_location("tfps_build_script", REPO_ROOT / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tfps_build_script"] = module
    spec.loader.exec_module(module)
    return module


def one_task_config(
    name: str, org: str, message: str, source: str = "pulumi/pulumiservice", extra: str = ""
) -> str:
    """A whole configuration: the provider from `source`, one task, and its `task_id` output."""
    return f"""
terraform {{
  required_providers {{
    pulumiservice = {{
      source = "{source}"
    }}
  }}
}}

provider "pulumiservice" {{}}

resource "pulumiservice_api_agents_task" "{name}" {{
  org_name = "{org}"
  message  = "{message}"
{extra}}}

output "task_id" {{
  value = pulumiservice_api_agents_task.{name}.task_id
}}
"""


def terraform_path() -> str | None:
    return shutil.which("terraform")


def dev_overrides_tfrc(
    provider_dir: Path, mirror_dir: Path | None = None, address: str = PROVIDER_NAMESPACE_TYPE
) -> str:
    """A CLI configuration pointing `address` at a directory holding the provider executable.

    With `mirror_dir` (see write_init_mirror) `terraform init` also works offline: dev_overrides
    alone makes init ask registry.terraform.io about the provider.
    """
    if mirror_dir is None:
        installation = "  direct {}\n"
    else:
        installation = (
            "  filesystem_mirror {\n"
            f"    path    = {json.dumps(str(mirror_dir))}\n"
            f'    include = ["{PROVIDER_SOURCE}"]\n'
            "  }\n"
            "  direct {\n"
            f'    exclude = ["{PROVIDER_SOURCE}"]\n'
            "  }\n"
        )
    return (
        "provider_installation {\n"
        "  dev_overrides {\n"
        f'    "{address}" = {json.dumps(str(provider_dir))}\n'
        "  }\n"
        f"{installation}"
        "}\n"
    )


def write_init_mirror(mirror_dir: Path, provider_dir: Path) -> Path:
    """An unpacked filesystem mirror whose provider just runs the one in provider_dir.

    Only `terraform init` looks at it (dev_overrides wins when the provider actually runs), so a
    small launcher stands in for the real bundle.
    """
    build = load_build_script()
    package = mirror_dir / PROVIDER_SOURCE / build.project_version() / build.terraform_platform()
    package.mkdir(parents=True, exist_ok=True)
    targets = sorted(provider_dir.glob(f"{EXECUTABLE_PREFIX}*"))
    assert targets, f"no {EXECUTABLE_PREFIX}* in {provider_dir}"
    launcher = package / EXECUTABLE_PREFIX
    launcher.write_text(f'#!/bin/sh\nexec {_sh_quote(str(targets[0]))} "$@"\n')
    launcher.chmod(0o755)
    return mirror_dir


def filesystem_mirror_tfrc(mirror_dir: Path, source: str = PROVIDER_SOURCE) -> str:
    """A CLI configuration that installs `source` only from a filesystem mirror."""
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror_dir))}\n"
        f'    include = ["{source}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{source}"]\n'
        "  }\n"
        "}\n"
    )


def write_source_launcher(directory: Path, python: Path | None = None) -> Path:
    """Write a shell launcher that runs the provider from source (no PyInstaller build needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    interpreter = python or REPO_ROOT / ".venv" / "bin" / "python"
    if not interpreter.exists():
        interpreter = Path(sys.executable)
    launcher = directory / EXECUTABLE_PREFIX
    launcher.write_text(
        "#!/bin/sh\n"
        f"cd {_sh_quote(str(REPO_ROOT))} || exit 1\n"
        f"exec {_sh_quote(str(interpreter))} -m terraform_provider_pulumiservice \"$@\"\n"
    )
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return launcher


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


class TerraformFailed(AssertionError):
    """A terraform command exited non-zero; the message carries its full output."""


def describe_run(result: subprocess.CompletedProcess[str]) -> str:
    args = " ".join(str(a) for a in result.args)
    return (
        f"`{args}` exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


@dataclass
class TerraformRunner:
    """Runs terraform in one working directory with a fixed environment."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    history: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    def write(self, files: Mapping[str, str]) -> None:
        """Write files (relative path → content) into the working directory."""
        for relative, content in files.items():
            target = self.workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)

    def full_env(self) -> dict[str, str]:
        merged = dict(os.environ)
        merged.update(self.env)
        return merged

    def command_line(self, args: Iterable[str]) -> list[str]:
        """terraform plus args, -no-color after the command word(s) (every command accepts it)."""
        words = [str(a) for a in args]
        binary = terraform_path() or "terraform"
        if not words or words[0].startswith("-") or "-no-color" in words:
            return [binary, *words]
        insert_at = 1
        if words[0] in _NESTED_COMMANDS and len(words) > 1 and not words[1].startswith("-"):
            insert_at = 2
        return [binary, *words[:insert_at], "-no-color", *words[insert_at:]]

    def run(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,  # noqa: A002 - mirrors subprocess.run
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run `terraform <args>`; with check=True a non-zero exit fails with all output shown."""
        result = subprocess.run(
            self.command_line(args),
            cwd=self.workdir,
            env=self.full_env(),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.history.append(result)
        if check and result.returncode != 0:
            raise TerraformFailed(describe_run(result))
        return result

    def init(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("init", "-input=false", *extra, check=check)

    def apply(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "-auto-approve", "-input=false", *extra, check=check)

    def plan(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("plan", "-input=false", *extra, check=check)

    def destroy(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("destroy", "-auto-approve", "-input=false", *extra, check=check)

    def state_json(self) -> dict[str, Any]:
        """Parsed `terraform show -json` of the current state."""
        return self._json(self.run("show", "-json"))

    def plan_json(self, planfile: str) -> dict[str, Any]:
        """Parsed `terraform show -json <planfile>` (make it with `plan("-out=<planfile>")`)."""
        return self._json(self.run("show", "-json", planfile))

    def output(self, name: str | None = None) -> Any:
        """`terraform output -json` parsed: every output ({name: {value, ...}}) or one value."""
        if name is None:
            return self._json(self.run("output", "-json"))
        return json.loads(self.run("output", "-json", name).stdout)

    def schema_json(self) -> dict[str, Any]:
        return self._json(self.run("providers", "schema", "-json"))

    @staticmethod
    def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
        try:
            parsed = json.loads(result.stdout)
        except json.JSONDecodeError as error:
            message = f"output is not JSON ({error})\n{describe_run(result)}"
            raise TerraformFailed(message) from error
        if not isinstance(parsed, dict):
            raise TerraformFailed(f"expected a JSON object\n{describe_run(result)}")
        return parsed


def terraform_env(tfrc: Path, url: str | None = None, token: str | None = None) -> dict[str, str]:
    """The environment every e2e terraform run gets."""
    env = {
        "TF_CLI_CONFIG_FILE": str(tfrc),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_INPUT": "0",
    }
    if url is not None:
        env["PULUMI_BACKEND_URL"] = url
    if token is not None:
        env["PULUMI_ACCESS_TOKEN"] = token
    return env


class EmulatorHandle:
    """Test-side view of a running emulator: its URL and token plus its control endpoints."""

    def __init__(self, url: str, token: str = DEFAULT_TOKEN, server: Any = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.server = server

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise AssertionError(f"emulator {method} {path} → {error.code}: {detail}") from error
        return json.loads(raw) if raw.strip() else None

    def requests(self) -> list[dict[str, Any]]:
        """API requests the emulator has seen (oldest first)."""
        return list(self._call("GET", "/_emulator/requests")["requests"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/_emulator/requests")

    def add_faults(self, rules: list[dict[str, Any]]) -> None:
        self._call("POST", "/_emulator/faults", {"rules": rules})

    def clear_faults(self) -> None:
        self._call("DELETE", "/_emulator/faults")

    def tasks(self) -> list[dict[str, Any]]:
        """Every stored task as {"org": ..., "task": <AgentTask JSON>}."""
        return list(self._call("GET", "/_emulator/tasks")["tasks"])

    def delete_task(self, org: str, task_id: str) -> None:
        self._call("DELETE", f"/_emulator/tasks/{org}/{task_id}")

    def set_status(self, org: str, task_id: str, status: str) -> None:
        self._call("POST", f"/_emulator/tasks/{org}/{task_id}/status", {"status": status})

    def configure(self, **settings: Any) -> None:
        """POST /_emulator/config, e.g. configure(latency_ms=50, idle_after=0.5)."""
        self._call("POST", "/_emulator/config", settings)
        if "tokens" in settings and settings["tokens"]:
            self.token = str(settings["tokens"][0])
