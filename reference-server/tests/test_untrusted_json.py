"""JSON from strangers: deep nesting is refused before the C decoder can overflow the stack; NUL is found."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator

import pytest

from farlabs_server import untrusted_json
from farlabs_server.coordinator.gateway_client import parse_sse


def test_the_server_process_runs_with_a_raised_recursion_limit() -> None:
    # Why the depth check exists: with this limit json.loads no longer raises RecursionError on deep input.
    import farlabs_server.app  # noqa: F401  (imports the payouts' EVM, which raises the limit)

    assert sys.getrecursionlimit() >= 10_000


def test_depth_at_the_limit_parses_and_one_more_is_refused() -> None:
    limit = untrusted_json.MAX_DEPTH
    assert untrusted_json.loads(b"[" * limit + b"]" * limit) is not None
    with pytest.raises(untrusted_json.TooDeep):
        untrusted_json.loads(b"[" * (limit + 1) + b"]" * (limit + 1))
    with pytest.raises(ValueError):  # what callers catch
        untrusted_json.loads('{"a":' * 200_000 + "1" + "}" * 200_000)


def test_brackets_inside_strings_do_not_count() -> None:
    body = {"prompt": "[[[[{{{{" * 1000 + '\\"]]]', "stop": ["]]]]"]}
    assert untrusted_json.loads(json.dumps(body)) == body
    wide = json.dumps({"messages": [{"role": "user", "content": "x"}] * 400})  # many brackets, shallow
    assert len(untrusted_json.loads(wide)["messages"]) == 400


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_only_standard_finite_numbers(number: str) -> None:
    with pytest.raises(ValueError):
        untrusted_json.loads('{"throughput_tps": ' + number + '}')
    assert untrusted_json.loads('{"a": 1e308, "b": -0.5, "c": 12345678901234567890}')["c"] == 12345678901234567890


def test_find_nul_names_the_field() -> None:
    assert untrusted_json.find_nul({"a": [{"b": "ok"}, {"c": "x\x00"}]}) == "a.1.c"
    assert untrusted_json.find_nul({"hardware": {"k\x00": 1}}) == "hardware.k\x00"
    assert untrusted_json.find_nul({"a": ["fine", 1, None, {"b": 2.5}]}) is None


@pytest.mark.anyio
async def test_a_gateway_event_nested_too_deep_is_a_bad_event_not_a_crash() -> None:
    async def lines() -> AsyncIterator[str]:
        yield "data: " + "[" * 100_000 + "]" * 100_000
        yield ""

    with pytest.raises(ValueError):
        async for _ in parse_sse(lines()):
            pass
