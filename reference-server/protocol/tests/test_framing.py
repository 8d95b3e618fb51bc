"""SSE framing, the error envelope and the shared limits, against tests/vectors/wire_framing.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from farlabs_protocol import MAX_STOP_SEQUENCES, MAX_TOKENS, GatewayRequest, error_envelope, sse_event

FRAMING: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "tests" / "vectors" / "wire_framing.json").read_text())


@pytest.mark.parametrize("case", FRAMING["events"])
def test_sse_events_are_framed_as_documented(case: dict[str, Any]) -> None:
    assert sse_event(case["data"], case["event"]) == case["text"]


@pytest.mark.parametrize("case", FRAMING["envelopes"])
def test_error_envelopes_are_shaped_as_documented(case: dict[str, Any]) -> None:
    args = dict(case["args"])
    param = args.pop("param", None)
    assert error_envelope(args["type"], args["code"], args["message"], args["request_id"], param=param) == case["json"]


def test_an_event_carries_newlines_inside_one_data_line() -> None:
    text = sse_event({"token": "a\nb\r\n"})
    assert text.count("\n") == 2 and text.endswith("\n\n")  # JSON escapes them: one data line, one blank line


def test_gateway_request_limits() -> None:
    GatewayRequest(prompt="hi", max_tokens=MAX_TOKENS, stop=["x"] * MAX_STOP_SEQUENCES)
    bad: list[dict[str, Any]] = [
        {"prompt": "hi", "max_tokens": MAX_TOKENS + 1},
        {"prompt": "hi", "stop": ["x"] * (MAX_STOP_SEQUENCES + 1)},
        {"prompt": "hi", "stop": [""]},
        {"prompt": "hi", "messages": [{"role": "user", "content": "hi"}]},
        {},
        {"messages": []},
        {"prompt": "hi", "max_tokens": 2, "prefix_token_ids": [1, 2, 3]},
        {"prompt": "hi", "prefix_token_ids": [-1]},
    ]
    for body in bad:
        with pytest.raises(ValidationError):
            GatewayRequest.model_validate(body)


def test_gateway_request_takes_one_stop_string_and_ignores_unknown_fields() -> None:
    req = GatewayRequest.model_validate({"prompt": "hi", "stop": "END", "future_field": 1})
    assert req.stop == ["END"]
