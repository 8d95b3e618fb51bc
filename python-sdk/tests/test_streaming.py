"""`FarMesh.chat_stream`: the stream object, its retries before the first token, and timeouts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import httpx
import pytest
import respx

import farlabs
from farlabs import FarMesh, Timeout

from .helpers import (
    HELLO_WORLD,
    KEEP_ALIVE,
    Chunk,
    done,
    envelope,
    error_event,
    keep_alives,
    sse,
    token,
)

GENERATE = "/mesh/inference/generate"


def bodies(*attempts: Sequence[Chunk]) -> Callable[[httpx.Request], httpx.Response]:
    """One fresh streaming response per attempt, in order."""
    queue = list(attempts)
    return lambda request: sse(queue.pop(0))


def test_tokens_then_summary(mock: respx.MockRouter) -> None:
    route = mock.post(GENERATE).mock(side_effect=bodies([KEEP_ALIVE, *HELLO_WORLD]))
    with FarMesh() as mesh:
        stream = mesh.chat_stream("Explain quantum computing", max_tokens=2)
        assert list(stream) == ["Hello", " world"]
    assert stream.text == "Hello world"
    assert stream.cost_far == Decimal("0.0002")
    assert stream.usage.total_tokens == 11 and stream.finish_reason == "length"
    assert stream.request_id == "test_001"
    assert [hop.peer_id for hop in stream.route] == ["12D3KooA", "12D3KooB"]
    assert stream.response is not None and stream.response.session_id == "sess_1"
    request = route.calls.last.request
    assert request.headers["accept"] == "text/event-stream"
    assert b'"stream":true' in request.content.replace(b" ", b"")


def test_typed_events(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(side_effect=bodies(HELLO_WORLD))
    with FarMesh() as mesh, mesh.chat_stream("hi") as stream:
        events = list(stream.events())
    assert [type(e).__name__ for e in events] == ["TokenEvent", "TokenEvent", "DoneEvent"]
    first, last = events[0], events[-1]
    assert isinstance(first, farlabs.TokenEvent) and first.tokens_generated == 1
    assert first.cost_far == Decimal("0.0001")
    assert isinstance(last, farlabs.DoneEvent) and last.response.text == "Hello world"


def test_get_final_response(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(side_effect=bodies(HELLO_WORLD))
    with FarMesh() as mesh, mesh.chat_stream("hi") as stream:
        assert stream.get_final_response().usage.completion_tokens == 2


def test_http_error_raised_at_the_call(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(return_value=envelope(401, "authentication_error", "invalid_key"))
    with FarMesh(api_key="fl_bad") as mesh, pytest.raises(farlabs.AuthenticationError) as info:
        mesh.chat_stream("hi")  # no iteration needed
    assert info.value.request_id == "req_err" and info.value.status_code == 401


def test_early_close_keeps_what_is_known(mock: respx.MockRouter) -> None:
    many = [token(f"t{i}", i + 1, f"0.000{i + 1}") for i in range(5)] + [done()]
    mock.post(GENERATE).mock(side_effect=bodies(many))
    with FarMesh() as mesh:
        with mesh.chat_stream("hi") as stream:
            for i, _ in enumerate(stream):
                if i == 1:
                    break
        assert stream._response.is_closed
    assert stream.text == "t0t1"
    assert stream.finish_reason == "cancelled"
    assert stream.usage.completion_tokens == 2 and stream.usage.prompt_tokens is None
    assert stream.cost_far == Decimal("0.0002")
    assert stream.request_id == "test_001" and stream.route == []
    assert list(stream) == []  # a closed stream yields nothing more


def test_request_id_from_header_before_any_token(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(side_effect=bodies(HELLO_WORLD))
    with FarMesh() as mesh:
        stream = mesh.chat_stream("hi")
        assert stream.request_id == "req_header"
        stream.close()
    assert stream.finish_reason == "cancelled" and stream.text == ""


def test_error_event_mid_stream_raises_the_same_class(mock: respx.MockRouter) -> None:
    body = [token("Hel", 1, "0.0001"), error_event("overloaded_error", "no_capacity")]
    route = mock.post(GENERATE).mock(side_effect=bodies(body))
    with FarMesh() as mesh, pytest.raises(farlabs.OverloadedError) as info:
        for _ in mesh.chat_stream("hi"):
            pass
    error = info.value
    assert route.call_count == 1  # a token had flowed: no retry
    assert (error.code, error.status_code, error.request_id) == ("no_capacity", 503, "test_001")
    assert error.partial_text == "Hel"


def test_stream_interrupted_carries_partial_text(mock: respx.MockRouter) -> None:
    body = [
        token("Quan", 1, "0.0001"),
        error_event("stream_interrupted", "route_lost", partial_text="Quan"),
    ]
    mock.post(GENERATE).mock(side_effect=bodies(body))
    with FarMesh() as mesh:
        stream = mesh.chat_stream("hi")
        with pytest.raises(farlabs.StreamInterruptedError) as info:
            list(stream)
    assert info.value.partial_text == "Quan" and stream.text == "Quan"


def test_retry_before_the_first_token(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post(GENERATE).mock(
        side_effect=bodies(
            [KEEP_ALIVE, error_event("overloaded_error", "no_capacity")],
            [KEEP_ALIVE],  # connection ends with no event at all
            HELLO_WORLD,
        )
    )
    with FarMesh() as mesh, mesh.chat_stream("hi") as stream:
        assert "".join(stream) == "Hello world"
    assert route.call_count == 3 and len(sleeps) == 2
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert len(keys) == 1


def test_no_retry_after_the_first_token(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post(GENERATE).mock(side_effect=bodies([token("Hel", 1, "0.0001")], HELLO_WORLD))
    with FarMesh() as mesh, pytest.raises(farlabs.APIConnectionError) as info:
        list(mesh.chat_stream("hi"))
    assert route.call_count == 1 and sleeps == []
    assert info.value.code == "incomplete_stream" and info.value.partial_text == "Hel"


def test_non_retryable_error_event_before_first_token(mock: respx.MockRouter) -> None:
    body = [error_event("context_length_exceeded", "context_length_exceeded")]
    route = mock.post(GENERATE).mock(side_effect=bodies(body))
    with FarMesh() as mesh, pytest.raises(farlabs.ContextLengthExceededError):
        list(mesh.chat_stream("hi"))
    assert route.call_count == 1


def test_stall_between_chunks_with_keep_alives(mock: respx.MockRouter) -> None:
    # Keep-alives keep arriving, but no token: the idle limit still applies.
    body: list[Chunk] = [token("Hel", 1, "0.0001"), *keep_alives(100)]
    mock.post(GENERATE).mock(side_effect=bodies(body))
    with FarMesh(timeout=Timeout(idle=0.2)) as mesh, pytest.raises(farlabs.APITimeoutError) as info:
        list(mesh.chat_stream("hi"))
    assert info.value.kind == "idle" and info.value.partial_text == "Hel"


def test_stall_before_first_token_is_retried(mock: respx.MockRouter, sleeps: list[float]) -> None:
    stalled = keep_alives(100)
    route = mock.post(GENERATE).mock(side_effect=bodies(stalled, HELLO_WORLD))
    with FarMesh(timeout=Timeout(idle=0.2)) as mesh:
        assert "".join(mesh.chat_stream("hi")) == "Hello world"
    assert route.call_count == 2


def test_deadline_across_the_stream(mock: respx.MockRouter) -> None:
    body: list[Chunk] = [token("Hel", 1, "0.0001"), *keep_alives(100)]
    mock.post(GENERATE).mock(side_effect=bodies(body))
    timeout = Timeout(idle=30, total=0.3)
    with FarMesh(timeout=timeout) as mesh, pytest.raises(farlabs.APITimeoutError) as info:
        list(mesh.chat_stream("hi"))
    assert info.value.kind == "total"


def test_malformed_event(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(side_effect=bodies([b"data: {not json\n\n"]))
    with FarMesh() as mesh, pytest.raises(farlabs.InternalServerError) as info:
        list(mesh.chat_stream("hi"))
    assert info.value.code == "malformed_event"


def test_unknown_events_are_skipped(mock: respx.MockRouter) -> None:
    body = [b'event: progress\ndata: {"pct": 5}\n\n', b'data: {"note": 1}\n\n', *HELLO_WORLD]
    mock.post(GENERATE).mock(side_effect=bodies(body))
    with FarMesh() as mesh:
        assert list(mesh.chat_stream("hi")) == ["Hello", " world"]


def test_chunk_boundaries_anywhere_and_utf8(mock: respx.MockRouter) -> None:
    # The wire may cut lines, and multi-byte characters, at any byte.
    whole = b"".join(
        [token("量子", 1, "0.0001"), KEEP_ALIVE, token(" é", 2, "0.0002"), done(text="量子 é")]
    )
    pieces: list[Chunk] = [whole[i : i + 3] for i in range(0, len(whole), 3)]
    mock.post(GENERATE).mock(side_effect=bodies(pieces))
    with FarMesh() as mesh, mesh.chat_stream("hi") as stream:
        assert list(stream) == ["量子", " é"]
    assert stream.text == "量子 é" and stream.finish_reason == "length"


def test_crlf_line_endings(mock: respx.MockRouter) -> None:
    body = [chunk.replace(b"\n", b"\r\n") for chunk in HELLO_WORLD]
    mock.post(GENERATE).mock(side_effect=bodies(body))
    with FarMesh() as mesh:
        assert "".join(mesh.chat_stream("hi")) == "Hello world"
