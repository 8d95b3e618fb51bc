"""The public clients: `FarMesh` (blocking, with async helpers) and `AsyncFarMesh`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from . import _constants as C
from ._base_client import AsyncAPIClient, ClientOptions, SyncAPIClient, Timeout
from ._models import ChatResponse
from ._streaming import AsyncStream, Stream
from .resources.chat import AsyncChat, Chat, ChatInput, ChatParams, build_chat_spec
from .resources.models import AsyncModels, Models
from .resources.provider import AsyncProvider, Provider, check_wallet

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing-only: not a runtime dependency

__all__ = ["AsyncFarMesh", "FarMesh"]

_NOT_GIVEN: Any = object()


def _resolve_options(
    api_key: str | None,
    base_url: str | None,
    timeout: Timeout | float | None,
    max_retries: int,
    default_headers: Mapping[str, str] | None,
) -> ClientOptions:
    if api_key is None:
        api_key = os.environ.get(C.ENV_API_KEY) or None
    if base_url is None:
        base_url = os.environ.get(C.ENV_BASE_URL) or C.DEFAULT_BASE_URL
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    return ClientOptions(
        api_key=api_key,
        base_url=str(url),
        timeout=Timeout() if timeout is _NOT_GIVEN else Timeout.coerce(timeout),
        max_retries=max_retries,
        default_headers=dict(default_headers or {}),
    )


def _copy_options(
    options: ClientOptions,
    api_key: str | None,
    base_url: str | None,
    timeout: Timeout | float | None,
    max_retries: int | None,
    default_headers: Mapping[str, str] | None,
) -> ClientOptions:
    """`options` with the given changes, validated like the constructor's arguments."""
    return _resolve_options(
        options.api_key if api_key is None else api_key,
        options.base_url if base_url is None else base_url,
        options.timeout if timeout is _NOT_GIVEN else timeout,
        options.max_retries if max_retries is None else max_retries,
        {**options.default_headers, **(default_headers or {})},
    )


class _ClientBase:
    _options: ClientOptions

    @property
    def api_key(self) -> str | None:
        return self._options.api_key

    @property
    def base_url(self) -> str:
        return self._options.base_url

    @property
    def timeout(self) -> Timeout:
        return self._options.timeout

    @property
    def max_retries(self) -> int:
        return self._options.max_retries

    def __repr__(self) -> str:  # never shows the API key
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class FarMesh(_ClientBase):
    """The Far Mesh client.

    >>> mesh = FarMesh(api_key="fl_...")            # or FARLABS_API_KEY in the environment
    >>> print(mesh.chat("Explain quantum computing").text)

    Args:
        api_key: an app API key (``fl_...``) or a JWT; default ``$FARLABS_API_KEY``.
        base_url: the server; default ``$FARLABS_BASE_URL`` or ``http://127.0.0.1:8100``.
        timeout: a `Timeout` (connect / idle / total), or seconds for the overall deadline.
        max_retries: further attempts after a retryable failure (default 2).
        default_headers: sent with every request.
        http_client: your own `httpx.Client` (proxies, certificates); you close it.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: Timeout | float | None = _NOT_GIVEN,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        options = _resolve_options(api_key, base_url, timeout, max_retries, default_headers)
        self._init(options, http_client, owns_client=http_client is None)

    def _init(
        self, options: ClientOptions, http_client: httpx.Client | None, owns_client: bool
    ) -> None:
        self._options = options
        self._http_client = http_client or httpx.Client()
        self._owns_client = owns_client
        self._api = SyncAPIClient(options, self._http_client)
        self._chat = Chat(self._api)
        self.models = Models(self._api)
        """`mesh.models.list()`: the models the mesh serves."""

    def with_options(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | float | None = _NOT_GIVEN,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> FarMesh:
        """A copy with some options changed, sharing this client's connection pool."""
        options = _copy_options(
            self._options, api_key, base_url, timeout, max_retries, default_headers
        )
        clone = object.__new__(FarMesh)
        clone._init(options, self._http_client, owns_client=False)
        return clone

    def provider(self, wallet: str) -> Provider:
        """One provider's stats, earnings, payments and nodes."""
        return Provider(self._api, wallet)

    @overload
    def chat(
        self, input: ChatInput, *, stream: Literal[False] = False, **params: Unpack[ChatParams]
    ) -> ChatResponse: ...
    @overload
    def chat(
        self, input: ChatInput, *, stream: Literal[True], **params: Unpack[ChatParams]
    ) -> Stream: ...
    @overload
    def chat(
        self, input: ChatInput, *, stream: bool, **params: Unpack[ChatParams]
    ) -> ChatResponse | Stream: ...
    def chat(
        self, input: ChatInput, *, stream: bool = False, **params: Unpack[ChatParams]
    ) -> ChatResponse | Stream:
        """Generate an answer to a prompt string or a list of messages.

        Returns a `ChatResponse` (`.text`, `.usage`, `.cost_far`, `.request_id`, `.route`,
        `.finish_reason`), or with ``stream=True`` a `Stream` (same as `chat_stream`).
        Keyword arguments: model, max_tokens, temperature, top_p, stop, seed, user_wallet,
        request_id, region, idempotency_key, and per-call timeout / max_retries.
        """
        spec = build_chat_spec(input, stream=stream, **params)
        return self._chat.stream(spec) if stream else self._chat.create(spec)

    def chat_stream(self, input: ChatInput, **params: Unpack[ChatParams]) -> Stream:
        """Stream an answer: iterate for text tokens. HTTP errors are raised by this call."""
        return self._chat.stream(build_chat_spec(input, stream=True, **params))

    async def chat_async(self, input: ChatInput, **params: Unpack[ChatParams]) -> ChatResponse:
        """`chat` for async code (asyncio or trio); prefer `AsyncFarMesh` in async apps."""
        spec = build_chat_spec(input, stream=False, **params)
        async with httpx.AsyncClient() as http_client:
            return await AsyncChat(AsyncAPIClient(self._options, http_client)).create(spec)

    def chat_stream_async(self, input: ChatInput, **params: Unpack[ChatParams]) -> AsyncStream:
        """`chat_stream` for async code: ``async for token in mesh.chat_stream_async(...)``."""
        spec = build_chat_spec(input, stream=True, **params)
        http_client = httpx.AsyncClient()  # one per stream, closed with it
        chat = AsyncChat(AsyncAPIClient(self._options, http_client), on_close=http_client.aclose)
        return chat.stream(spec)

    def close(self) -> None:
        """Close the connection pool (unless it was passed in as `http_client`)."""
        if self._owns_client:
            self._http_client.close()

    def __enter__(self) -> FarMesh:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncFarMesh(_ClientBase):
    """The async Far Mesh client (asyncio or trio); the same options as `FarMesh`.

    >>> async with AsyncFarMesh() as mesh:
    ...     async for token in mesh.chat_stream("Explain quantum computing"):
    ...         print(token, end="")
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: Timeout | float | None = _NOT_GIVEN,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        options = _resolve_options(api_key, base_url, timeout, max_retries, default_headers)
        self._init(options, http_client, owns_client=http_client is None)

    def _init(
        self, options: ClientOptions, http_client: httpx.AsyncClient | None, owns_client: bool
    ) -> None:
        self._options = options
        self._http_client = http_client or httpx.AsyncClient()
        self._owns_client = owns_client
        self._api = AsyncAPIClient(options, self._http_client)
        self._chat = AsyncChat(self._api)
        self.models = AsyncModels(self._api)
        """`await mesh.models.list()`: the models the mesh serves."""

    def with_options(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | float | None = _NOT_GIVEN,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> AsyncFarMesh:
        """A copy with some options changed, sharing this client's connection pool."""
        options = _copy_options(
            self._options, api_key, base_url, timeout, max_retries, default_headers
        )
        clone = object.__new__(AsyncFarMesh)
        clone._init(options, self._http_client, owns_client=False)
        return clone

    def provider(self, wallet: str) -> AsyncProvider:
        """One provider's stats, earnings, payments and nodes."""
        return AsyncProvider(self._api, check_wallet(wallet))

    @overload
    async def chat(
        self, input: ChatInput, *, stream: Literal[False] = False, **params: Unpack[ChatParams]
    ) -> ChatResponse: ...
    @overload
    async def chat(
        self, input: ChatInput, *, stream: Literal[True], **params: Unpack[ChatParams]
    ) -> AsyncStream: ...
    @overload
    async def chat(
        self, input: ChatInput, *, stream: bool, **params: Unpack[ChatParams]
    ) -> ChatResponse | AsyncStream: ...
    async def chat(
        self, input: ChatInput, *, stream: bool = False, **params: Unpack[ChatParams]
    ) -> ChatResponse | AsyncStream:
        """Generate an answer; with ``stream=True`` an opened `AsyncStream`. See `FarMesh.chat`."""
        spec = build_chat_spec(input, stream=stream, **params)
        if stream:
            return await self._chat.stream(spec)
        return await self._chat.create(spec)

    def chat_stream(self, input: ChatInput, **params: Unpack[ChatParams]) -> AsyncStream:
        """A stream to `async for` directly, or to `await` / `async with` first so that HTTP
        errors are raised before iteration."""
        return self._chat.stream(build_chat_spec(input, stream=True, **params))

    async def chat_async(self, input: ChatInput, **params: Unpack[ChatParams]) -> ChatResponse:
        """The same as `chat` (the name the plan's async snippet uses)."""
        return await self._chat.create(build_chat_spec(input, stream=False, **params))

    chat_stream_async = chat_stream

    async def close(self) -> None:
        """Close the connection pool (unless it was passed in as `http_client`)."""
        if self._owns_client:
            await self._http_client.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncFarMesh:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
