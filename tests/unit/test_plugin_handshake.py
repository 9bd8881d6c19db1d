"""The go-plugin handshake pieces: cookie, protocol negotiation, the stdout line, reattach JSON."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terraform_provider_pulumiservice.plugin import handshake


def test_magic_cookie_must_match_exactly() -> None:
    assert handshake.has_magic_cookie({"TF_PLUGIN_MAGIC_COOKIE": handshake.MAGIC_COOKIE_VALUE})
    assert not handshake.has_magic_cookie({})
    assert not handshake.has_magic_cookie(
        {"TF_PLUGIN_MAGIC_COOKIE": handshake.MAGIC_COOKIE_VALUE.upper()}
    )


@pytest.mark.parametrize("offered", ["6", "5,6", "6,5", " 5 , 6 ", "", "6,"])
def test_protocol_6_is_chosen_when_offered_or_unspecified(offered: str) -> None:
    environment = {"PLUGIN_PROTOCOL_VERSIONS": offered}
    assert handshake.negotiate_protocol_version(environment) == 6


def test_protocol_defaults_to_6_when_unset() -> None:
    assert handshake.negotiate_protocol_version({}) == 6


@pytest.mark.parametrize("offered", ["5", "4,5", "7", "x,6"])
def test_protocol_without_6_is_a_handshake_error(offered: str) -> None:
    with pytest.raises(handshake.HandshakeError):
        handshake.negotiate_protocol_version({"PLUGIN_PROTOCOL_VERSIONS": offered})


def test_handshake_line_without_tls_ends_in_an_empty_field() -> None:
    line = handshake.handshake_line("/tmp/d/plugin.sock", None)
    assert line == "1|6|unix|/tmp/d/plugin.sock|grpc|"
    assert len(line.split("|")) == 6


@given(st.binary(min_size=1, max_size=600))
def test_certificate_field_is_unpadded_standard_base64(der: bytes) -> None:
    field = handshake.handshake_line("/s", der).split("|")[5]
    assert "=" not in field
    assert base64.b64decode(field + "=" * (-len(field) % 4)) == der
    assert field == base64.b64encode(der).decode().rstrip("=")


def test_socket_path_with_a_separator_is_rejected() -> None:
    with pytest.raises(handshake.HandshakeError):
        handshake.handshake_line("/tmp/a|b/plugin.sock", None)


def test_reattach_config_is_what_terraform_expects() -> None:
    text = handshake.reattach_config("registry.terraform.io/pulumi/pulumiservice", 42, "/t/p.sock")
    assert json.loads(text) == {
        "registry.terraform.io/pulumi/pulumiservice": {
            "Protocol": "grpc",
            "ProtocolVersion": 6,
            "Pid": 42,
            "Test": True,
            "Addr": {"Network": "unix", "String": "/t/p.sock"},
        }
    }
    assert "'" not in text  # It is printed inside single quotes for the shell.
