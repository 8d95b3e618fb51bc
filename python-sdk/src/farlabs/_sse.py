"""A server-sent-events line decoder that also reports comments.

httpx-sse's decoder drops comment lines silently; we must see them to tell a keep-alive
(`: keep-alive`, which does not reset the idle timeout) from a real event (which does).
"""

from __future__ import annotations

from httpx_sse import ServerSentEvent

__all__ = ["SSEDecoder", "is_activity"]


def is_activity(line: str) -> bool:
    """Whether a line carries event data: not blank and not a comment."""
    return bool(line) and not line.startswith(":")


class SSEDecoder:
    """Feed it lines (without their line ending); it returns each event as it completes."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
        """Take one line; return the event a blank line completes, else None."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None  # unknown fields are ignored, as the spec says

    def flush(self) -> ServerSentEvent | None:
        """The event left pending when the stream ends without its blank line."""
        return self._dispatch()

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data and not self._event:
            return None
        event = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._id,
            retry=self._retry,
        )
        self._event, self._data, self._retry = "", [], None
        return event
