"""hclog-style JSON logging to stderr, the format go-plugin parses from a plugin's stderr.

Every line is one JSON object: ``@level``, ``@message``, ``@module``, ``@timestamp`` and any
``extra=`` key/values of the record. Other layers only call ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Mapping
from typing import Any, TextIO

PACKAGE_NAME = "terraform_provider_pulumiservice"
MODULE_PREFIX = "pulumiservice"

# Python has no TRACE level; hclog does and Terraform users ask for it with TF_LOG=TRACE.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

# Terraform's accepted TF_LOG values; anything else it treats as TRACE (as does JSON).
_LEVELS_BY_NAME: dict[str, int] = {
    "TRACE": TRACE,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
OFF = logging.CRITICAL + 10
DEFAULT_LEVEL = logging.WARNING

# Attributes every LogRecord has; whatever else a record carries came from ``extra=``.
_STANDARD_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


def level_from_environment(environ: Mapping[str, str] | None = None) -> int:
    """The threshold from TF_LOG_PROVIDER, else TF_LOG; WARN when neither is set."""
    env = os.environ if environ is None else environ
    value = env.get("TF_LOG_PROVIDER", "").strip() or env.get("TF_LOG", "").strip()
    if not value:
        return DEFAULT_LEVEL
    name = value.upper()
    if name == "OFF":
        return OFF
    return _LEVELS_BY_NAME.get(name, TRACE)


def hclog_level_name(levelno: int) -> str:
    if levelno <= TRACE:
        return "trace"
    if levelno <= logging.DEBUG:
        return "debug"
    if levelno <= logging.INFO:
        return "info"
    if levelno <= logging.WARNING:
        return "warn"
    return "error"


def module_for_logger(logger_name: str) -> str:
    """``terraform_provider_pulumiservice.cloud.client`` -> ``pulumiservice.cloud``.

    Loggers of other libraries keep their top-level package name (``httpx``, ``grpc``).
    """
    parts = logger_name.split(".")
    if parts[0] == PACKAGE_NAME:
        return MODULE_PREFIX if len(parts) == 1 else f"{MODULE_PREFIX}.{parts[1]}"
    if parts[0] in ("", "root"):
        return MODULE_PREFIX
    return parts[0]


def format_timestamp(created: float) -> str:
    """UTC with exactly six fractional digits, as hclog's "2006-01-02T15:04:05.000000Z07:00"."""
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_to_json(record: logging.LogRecord) -> str:
    entry: dict[str, Any] = {
        "@level": hclog_level_name(record.levelno),
        "@message": record.getMessage(),
        "@module": module_for_logger(record.name),
        "@timestamp": format_timestamp(record.created),
    }
    for key, value in record.__dict__.items():
        if key not in _STANDARD_RECORD_ATTRIBUTES and not key.startswith("_"):
            entry[key] = value
    if record.exc_info and record.exc_info[0] is not None:
        entry["error"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    elif record.exc_text:
        entry["error"] = record.exc_text
    if record.stack_info:
        entry["stack"] = record.stack_info
    return json.dumps(entry, default=str, ensure_ascii=False)


class HclogJsonHandler(logging.Handler):
    """Writes one hclog JSON line per record and flushes, so Terraform sees it immediately."""

    def __init__(self, stream: TextIO | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._explicit_stream = stream

    @property
    def stream(self) -> TextIO:
        # Resolved per write so a later swap of sys.stderr (e.g. by pytest) is honoured.
        return self._explicit_stream or sys.stderr

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = record_to_json(record)
            stream = self.stream
            stream.write(line + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def _log_uncaught_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    thread_name = args.thread.name if args.thread is not None else "unknown"
    logging.getLogger(f"{PACKAGE_NAME}.plugin").error(
        "uncaught exception in thread %s",
        thread_name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )


def install(
    environ: Mapping[str, str] | None = None, stream: TextIO | None = None
) -> HclogJsonHandler:
    """Route all stdlib logging (ours and libraries') through one hclog JSON handler on stderr."""
    level = level_from_environment(environ)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, HclogJsonHandler):
            root.removeHandler(existing)
    handler = HclogJsonHandler(stream)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    threading.excepthook = _log_uncaught_thread_exception
    return handler
