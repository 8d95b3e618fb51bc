"""`farlabs chat` and `farlabs models`, run in-process against a mocked server."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import httpx
import pytest
import respx

from farlabs.cli import main

from .helpers import HELLO_WORLD, envelope, sse, token


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def streamed(chunks: list[bytes]) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: sse(chunks)


def test_chat_streams_to_stdout(mock: respx.MockRouter) -> None:
    route = mock.post("/mesh/inference/generate").mock(side_effect=streamed(HELLO_WORLD))
    status, out, err = run("chat", "Explain quantum computing", "-n", "2", "-t", "0", "-v")
    assert status == 0 and out == "Hello world\n"
    assert "0.0002 FAR" in err and "finish=length" in err and "12D3KooA[0:15)" in err
    body = json.loads(route.calls.last.request.content)
    assert body["max_tokens"] == 2 and body["temperature"] == 0 and body["stream"] is True


def test_chat_with_system_and_no_stream(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FARLABS_API_KEY", "fl_env")
    route = mock.post("/mesh/inference/generate").mock(
        return_value=httpx.Response(200, json={"text": "Hi!", "cost_far": "0.0001"})
    )
    status, out, _ = run("chat", "hello", "--system", "Be brief", "--no-stream")
    assert status == 0 and out == "Hi!\n"
    body = json.loads(route.calls.last.request.content)
    assert body["messages"][0] == {"role": "system", "content": "Be brief"}
    assert route.calls.last.request.headers["authorization"] == "Bearer fl_env"


def test_models(mock: respx.MockRouter) -> None:
    mock.get("/v1/models").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"id": "a/b", "object": "model", "created": 1, "owned_by": "farlabs"}],
            },
        )
    )
    assert run("models") == (0, "a/b\tfarlabs\n", "")


def test_api_error_exits_1(mock: respx.MockRouter) -> None:
    mock.post("/mesh/inference/generate").mock(
        return_value=envelope(401, "authentication_error", "invalid_key")
    )
    status, out, err = run("chat", "hi")
    assert status == 1 and out == ""
    assert "invalid_key" in err and "FARLABS_API_KEY" in err


def test_error_mid_stream_keeps_the_partial_text(mock: respx.MockRouter) -> None:
    mock.post("/mesh/inference/generate").mock(side_effect=streamed([token("Hel", 1, "0.0001")]))
    status, out, err = run("chat", "hi")
    assert status == 1 and out == "Hel\n" and "3 characters had arrived" in err


def test_bad_base_url_exits_2() -> None:
    status, _, err = run("--base-url", "ftp://x", "models")
    assert status == 2 and "base_url" in err


def test_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        run("chat")
    assert info.value.code == 2
