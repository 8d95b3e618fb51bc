from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

import farlabs
from farlabs._exceptions import error_from_envelope, error_from_response, parse_retry_after

TABLE = [
    ("invalid_request_error", 422, farlabs.BadRequestError),
    ("context_length_exceeded", 400, farlabs.ContextLengthExceededError),
    ("authentication_error", 401, farlabs.AuthenticationError),
    ("permission_error", 403, farlabs.PermissionDeniedError),
    ("not_found_error", 404, farlabs.NotFoundError),
    ("conflict_error", 409, farlabs.ConflictError),
    ("rate_limit_error", 429, farlabs.RateLimitError),
    ("api_error", 500, farlabs.InternalServerError),
    ("overloaded_error", 503, farlabs.OverloadedError),
    ("timeout_error", 504, farlabs.GatewayTimeoutError),
]


def _body(type_: str, code: str = "some_code", **extra: str) -> bytes:
    inner = {"type": type_, "code": code, "message": "nope", "request_id": "req_1", **extra}
    return json.dumps({"error": inner}).encode()


@pytest.mark.parametrize(("type_", "status", "cls"), TABLE)
def test_response_maps_by_type(type_: str, status: int, cls: type[Exception]) -> None:
    error = error_from_response(status, _body(type_, param="max_tokens"), {"x-request-id": "hdr"})
    assert type(error) is cls
    assert isinstance(error, farlabs.APIStatusError)
    assert (error.status_code, error.type, error.code, error.param) == (
        status,
        type_,
        "some_code",
        "max_tokens",
    )
    assert error.request_id == "req_1"  # the envelope's id wins over the header's
    assert "req_1" in str(error) and "some_code" in str(error)


def test_type_wins_over_status() -> None:
    # A context-length error arrives as a plain 400: the type decides the class.
    error = error_from_response(400, _body("context_length_exceeded"), {})
    assert isinstance(error, farlabs.ContextLengthExceededError)
    assert isinstance(error, farlabs.BadRequestError)


@pytest.mark.parametrize(("type_", "status", "cls"), TABLE)
def test_in_stream_error_gets_the_status_of_its_type(
    type_: str, status: int, cls: type[Exception]
) -> None:
    error = error_from_envelope({"type": type_, "code": "c", "message": "m"}, request_id="r")
    assert type(error) is cls
    assert error.status_code == (400 if type_ == "invalid_request_error" else status)
    assert error.request_id == "r"


def test_stream_interrupted_carries_partial_text() -> None:
    error = error_from_envelope(
        {"type": "stream_interrupted", "code": "no_route", "message": "m", "partial_text": "Quan"}
    )
    assert isinstance(error, farlabs.StreamInterruptedError)
    assert error.partial_text == "Quan"
    assert error.status_code is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (502, farlabs.InternalServerError),
        (404, farlabs.NotFoundError),
        (418, farlabs.BadRequestError),
        (503, farlabs.OverloadedError),
    ],
)
def test_non_envelope_body_falls_back_on_status(status: int, cls: type[Exception]) -> None:
    error = error_from_response(status, b"<html>Bad Gateway</html>", {"x-request-id": "hdr"})
    assert type(error) is cls
    assert error.status_code == status and error.request_id == "hdr"
    assert "Bad Gateway" in error.message


def test_unknown_type_falls_back_on_status() -> None:
    error = error_from_response(429, _body("brand_new_error"), {"retry-after": "3"})
    assert isinstance(error, farlabs.RateLimitError)
    assert error.retry_after == 3.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    seconds = parse_retry_after(later)
    assert seconds is not None and 25 < seconds <= 30


def test_timeout_error_is_a_connection_error() -> None:
    error = farlabs.APITimeoutError("slow", kind="idle")
    assert isinstance(error, farlabs.APIConnectionError)
    assert (error.kind, error.code, error.status_code) == ("idle", "idle_timeout", None)
