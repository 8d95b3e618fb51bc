"""The stream events the API reference documents (the OpenAPI document's `x-sse-events`) are the ones the
server sends: every event of a real stream has a documented name and validates against its documented schema,
with no undocumented field."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs  # comes with schemathesis (the dev group)

from farlabs_devtools.localmesh import LocalMesh
from farlabs_devtools.sse import DONE, Event, iter_events


def _check(spec: dict[str, Any], path: str, events: list[Event]) -> list[str]:
    """Validate each event against the documented ones of `path`; returns the names of the schemas used."""
    ok = spec["paths"][path]["post"]["responses"]["200"]["content"]["text/event-stream"]
    documented = ok["x-sse-events"]
    used = []
    for name, data in events:
        if data == DONE:
            assert any(DONE in e["description"] for e in documented), f"{path}: {DONE} is not documented"
            used.append(DONE)
            continue
        candidates = [e for e in documented if e["event"] == name and "schema" in e]
        assert candidates, f"{path}: event {name!r} is not documented"
        schema = {**candidates[0]["schema"], "components": spec["components"]}
        jsonschema_rs.Draft202012Validator(schema).validate(data)
        target = spec["components"]["schemas"][candidates[0]["schema"]["$ref"].rsplit("/", 1)[-1]]
        extra = set(data) - set(target.get("properties", {}))
        assert not extra, f"{path}: event {name!r} has undocumented fields {sorted(extra)}"
        used.append(target["title"])
    return used


def test_stream_events_are_the_documented_ones(mesh: LocalMesh, api_key: str, covered: Any) -> None:
    spec = httpx.get(f"{mesh.url}/openapi.json").json()
    headers = {"Authorization": f"Bearer {api_key}"}

    body = {"prompt": "Explain quantum computing", "max_tokens": 5}
    with httpx.stream("POST", f"{mesh.url}/mesh/inference/generate", json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200, r.read()
        used = _check(spec, "/mesh/inference/generate", list(iter_events(r)))
    assert used == ["StreamToken"] * (len(used) - 1) + ["GenerateResult"], used

    body = {"model": covered["model_id"], "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5,
            "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{mesh.url}/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200, r.read()
        used = _check(spec, "/v1/chat/completions", list(iter_events(r)))
    assert used[-1] == "[DONE]" and set(used[:-1]) == {"ChatCompletionChunk"}, used
