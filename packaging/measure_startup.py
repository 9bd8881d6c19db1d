"""Time how long provider executables take from exec to the go-plugin handshake line.

Run by `python3 build.py startup-time` (inside .venv). Each candidate is started the way
Terraform starts it -- magic cookie, protocol versions and an AutoMTLS client certificate in the
environment -- and timed until its first stdout line; then it is killed.

    python packaging/measure_startup.py --runs 15 --candidate one-folder=dist/plugin/terraform-...
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script from packaging/: make the repository's test helpers importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.unit.test_plugin_harness import make_client_certificate  # noqa: E402

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


def client_certificate_pem() -> str:
    """A self-signed P-521 certificate like the one Terraform generates for AutoMTLS."""
    with tempfile.TemporaryDirectory() as directory:
        return make_client_certificate(Path(directory)).certificate_pem


def time_to_handshake(executable: str, env: dict[str, str], timeout: float = 30.0) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        [executable], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        elapsed = time.perf_counter() - started
        if not line.strip():
            raise RuntimeError(f"{executable} exited without a handshake line")
        if elapsed > timeout:
            raise RuntimeError(f"{executable} took {elapsed:.1f}s")
        return elapsed
    finally:
        process.kill()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--candidate", action="append", required=True, metavar="LABEL=PATH")
    options = parser.parse_args()
    env = dict(os.environ)
    env.update(
        {
            MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
            "PLUGIN_PROTOCOL_VERSIONS": "6",
            "PLUGIN_MIN_PORT": "10000",
            "PLUGIN_MAX_PORT": "25000",
            "PLUGIN_CLIENT_CERT": client_certificate_pem(),
        }
    )
    print(f"exec -> handshake line, {options.runs} runs each (after one warm-up run)")
    for candidate in options.candidate:
        label, _, path = candidate.partition("=")
        time_to_handshake(path, env)  # warm the page cache
        samples = [time_to_handshake(path, env) for _ in range(options.runs)]
        print(
            f"{label:>11}: median {statistics.median(samples) * 1000:7.1f} ms, "
            f"min {min(samples) * 1000:7.1f} ms, max {max(samples) * 1000:7.1f} ms  ({path})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
