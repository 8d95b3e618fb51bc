"""What a generation stream has told us so far: shared, I/O-free, by the sync and async streams."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from httpx_sse import ServerSentEvent
from pydantic import ValidationError

from ._exceptions import FarLabsError, InternalServerError, error_from_envelope
from ._models import ChatResponse, DoneEvent, RouteHop, StreamEvent, TokenEvent, Usage


class StreamState:
    """Folds the server's events into text, usage, cost and the final response."""

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.parts: list[str] = []
        self.tokens_generated = 0
        self.cost_far: Decimal | None = None
        self.response: ChatResponse | None = None
        self.closed_early = False

    @property
    def first_token_seen(self) -> bool:
        return bool(self.parts)

    @property
    def done(self) -> bool:
        return self.response is not None

    @property
    def text(self) -> str:
        return self.response.text if self.response and self.response.text else "".join(self.parts)

    @property
    def usage(self) -> Usage:
        if self.response is not None:
            return self.response.usage
        return Usage(completion_tokens=self.tokens_generated)

    @property
    def finish_reason(self) -> str | None:
        if self.response is not None:
            return self.response.finish_reason
        return "cancelled" if self.closed_early else None

    @property
    def route(self) -> list[RouteHop]:
        return self.response.route if self.response is not None else []

    def feed(self, sse: ServerSentEvent) -> StreamEvent | None:
        """Take one event; return its typed form, None for an event we do not know (newer
        servers may add some), or raise the mapped error for an `error` event."""
        name = sse.event or "message"
        if name not in ("message", "done", "error"):
            return None
        payload = self._decode(sse.data or "")
        if name == "error":
            raise self.error_from_event(payload)
        if name == "done":
            return self._finish(payload)
        if "token" not in payload:
            return None
        try:
            event = TokenEvent.model_validate(payload)
        except ValidationError as exc:
            raise self._malformed(f"bad token event: {exc.errors()[0]['msg']}") from None
        self.parts.append(event.token)
        self.tokens_generated = event.tokens_generated or self.tokens_generated + 1
        if event.cost_far is not None:
            self.cost_far = event.cost_far
        if event.request_id:
            self.request_id = event.request_id
        return event

    def error_from_event(self, payload: dict[str, Any]) -> FarLabsError:
        envelope = payload.get("error", payload)
        if not isinstance(envelope, dict):
            envelope = {"message": str(envelope)}
        return error_from_envelope(
            envelope,
            request_id=self.request_id,
            partial_text=self.text if self.first_token_seen else None,
        )

    def annotate(self, error: FarLabsError) -> FarLabsError:
        """Give an error raised mid-stream the request id and the text streamed so far."""
        if error.request_id is None:
            error.request_id = self.request_id
        if error.partial_text is None and self.first_token_seen:
            error.partial_text = "".join(self.parts)
        return error

    def _finish(self, payload: dict[str, Any]) -> DoneEvent:
        try:
            response = ChatResponse.model_validate(payload)
        except ValidationError as exc:
            raise self._malformed(f"bad done event: {exc.errors()[0]['msg']}") from None
        if not response.text:
            response.text = "".join(self.parts)
        if response.request_id is None:
            response.request_id = self.request_id
        self.request_id = response.request_id
        self.cost_far = response.cost_far
        self.response = response
        return DoneEvent(response=response)

    def _decode(self, data: str) -> dict[str, Any]:
        try:
            payload = json.loads(data, parse_float=Decimal)
        except ValueError:
            raise self._malformed(f"event data is not JSON: {data[:80]!r}") from None
        if not isinstance(payload, dict):
            raise self._malformed(f"event data is not an object: {data[:80]!r}")
        return payload

    def _malformed(self, message: str) -> InternalServerError:
        return InternalServerError(message, request_id=self.request_id, code="malformed_event")
