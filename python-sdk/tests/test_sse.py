from __future__ import annotations

from farlabs._sse import SSEDecoder, is_activity


def _decode(lines: list[str]) -> list[tuple[str, str, str]]:
    decoder, out = SSEDecoder(), []
    for line in lines:
        event = decoder.feed(line)
        if event is not None:
            out.append((event.event, event.data, event.id))
    tail = decoder.flush()
    if tail is not None:
        out.append((tail.event, tail.data, tail.id))
    return out


def test_events_data_and_ids() -> None:
    lines = ['data: {"token": "a"}', "", "event: done", "id: 7", "data:line1", "data: line2", ""]
    assert _decode(lines) == [("message", '{"token": "a"}', ""), ("done", "line1\nline2", "7")]


def test_comments_and_unknown_fields_are_not_events() -> None:
    assert _decode([": keep-alive", "", "weird: 1", "", "retry: 100", ""]) == []


def test_pending_event_is_flushed_at_the_end() -> None:
    assert _decode(["event: error", 'data: {"error": {}}']) == [("error", '{"error": {}}', "")]


def test_activity() -> None:
    assert is_activity("data: x") and is_activity("event: done")
    assert not is_activity("") and not is_activity(": keep-alive")
