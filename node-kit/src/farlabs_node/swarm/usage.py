"""Count the tokens this node's Petals server computes (prompt and generated, over all its blocks).

Petals runs every inference step of a server through one merged step function in the server's runtime thread,
in this process, so wrapping it gives an exact, cheap count of what the node served to the swarm.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_tokens_processed = 0


def counting(original: Callable[..., Any]) -> Callable[..., Any]:
    """Petals' merged inference step `original`, counting the tokens of every call (installed by
    `farlabs_node.patches`)."""

    def counting_call(self: Any, hidden_states: Any, *args: Any) -> Any:
        result = original(self, hidden_states, *args)
        global _tokens_processed
        with _lock:
            _tokens_processed += int(hidden_states.shape[0]) * int(hidden_states.shape[1])
        return result

    return counting_call


def tokens_processed() -> int:
    """Tokens that went through this process's Petals server since it started."""
    with _lock:
        return _tokens_processed
