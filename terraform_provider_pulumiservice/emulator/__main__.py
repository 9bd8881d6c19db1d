"""Command line: `python -m terraform_provider_pulumiservice.emulator [options]`.

Prints one line, `pulumi-cloud-emulator listening on http://HOST:PORT`, once it accepts connections,
and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from terraform_provider_pulumiservice.emulator.agent import OUTCOMES
from terraform_provider_pulumiservice.emulator.model import (
    APPROVAL_MODES,
    DEFAULT_CLI_INTEGRATIONS,
    DEFAULT_TOKEN,
)
from terraform_provider_pulumiservice.emulator.server import EmulatorServer


def _cli_integration(value: str) -> tuple[str, str]:
    catalog_id, _, name = value.partition("/")
    if not catalog_id or not name:
        raise argparse.ArgumentTypeError(f"expected CATALOG/NAME, got {value!r}")
    return catalog_id, name


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m terraform_provider_pulumiservice.emulator",
        description="A local Pulumi Cloud emulator for the agent-task API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--db", default=None, help="SQLite file to keep state in (default: memory)")
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help=f"accepted access token; repeatable (default: {DEFAULT_TOKEN})",
    )
    parser.add_argument(
        "--idle-after",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds after its last activity that a task turns idle (default: 2)",
    )
    parser.add_argument(
        "--cli-integration",
        action="append",
        dest="cli_integrations",
        type=_cli_integration,
        metavar="CATALOG/NAME",
        help="a connected CLI integration; repeatable (default: aws/default, gcp/default)",
    )
    parser.add_argument("--ready-file", default=None, help="write the URL here once listening")
    parser.add_argument(
        "--latency-ms", type=int, default=0, metavar="N", help="added to every API request"
    )
    parser.add_argument(
        "--agent-pace",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="seconds per step of the scripted agent's run (default: the run lasts --idle-after)",
    )
    parser.add_argument(
        "--agent-outcome",
        choices=OUTCOMES,
        default="success",
        help="how the scripted agent's runs end (default: success)",
    )
    parser.add_argument(
        "--default-approval-mode",
        choices=APPROVAL_MODES,
        default="manual",
        help="the organizations' approval mode for tasks that set none; with manual the run "
        "stops at an approval request (default: manual)",
    )
    parser.add_argument(
        "--stream-keepalive",
        type=_positive_seconds,
        default=2.0,
        metavar="SECONDS",
        help="send a `:` comment on a quiet event stream this often (default: 2)",
    )
    parser.add_argument(
        "--stream-max-seconds",
        type=_positive_seconds,
        default=5.0,
        metavar="SECONDS",
        help="end an event stream after this long; clients reconnect (default: 5)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def _write_ready_file(path: str, url: str) -> None:
    # Write then rename, so a watcher never reads a half-written URL.
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(url + "\n")
    os.replace(temporary, target)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    server = EmulatorServer(
        host=args.host,
        port=args.port,
        db_path=args.db,
        tokens=tuple(args.tokens or (DEFAULT_TOKEN,)),
        idle_after=args.idle_after,
        cli_integrations=tuple(args.cli_integrations or DEFAULT_CLI_INTEGRATIONS),
        latency_ms=args.latency_ms,
        verbose=args.verbose,
        agent_pace=args.agent_pace,
        agent_outcome=args.agent_outcome,
        default_approval_mode=args.default_approval_mode,
        stream_keepalive_seconds=args.stream_keepalive,
        stream_max_seconds=args.stream_max_seconds,
    )
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server.start()
    try:
        # The ready file first: whoever reads the listening line may look for it straight away.
        if args.ready_file:
            _write_ready_file(args.ready_file, server.url)
        print(f"pulumi-cloud-emulator listening on {server.url}", flush=True)
        # A timed wait keeps the main thread responsive to signals.
        while not stop_requested.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
