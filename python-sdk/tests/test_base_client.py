from __future__ import annotations

import pytest

import farlabs
from farlabs import _constants as C
from farlabs._base_client import (
    ClientOptions,
    Deadline,
    RequestSpec,
    RetryController,
    Timeout,
    backoff_delay,
    build_headers,
)


def _options(api_key: str | None = "fl_secret") -> ClientOptions:
    return ClientOptions(api_key=api_key, base_url="http://x", timeout=Timeout(), max_retries=2)


def test_backoff_grows_is_jittered_and_capped() -> None:
    for retries_done in range(8):
        base = min(C.INITIAL_RETRY_DELAY_S * 2**retries_done, C.MAX_RETRY_DELAY_S)
        delays = {backoff_delay(retries_done) for _ in range(50)}
        assert all(base / 2 <= d <= base for d in delays)
        assert len(delays) > 1  # jittered, so clients do not retry in lockstep


def test_retry_budget_and_retryable_kinds() -> None:
    retry = RetryController(2, Deadline(None))
    overloaded = farlabs.OverloadedError("busy", status_code=503, type="overloaded_error")
    assert retry.delay_before_retry(overloaded) is not None
    assert retry.delay_before_retry(farlabs.APIConnectionError("reset")) is not None
    assert retry.delay_before_retry(overloaded) is None  # budget spent


@pytest.mark.parametrize(
    "error",
    [
        farlabs.BadRequestError("bad", status_code=422, type="invalid_request_error"),
        farlabs.AuthenticationError("who", status_code=401, type="authentication_error"),
        farlabs.StreamInterruptedError("cut"),
        farlabs.APITimeoutError("late", kind="total"),
    ],
)
def test_not_retried(error: farlabs.FarLabsError) -> None:
    assert RetryController(5, Deadline(None)).delay_before_retry(error) is None


@pytest.mark.parametrize("status", sorted(C.RETRYABLE_STATUS_CODES))
def test_retryable_statuses_without_envelope(status: int) -> None:
    error = farlabs.InternalServerError("x", status_code=status)
    assert RetryController(1, Deadline(None)).delay_before_retry(error) is not None


def test_retry_after_honoured_within_cap_only() -> None:
    retry = RetryController(5, Deadline(None))
    assert (
        retry.delay_before_retry(farlabs.RateLimitError("slow", status_code=429, retry_after=7))
        == 7
    )
    too_long = farlabs.RateLimitError("slow", status_code=429, retry_after=C.MAX_RETRY_AFTER_S + 1)
    assert retry.delay_before_retry(too_long) is None


def test_no_retry_that_would_overrun_the_deadline() -> None:
    retry = RetryController(5, Deadline(1.0))
    error = farlabs.OverloadedError("busy", status_code=503, retry_after=5)
    assert retry.delay_before_retry(error) is None


def test_timeout_coerce() -> None:
    assert Timeout.coerce(30) == Timeout(connect=10.0, idle=30.0, total=30.0)
    assert Timeout.coerce(2.5) == Timeout(connect=2.5, idle=2.5, total=2.5)
    assert Timeout.coerce(None) == Timeout(None, None, None)
    custom = Timeout(connect=1, idle=2, total=3)
    assert Timeout.coerce(custom) is custom
    for bad in (0, -1, True, "10"):
        with pytest.raises(ValueError, match="timeout"):
            Timeout.coerce(bad)  # type: ignore[arg-type]


def test_headers() -> None:
    spec = RequestSpec("POST", "/p", stream=True, idempotency_key="key_1")
    headers = build_headers(_options(), spec)
    assert headers["Authorization"] == "Bearer fl_secret"
    assert headers["Idempotency-Key"] == "key_1"
    assert headers["Accept"] == "text/event-stream"
    assert headers["User-Agent"] == f"farlabs-python/{farlabs.__version__}"
    assert "Authorization" not in build_headers(_options(None), RequestSpec("GET", "/p"))


def test_options_repr_hides_the_key() -> None:
    assert "fl_secret" not in repr(_options())
    assert "fl_secret" not in repr(farlabs.FarMesh(api_key="fl_secret"))
