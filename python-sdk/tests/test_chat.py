"""`FarMesh.chat`: the whole-answer call, its retries and errors, and client configuration."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
import respx

import farlabs
from farlabs import FarMesh, Timeout

from .helpers import BASE_URL, done, envelope, sent_json

DONE_JSON = {
    "request_id": "test_001",
    "session_id": "s1",
    "model_id": "m",
    "finish_reason": "stop",
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    "cost_far": "0.0003",
    "text": "Quantum is fun",
    "route": [{"node_id": "n1", "peer_id": "12D3KooA", "start_block": 0, "end_block": 30}],
    "time_to_first_token_ms": 12.5,
}
OK = httpx.Response(200, json=DONE_JSON)


def test_chat_returns_the_full_response(mock: respx.MockRouter) -> None:
    route = mock.post("/mesh/inference/generate").mock(return_value=OK)
    with FarMesh(api_key="fl_test") as mesh:
        response = mesh.chat(
            "Explain quantum computing",
            model="m",
            max_tokens=3,
            temperature=0,
            top_p=0.9,
            stop="\n\n",
            seed=42,
            user_wallet="0xabc",
        )
    assert response.text == "Quantum is fun"
    assert response.cost_far == Decimal("0.0003") and isinstance(response.cost_far, Decimal)
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (9, 3)
    assert response.finish_reason == "stop" and response.request_id == "test_001"
    assert response.route[0].peer_id == "12D3KooA" and response.route[0].end_block == 30
    body = sent_json(route.calls.last)
    assert body == {
        "messages": [{"role": "user", "content": "Explain quantum computing"}],
        "model_id": "m",
        "max_tokens": 3,
        "temperature": 0,
        "top_p": 0.9,
        "stop": "\n\n",
        "seed": 42,
        "user_wallet": "0xabc",
        "stream": False,
    }
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer fl_test"
    assert request.headers["idempotency-key"].startswith("req_")


def test_messages_and_request_id(mock: respx.MockRouter) -> None:
    route = mock.post("/mesh/inference/generate").mock(return_value=OK)
    messages: list[dict[str, str] | farlabs.Message] = [
        {"role": "system", "content": "Be brief"},
        farlabs.Message(role="user", content="Hi"),
    ]
    with FarMesh() as mesh:
        mesh.chat(messages, request_id="my_req")
    body = sent_json(route.calls.last)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Hi"},
    ]
    assert "prompt" not in body and body["request_id"] == "my_req"
    # With a request id and no explicit key, the request id is the idempotency key.
    assert route.calls.last.request.headers["idempotency-key"] == "my_req"


@pytest.mark.parametrize(
    ("call_input", "params", "error", "match"),
    [
        (42, {}, TypeError, "prompt string or a list"),
        ("", {}, ValueError, "prompt must not be empty"),
        ([], {}, ValueError, "messages must not be empty"),
        ([{"role": "user"}], {}, TypeError, r"messages\[0\]"),
        (["hi"], {}, TypeError, r"messages\[0\]"),
        ("hi", {"max_tokens": True}, TypeError, "max_tokens"),
        ("hi", {"temperature": "hot"}, TypeError, "temperature"),
        ("hi", {"stop": [1]}, TypeError, "stop"),
        ("hi", {"timeout": -1}, ValueError, "timeout"),
    ],
)
def test_bad_input_is_refused_before_sending(
    mock: respx.MockRouter,
    call_input: object,
    params: dict[str, object],
    error: type[Exception],
    match: str,
) -> None:
    route = mock.post("/mesh/inference/generate").mock(return_value=OK)
    with FarMesh() as mesh, pytest.raises(error, match=match):
        mesh.chat(call_input, **params)  # type: ignore[call-overload]
    assert not route.called


def test_retries_keep_the_idempotency_key(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post("/mesh/inference/generate").mock(
        side_effect=[
            envelope(503, "overloaded_error", "no_capacity"),
            httpx.ConnectError("refused"),
            OK,
        ]
    )
    with FarMesh() as mesh:
        assert mesh.chat("hi").text == "Quantum is fun"
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert route.call_count == 3 and len(keys) == 1
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps)


def test_retry_after_is_honoured(mock: respx.MockRouter, sleeps: list[float]) -> None:
    mock.post("/mesh/inference/generate").mock(
        side_effect=[
            envelope(429, "rate_limit_error", "rate_limited", headers={"retry-after": "2"}),
            OK,
        ]
    )
    with FarMesh() as mesh:
        mesh.chat("hi")
    assert sleeps == [2.0]


def test_retry_after_beyond_the_cap_is_raised(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post("/mesh/inference/generate").mock(
        return_value=envelope(
            429, "rate_limit_error", "rate_limited", headers={"retry-after": "3600"}
        )
    )
    with FarMesh() as mesh, pytest.raises(farlabs.RateLimitError) as info:
        mesh.chat("hi")
    assert info.value.retry_after == 3600 and route.call_count == 1 and sleeps == []


def test_gives_up_after_max_retries(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post("/mesh/inference/generate").mock(side_effect=httpx.ConnectError("refused"))
    with FarMesh(max_retries=3) as mesh, pytest.raises(farlabs.APIConnectionError) as info:
        mesh.chat("hi")
    assert route.call_count == 4 and len(sleeps) == 3
    assert info.value.code == "connection_error" and info.value.status_code is None
    assert "http://127.0.0.1:8100" in str(info.value)


def test_per_call_max_retries(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post("/mesh/inference/generate").mock(
        return_value=envelope(500, "api_error", "internal")
    )
    with FarMesh() as mesh, pytest.raises(farlabs.InternalServerError):
        mesh.chat("hi", max_retries=0)
    assert route.call_count == 1


def test_client_errors_are_not_retried_and_carry_details(mock: respx.MockRouter) -> None:
    route = mock.post("/mesh/inference/generate").mock(
        return_value=envelope(422, "invalid_request_error", "validation_error", param="max_tokens")
    )
    with FarMesh() as mesh, pytest.raises(farlabs.BadRequestError) as info:
        mesh.chat("hi", max_tokens=99999)
    error = info.value
    assert route.call_count == 1
    assert (error.status_code, error.code, error.param, error.request_id) == (
        422,
        "validation_error",
        "max_tokens",
        "req_err",
    )


def test_missing_key_hint(mock: respx.MockRouter) -> None:
    mock.post("/mesh/inference/generate").mock(
        return_value=envelope(401, "authentication_error", "missing_credentials")
    )
    with FarMesh() as mesh, pytest.raises(farlabs.AuthenticationError, match="FARLABS_API_KEY"):
        mesh.chat("hi")


def test_deadline_stops_retries(mock: respx.MockRouter, sleeps: list[float]) -> None:
    # Waiting out Retry-After would pass the 1 s deadline: raise now instead.
    route = mock.post("/mesh/inference/generate").mock(
        return_value=envelope(503, "overloaded_error", "no_capacity", headers={"retry-after": "5"})
    )
    with FarMesh(timeout=Timeout(total=1.0)) as mesh, pytest.raises(farlabs.OverloadedError):
        mesh.chat("hi")
    assert route.call_count == 1 and sleeps == []


def test_environment_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARLABS_API_KEY", "fl_env")
    monkeypatch.setenv("FARLABS_BASE_URL", "http://127.0.0.1:9999")
    with respx.mock() as router, FarMesh() as mesh:
        route = router.post("http://127.0.0.1:9999/mesh/inference/generate").mock(return_value=OK)
        mesh.chat("hi")
        assert mesh.base_url == "http://127.0.0.1:9999"
    assert route.calls.last.request.headers["authorization"] == "Bearer fl_env"
    with FarMesh(api_key="fl_arg", base_url=BASE_URL) as mesh:
        assert (mesh.api_key, mesh.base_url) == ("fl_arg", BASE_URL)


@pytest.mark.parametrize("bad", ["ftp://host", "localhost:8100", "http://"])
def test_bad_base_url(bad: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        FarMesh(base_url=bad)


def test_with_options_shares_the_pool(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post("/mesh/inference/generate").mock(
        return_value=envelope(503, "overloaded_error", "no_capacity")
    )
    with FarMesh(api_key="fl_a") as mesh:
        patient = mesh.with_options(max_retries=5, api_key="fl_b")
        assert patient.max_retries == 5 and mesh.max_retries == 2
        with pytest.raises(farlabs.OverloadedError):
            patient.chat("hi")
        assert route.call_count == 6
        assert route.calls.last.request.headers["authorization"] == "Bearer fl_b"
        patient.close()  # does not close the shared pool
        mock.post("/mesh/inference/generate").mock(return_value=OK)
        assert mesh.chat("hi").text == "Quantum is fun"


def test_custom_http_client_is_used_and_left_open(mock: respx.MockRouter) -> None:
    route = mock.post("/mesh/inference/generate").mock(return_value=OK)
    http_client = httpx.Client(headers={"X-Proxy-Tag": "corp"})
    with FarMesh(http_client=http_client, default_headers={"X-App": "demo"}) as mesh:
        mesh.chat("hi")
    assert route.calls.last.request.headers["x-proxy-tag"] == "corp"
    assert route.calls.last.request.headers["x-app"] == "demo"
    assert not http_client.is_closed
    http_client.close()


def test_stream_flag_overload(mock: respx.MockRouter) -> None:
    from .helpers import sse, token

    mock.post("/mesh/inference/generate").mock(
        side_effect=lambda request: sse([token("Hi", 1, "0.0001"), done(text="Hi")])
    )
    with FarMesh() as mesh, mesh.chat("hi", stream=True) as stream:
        assert isinstance(stream, farlabs.Stream)
        assert list(stream) == ["Hi"]


def test_with_options_validates_and_merges_headers() -> None:
    with FarMesh(default_headers={"X-A": "1"}) as mesh:
        with pytest.raises(ValueError, match="max_retries"):
            mesh.with_options(max_retries=-1)
        with pytest.raises(ValueError, match="base_url"):
            mesh.with_options(base_url="nope")
        copy = mesh.with_options(default_headers={"X-B": "2"}, timeout=5)
        assert copy._options.default_headers == {"X-A": "1", "X-B": "2"}
        assert copy.timeout.total == 5 and mesh.timeout.total == 600


def test_a_non_json_answer_is_a_clear_error(mock: respx.MockRouter) -> None:
    mock.get("/v1/models").mock(
        return_value=httpx.Response(200, text="<html>captive portal</html>")
    )
    with FarMesh() as mesh, pytest.raises(farlabs.InternalServerError) as info:
        mesh.models.list()
    assert info.value.code == "malformed_response" and "captive portal" in str(info.value)
