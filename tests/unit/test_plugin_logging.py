"""hclog JSON lines: levels, modules, timestamps, extra fields."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terraform_provider_pulumiservice.plugin import logging as plugin_logging

HCLOG_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@contextmanager
def installed(environment: dict[str, str]) -> Iterator[io.StringIO]:
    """Install the handler on a fresh stream; put the process-wide logging state back after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_excepthook = threading.excepthook
    stream = io.StringIO()
    try:
        plugin_logging.install(environment, stream=stream)
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        threading.excepthook = saved_excepthook
        logging.captureWarnings(False)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with installed({"TF_LOG": "TRACE"}) as stream:
        yield stream


def lines_of(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, logging.WARNING),
        ({"TF_LOG": "debug"}, logging.DEBUG),
        ({"TF_LOG": "TRACE"}, plugin_logging.TRACE),
        ({"TF_LOG": "JSON"}, plugin_logging.TRACE),
        ({"TF_LOG": "bogus"}, plugin_logging.TRACE),
        ({"TF_LOG": "INFO"}, logging.INFO),
        ({"TF_LOG": "WARN"}, logging.WARNING),
        ({"TF_LOG": "ERROR"}, logging.ERROR),
        ({"TF_LOG": "OFF"}, plugin_logging.OFF),
        ({"TF_LOG": "TRACE", "TF_LOG_PROVIDER": "ERROR"}, logging.ERROR),
        ({"TF_LOG": "ERROR", "TF_LOG_PROVIDER": "debug"}, logging.DEBUG),
        ({"TF_LOG": "DEBUG", "TF_LOG_PROVIDER": ""}, logging.DEBUG),
    ],
)
def test_level_comes_from_tf_log_provider_then_tf_log(
    environment: dict[str, str], expected: int
) -> None:
    assert plugin_logging.level_from_environment(environment) == expected


@pytest.mark.parametrize(
    ("logger_name", "module"),
    [
        ("terraform_provider_pulumiservice.cloud.client", "pulumiservice.cloud"),
        ("terraform_provider_pulumiservice.resources", "pulumiservice.resources"),
        ("terraform_provider_pulumiservice", "pulumiservice"),
        ("root", "pulumiservice"),
        ("httpx", "httpx"),
        ("grpc._server", "grpc"),
    ],
)
def test_logger_names_map_to_hclog_modules(logger_name: str, module: str) -> None:
    assert plugin_logging.module_for_logger(logger_name) == module


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_timestamps_always_have_six_fractional_digits(created: float) -> None:
    assert HCLOG_TIMESTAMP.match(plugin_logging.format_timestamp(created))


def test_timestamp_is_utc() -> None:
    assert plugin_logging.format_timestamp(0.5) == "1970-01-01T00:00:00.500000Z"


def test_records_become_hclog_json_with_extra_fields(captured: io.StringIO) -> None:
    log = logging.getLogger("terraform_provider_pulumiservice.cloud.client")
    log.log(plugin_logging.TRACE, "request %s", "sent", extra={"tf_http_status": 200})
    log.debug("debugging")
    log.info("informing")
    log.warning("warning")
    log.error("failing")
    log.critical("very bad")
    entries = lines_of(captured)
    assert [entry["@level"] for entry in entries] == [
        "trace",
        "debug",
        "info",
        "warn",
        "error",
        "error",
    ]
    first = entries[0]
    assert first["@message"] == "request sent"
    assert first["@module"] == "pulumiservice.cloud"
    assert first["tf_http_status"] == 200
    assert HCLOG_TIMESTAMP.match(str(first["@timestamp"]))
    # Internal LogRecord attributes do not leak into the line.
    assert not {"args", "msg", "levelno", "pathname", "thread"} & set(first)


def test_threshold_filters_lines() -> None:
    with installed({"TF_LOG": "WARN"}) as stream:
        log = logging.getLogger("terraform_provider_pulumiservice.framework")
        log.info("hidden")
        log.warning("shown")
    assert [entry["@message"] for entry in lines_of(stream)] == ["shown"]


def test_exceptions_and_unserialisable_values_still_give_one_json_line(
    captured: io.StringIO,
) -> None:
    log = logging.getLogger("terraform_provider_pulumiservice.protocol.servicer")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("rpc failed", extra={"tf_payload": object()})
    (entry,) = lines_of(captured)
    assert entry["@level"] == "error"
    assert "ValueError: boom" in str(entry["error"])
    assert str(entry["tf_payload"]).startswith("<object object")


def test_multiline_messages_stay_on_one_line(captured: io.StringIO) -> None:
    logging.getLogger("terraform_provider_pulumiservice.x").warning("two\nlines")
    assert len(captured.getvalue().splitlines()) == 1
    assert lines_of(captured)[0]["@message"] == "two\nlines"


def test_install_twice_keeps_a_single_handler() -> None:
    with installed({}):
        plugin_logging.install({}, stream=io.StringIO())
        root = logging.getLogger()
        ours = [h for h in root.handlers if isinstance(h, plugin_logging.HclogJsonHandler)]
        assert len(ours) == 1


def test_uncaught_thread_exceptions_are_logged(captured: io.StringIO) -> None:
    def fail() -> None:
        raise RuntimeError("thread blew up")

    thread = threading.Thread(target=fail, name="doomed")
    thread.start()
    thread.join()
    (entry,) = lines_of(captured)
    assert entry["@level"] == "error"
    assert "doomed" in str(entry["@message"])
    assert "thread blew up" in str(entry["error"])
