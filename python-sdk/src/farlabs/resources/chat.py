"""Generation: `POST /mesh/inference/generate`, whole answers and streams."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypedDict, cast

from .. import _constants as C
from .._base_client import (
    AsyncAPIClient,
    RequestSpec,
    SyncAPIClient,
    Timeout,
    new_idempotency_key,
)
from .._models import ChatResponse, Message
from .._streaming import AsyncStream, Stream

__all__ = ["AsyncChat", "Chat", "ChatInput", "ChatParams", "MessageParam", "build_chat_spec"]

MessageParam = Mapping[str, Any] | Message
ChatInput = str | Sequence[MessageParam]


class ChatParams(TypedDict, total=False):
    """Keyword arguments of every chat call (all optional; the server has the defaults)."""

    model: str
    """Model id (``model_id`` on the wire); default: the server's ``DEFAULT_MODEL_ID``."""
    max_tokens: int
    """1..4096; default 256."""
    temperature: float
    """0..2; 0 is greedy; default 0.7."""
    top_p: float
    """Nucleus sampling, (0, 1]."""
    stop: str | Sequence[str]
    """A stop sequence or up to 4 of them."""
    seed: int
    """Sampling seed, for repeatable output."""
    user_wallet: str
    """The end user's wallet, recorded with the session."""
    request_id: str
    """Your id for this request (also the idempotency key unless you give one)."""
    region: str
    """Preferred region of the serving node."""
    idempotency_key: str
    """Sent as `Idempotency-Key` on every attempt; default: request_id or a fresh key."""
    timeout: Timeout | float | None
    """This call's `Timeout`, or seconds for its overall deadline."""
    max_retries: int
    """This call's retry budget."""


def _messages(items: Sequence[MessageParam]) -> list[dict[str, Any]]:
    if not items:
        raise ValueError("messages must not be empty")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Message):
            out.append(item.model_dump(exclude_none=True))
            continue
        if not isinstance(item, Mapping):
            raise TypeError(f"messages[{i}] must be a dict or Message, got {type(item).__name__}")
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise TypeError(f"messages[{i}] needs a string 'role' and a string 'content'")
        out.append(dict(item))
    return out


def build_chat_spec(
    input: ChatInput,
    *,
    stream: bool,
    model: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    stop: str | Sequence[str] | None = None,
    seed: int | None = None,
    user_wallet: str | None = None,
    request_id: str | None = None,
    region: str | None = None,
    idempotency_key: str | None = None,
    timeout: Timeout | float | None = None,
    max_retries: int | None = None,
) -> RequestSpec:
    """The request for one generation. Types are checked here; ranges are the server's to
    judge (its 422 names the field), so the SDK never disagrees with the server's limits."""
    body: dict[str, Any] = {}
    if isinstance(input, str):
        if not input:
            raise ValueError("prompt must not be empty")
        # A chat method: the string is one user message, answered through the model's chat template.
        body["messages"] = [{"role": "user", "content": input}]
    elif isinstance(input, Sequence):
        body["messages"] = _messages(cast(Sequence[MessageParam], input))
    else:
        raise TypeError(
            f"chat input must be a prompt string or a list of messages, got {type(input).__name__}"
        )
    for name, value, kind in (
        ("max_tokens", max_tokens, int),
        ("seed", seed, int),
        ("temperature", temperature, (int, float)),
        ("top_p", top_p, (int, float)),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise TypeError(f"{name} must be a number, got {value!r}")
    if stop is not None and not isinstance(stop, str):
        stop = list(stop)
        if not all(isinstance(s, str) for s in stop):
            raise TypeError("stop must be a string or a list of strings")
    optional = {
        "model_id": model,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "stop": stop,
        "seed": seed,
        "user_wallet": user_wallet,
        "request_id": request_id,
        "region": region,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    body["stream"] = stream
    return RequestSpec(
        method="POST",
        path=C.GENERATE_PATH,
        json_body=body,
        stream=stream,
        # One key for every attempt of this call, so a retry is never charged twice; the
        # protocol makes the key the request id when the body has none.
        idempotency_key=idempotency_key or request_id or new_idempotency_key(),
        timeout=None if timeout is None else Timeout.coerce(timeout),
        max_retries=max_retries,
    )


class Chat:
    """Blocking generation calls."""

    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client

    def create(self, spec: RequestSpec) -> ChatResponse:
        """Generate a whole answer (`"stream": false`)."""
        return ChatResponse.model_validate(self._client.request_json(spec))

    def stream(self, spec: RequestSpec) -> Stream:
        """Open a stream; HTTP errors are raised here, before any iteration."""
        response, timeout, retry = self._client.send(spec)
        return Stream(
            client=self._client, spec=spec, response=response, timeout=timeout, retry=retry
        )


class AsyncChat:
    """Async generation calls."""

    def __init__(
        self, client: AsyncAPIClient, on_close: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._client = client
        self._on_close = on_close

    async def create(self, spec: RequestSpec) -> ChatResponse:
        """Generate a whole answer (`"stream": false`)."""
        return ChatResponse.model_validate(await self._client.request_json(spec))

    def stream(self, spec: RequestSpec) -> AsyncStream:
        """A stream to `await` (opens it, raising HTTP errors there) or `async for` at once."""
        return AsyncStream(client=self._client, spec=spec, on_close=self._on_close)
