"""Parsing JSON from strangers (request bodies, gateway events) without letting its shape hurt the process.

py-ecc, imported with the payouts' EVM, raises Python's recursion limit to 100 000 for the whole process, so
the standard library's C decoder no longer stops at deep nesting: `[[[[…` a few hundred kilobytes deep
overflows the C stack and kills the server. The nesting is measured first, at C speed, and refused.
The decoder is also held to standard JSON numbers: Python's would read `NaN`, `Infinity` and `1e400` (as
infinity), which PostgreSQL's jsonb refuses and which no JSON response can carry back.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

MAX_DEPTH = 32  # our bodies nest 4 deep at most; node hardware reports a little more
_STRING = re.compile(rb'"(?:\\.|[^"\\])*"', re.DOTALL)


class TooDeep(ValueError):
    """The document nests arrays/objects deeper than allowed."""


def check_depth(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise TooDeep when brackets outside strings nest deeper than `max_depth` (or never balance)."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return  # cannot nest deeper than it has brackets
    brackets = _STRING.sub(b"", raw).translate(None, delete=bytes(b for b in range(256) if b not in b"[]{}"))
    # Each round removes every innermost pair, so a balanced document of depth d is empty after d rounds.
    for _ in range(max_depth):
        if not brackets:
            return
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
    if brackets:
        raise TooDeep(f"nested deeper than {max_depth} levels")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _not_json(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads of standard JSON only, refusing documents nested deeper than `max_depth`; every refusal is a
    ValueError (TooDeep for the nesting)."""
    check_depth(raw.encode() if isinstance(raw, str) else raw, max_depth)
    return json.loads(raw, parse_float=_finite, parse_constant=_not_json)


def find_nul(value: Any, path: str = "") -> str | None:
    """The path of the first string (key or value) holding U+0000, which PostgreSQL text cannot store."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return where
            found = find_nul(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_nul(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None
