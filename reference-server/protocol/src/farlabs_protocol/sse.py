"""Server-sent events as Far Mesh writes them: compact JSON, one `data:` line per event."""

from __future__ import annotations

import json
from typing import Any

# A comment line: keeps proxies from closing an idle stream; readers drop it (it is never progress).
KEEPALIVE = ": keep-alive\n\n"


def sse_event(data: dict[str, Any], event: str | None = None) -> str:
    """One event: an optional `event:` line, one `data:` line of JSON (non-ASCII kept as is), a blank line."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"
