"""The official `openai` Python client, unchanged, against the live server (vLLM's response shapes)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from farlabs_devtools.sse import DONE, iter_events
from farlabs_devtools.testing import MODEL, LiveServer, SyntheticGateway, add_node, auth, expected_text


@pytest.fixture
def gateway(live: LiveServer) -> Iterator[SyntheticGateway]:
    with SyntheticGateway() as gw:
        add_node(live, "nodeA", gw)
        yield gw


@pytest.fixture
def client(live: LiveServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0)


def test_non_streaming(client: openai.OpenAI, gateway: SyntheticGateway) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Explain quantum computing"}], max_tokens=4, temperature=0)
    assert completion.object == "chat.completion" and completion.model == MODEL
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == expected_text(4)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 4
    assert gateway.requests[0]["temperature"] == 0 and gateway.requests[0]["max_tokens"] == 4


def test_streaming_with_usage(client: openai.OpenAI, gateway: SyntheticGateway) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=3, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected_text(3)
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishing] == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 10
    assert all(c.id == chunks[0].id and c.object == "chat.completion.chunk" for c in chunks)


def test_stream_ends_with_done_and_has_no_usage_unless_asked(live: LiveServer, key: str,
                                                              gateway: SyntheticGateway) -> None:
    with httpx.stream("POST", live.url + "/v1/chat/completions", headers=auth(key), timeout=30, json={
            "model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": True}) as r:
        events = list(iter_events(r))
    assert events[-1].data == DONE
    assert not any("usage" in event.data for event in events[:-1])


def test_models_list_is_public(live: LiveServer, gateway: SyntheticGateway) -> None:
    models = openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0).models.list()
    ids = [m.id for m in models.data]
    assert MODEL in ids and all(m.object == "model" and m.owned_by == "farlabs" for m in models.data)


def test_errors_raise_the_openai_clients_own_exceptions(client: openai.OpenAI, live: LiveServer,
                                                         gateway: SyntheticGateway) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(model="no/such-model", messages=[{"role": "user", "content": "x"}])
    assert "does not exist" in str(not_found.value)
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model=MODEL, messages=[], max_tokens=2)
    bad = openai.OpenAI(base_url=live.url + "/v1", api_key="fl_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
