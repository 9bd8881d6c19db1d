"""The Server-Sent Events parser: the event-stream format's rules, fed in any chunking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terraform_provider_pulumiservice.cloud.sse import SseEvent, SseParser


def parse(*chunks: bytes) -> list[SseEvent]:
    parser = SseParser()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def test_an_id_and_a_data_line_make_one_event() -> None:
    assert parse(b'id: 1\ndata: {"a": 1}\n\n') == [
        SseEvent(data='{"a": 1}', id="1", has_own_id=True)
    ]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert [e.data for e in parse(b"data: one\ndata:two\ndata:  three\n\n")] == ["one\ntwo\n three"]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_is_understood(newline: bytes) -> None:
    stream = newline.join([b"id: a", b"data: x", b"", b"data: y", b"", b""])
    assert [(e.id, e.data) for e in parse(stream)] == [("a", "x"), ("a", "y")]


def test_a_crlf_split_across_chunks_is_one_line_ending() -> None:
    assert [e.data for e in parse(b"data: x\r", b"\n\r", b"\ndata: y\r\n\r\n")] == ["x", "y"]


def test_comments_are_keep_alives_and_never_events() -> None:
    parser = SseParser()
    assert parser.feed(b": keep-alive\n\n:\n\n") == []
    assert parser.comments == 2


def test_the_id_persists_until_changed_and_an_empty_id_clears_it() -> None:
    events = parse(b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n")
    assert [(e.id, e.has_own_id) for e in events] == [("7", True), ("7", False), ("", True)]


def test_an_id_containing_nul_is_ignored() -> None:
    assert parse(b"id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n")[1].id == "1"


def test_event_type_and_retry_are_read_and_bad_retry_ignored() -> None:
    parser = SseParser()
    events = parser.feed(b"event: ping\nretry: 2500\ndata: p\n\nretry: soon\n\n")
    assert events == [SseEvent(data="p", event="ping")]
    assert parser.retry_ms == 2500


def test_an_event_without_data_is_not_dispatched_but_its_id_is_kept() -> None:
    parser = SseParser()
    assert parser.feed(b"id: 9\n\n") == []
    assert parser.last_event_id == "9"


def test_unknown_fields_and_fields_without_colon_are_ignored() -> None:
    assert [e.data for e in parse(b"foo: bar\ndata\nnonsense\n\n")] == [""]


def test_a_leading_bom_is_dropped_even_when_split() -> None:
    assert [e.data for e in parse(b"\xef\xbb", b"\xbfdata: x\n\n")] == ["x"]


def test_an_unterminated_event_at_the_end_is_not_dispatched() -> None:
    assert parse(b"data: complete\n\ndata: cut off") == [SseEvent(data="complete")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert parse(b"data: \xff\n\n")[0].data == "\ufffd"


def test_an_endless_line_is_refused() -> None:
    parser = SseParser()
    parser.MAX_LINE_BYTES = 100
    with pytest.raises(ValueError, match="longer than 100 bytes"):
        parser.feed(b"data: " + b"x" * 200)


STREAM = (
    b'\xef\xbb\xbf: hello\r\nid: 1\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
    b"event: other\ndata: o\n\nid: 2\rdata: \xc3\xa9\r\r: ka\n\ndata: last\n\n"
)


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert parse(*chunks) == parse(STREAM)
    assert [e.data for e in parse(STREAM)] == ['{"a":\n1}', "o", "é", "last"]
