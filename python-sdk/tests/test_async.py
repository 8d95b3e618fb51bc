"""The async surface, under asyncio and trio: `AsyncFarMesh` and `FarMesh.*_async`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import httpx
import pytest
import respx

import farlabs
from farlabs import AsyncFarMesh, FarMesh, Timeout

from .helpers import HELLO_WORLD, KEEP_ALIVE, Chunk, envelope, error_event, keep_alives, sse, token

pytestmark = pytest.mark.anyio
GENERATE = "/mesh/inference/generate"
DONE_JSON = {
    "request_id": "r1",
    "finish_reason": "stop",
    "text": "Hi there",
    "cost_far": "0.0002",
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    "route": [],
}


def bodies(*attempts: Sequence[Chunk]) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(attempts)
    return lambda request: sse(queue.pop(0), is_async=True)


async def test_chat(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(return_value=httpx.Response(200, json=DONE_JSON))
    async with AsyncFarMesh(api_key="fl_x") as mesh:
        response = await mesh.chat("hi")
        again = await mesh.chat_async("hi")
    assert response.text == again.text == "Hi there"
    assert response.cost_far == Decimal("0.0002")


async def test_plan_snippet_on_the_sync_client(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(side_effect=bodies(HELLO_WORLD))
    mesh = FarMesh(api_key="fl_x")
    tokens = [t async for t in mesh.chat_stream_async("...")]
    assert tokens == ["Hello", " world"]
    mock.post(GENERATE).mock(return_value=httpx.Response(200, json=DONE_JSON))
    assert (await mesh.chat_async("hi")).text == "Hi there"
    mesh.close()


async def test_stream_awaited_then_iterated(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(side_effect=bodies([KEEP_ALIVE, *HELLO_WORLD]))
    async with AsyncFarMesh() as mesh:
        stream = await mesh.chat("hi", stream=True)
        assert isinstance(stream, farlabs.AsyncStream) and stream.request_id == "req_header"
        assert [t async for t in stream] == ["Hello", " world"]
    assert stream.text == "Hello world" and stream.finish_reason == "length"
    assert stream.usage.total_tokens == 11 and stream.cost_far == Decimal("0.0002")
    assert len(stream.route) == 2


async def test_typed_events_and_context_manager(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(side_effect=bodies(HELLO_WORLD))
    async with AsyncFarMesh() as mesh, mesh.chat_stream("hi") as stream:
        kinds = [event.type async for event in stream.events()]
    assert kinds == ["token", "token", "done"]


async def test_http_error_at_await(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(return_value=envelope(403, "permission_error", "forbidden"))
    async with AsyncFarMesh() as mesh:
        with pytest.raises(farlabs.PermissionDeniedError):
            await mesh.chat_stream("hi")
        # Iterating an unopened stream opens it first: the error still comes before any token.
        with pytest.raises(farlabs.PermissionDeniedError):
            async for _ in mesh.chat_stream("hi"):
                pytest.fail("no token expected")


async def test_retries_keep_the_idempotency_key(
    mock: respx.MockRouter, sleeps: list[float]
) -> None:
    route = mock.post(GENERATE).mock(
        side_effect=[
            envelope(429, "rate_limit_error", "rate_limited", headers={"retry-after": "1.5"}),
            httpx.ReadError("reset"),
            sse(HELLO_WORLD, is_async=True),
        ]
    )
    async with AsyncFarMesh() as mesh:
        assert "".join([t async for t in mesh.chat_stream("hi")]) == "Hello world"
    assert route.call_count == 3 and sleeps[0] == 1.5
    assert len({c.request.headers["idempotency-key"] for c in route.calls}) == 1


async def test_retry_before_first_token_only(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post(GENERATE).mock(
        side_effect=bodies(
            [error_event("api_error", "internal")], [token("Hel", 1, "0.0001")], HELLO_WORLD
        )
    )
    async with AsyncFarMesh() as mesh:
        stream = mesh.chat_stream("hi")
        with pytest.raises(farlabs.APIConnectionError) as info:
            async for _ in stream:
                pass
    # Attempt 1 failed before any token (retried); attempt 2 broke after one (not retried).
    assert route.call_count == 2 and info.value.partial_text == "Hel"
    assert stream.text == "Hel"


async def test_error_event_mid_stream(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(
        side_effect=bodies(
            [
                token("Quan", 1, "0.0001"),
                error_event("stream_interrupted", "lost", partial_text="Quan"),
            ]
        )
    )
    async with AsyncFarMesh() as mesh:
        with pytest.raises(farlabs.StreamInterruptedError) as info:
            async for _ in mesh.chat_stream("hi"):
                pass
    assert info.value.partial_text == "Quan" and info.value.request_id == "test_001"


async def test_silent_stall_is_cut_at_the_idle_limit(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).mock(side_effect=bodies([token("Hel", 1, "0.0001"), 30.0, *HELLO_WORLD]))
    async with AsyncFarMesh(timeout=Timeout(idle=0.2)) as mesh:
        with pytest.raises(farlabs.APITimeoutError) as info:
            async for _ in mesh.chat_stream("hi"):
                pass
    assert info.value.kind == "idle" and info.value.partial_text == "Hel"


async def test_keep_alives_do_not_reset_the_idle_limit(mock: respx.MockRouter) -> None:
    body: list[Chunk] = [token("Hel", 1, "0.0001"), *keep_alives(500)]
    mock.post(GENERATE).mock(side_effect=bodies(body))
    async with AsyncFarMesh(timeout=Timeout(idle=0.2)) as mesh:
        with pytest.raises(farlabs.APITimeoutError) as info:
            async for _ in mesh.chat_stream("hi"):
                pass
    assert info.value.kind == "idle"


async def test_deadline(mock: respx.MockRouter) -> None:
    body: list[Chunk] = [token("Hel", 1, "0.0001"), 30.0]
    mock.post(GENERATE).mock(side_effect=bodies(body))
    async with AsyncFarMesh(timeout=Timeout(idle=20, total=0.3)) as mesh:
        with pytest.raises(farlabs.APITimeoutError) as info:
            async for _ in mesh.chat_stream("hi"):
                pass
    assert info.value.kind == "total"


async def test_deadline_while_waiting_for_headers(mock: respx.MockRouter) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        import anyio

        await anyio.sleep(30)
        return httpx.Response(200, json=DONE_JSON)

    mock.post(GENERATE).mock(side_effect=slow)
    async with AsyncFarMesh(timeout=0.3) as mesh:
        with pytest.raises(farlabs.APITimeoutError) as info:
            await mesh.chat("hi")
    assert info.value.kind == "total"


async def test_early_close(mock: respx.MockRouter) -> None:
    many = [token(f"t{i}", i + 1, f"0.000{i + 1}") for i in range(5)]
    mock.post(GENERATE).mock(side_effect=bodies(many))
    async with AsyncFarMesh() as mesh, mesh.chat_stream("hi") as stream:
        async for tok in stream:
            if tok == "t2":
                break
    assert stream.text == "t0t1t2" and stream.finish_reason == "cancelled"
    assert stream.usage.completion_tokens == 3 and stream.cost_far == Decimal("0.0003")
    assert stream._response is not None and stream._response.is_closed


async def test_with_options_and_own_http_client(
    mock: respx.MockRouter, sleeps: list[float]
) -> None:
    route = mock.post(GENERATE).mock(return_value=envelope(503, "overloaded_error", "no_capacity"))
    async with httpx.AsyncClient() as http_client:
        async with AsyncFarMesh(http_client=http_client) as mesh:
            hasty = mesh.with_options(max_retries=0)
            with pytest.raises(farlabs.OverloadedError):
                await hasty.chat("hi")
            assert route.call_count == 1 and mesh.max_retries == 2
        assert not http_client.is_closed  # the caller's client stays the caller's
