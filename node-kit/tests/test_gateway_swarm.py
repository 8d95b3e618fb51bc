"""The gateway over a real loopback swarm (bootstrap + 2 nodes splitting the tiny model's blocks)."""

from __future__ import annotations

import time

import httpx
from _helpers import generate, iter_sse

from conftest import GATEWAY_TOKEN, Swarm

PROMPT = "Beautiful is better than"


def test_greedy_output_equals_plain_transformers(swarm: Swarm, reference_generate) -> None:  # type: ignore[no-untyped-def]
    prompt_ids = reference_generate.tokenizer(PROMPT)["input_ids"]
    expected = reference_generate(prompt_ids, 24)
    result = generate(swarm.gateway_url, GATEWAY_TOKEN, {"prompt": PROMPT, "max_tokens": 24, "temperature": 0})
    assert result.error is None
    eos = reference_generate.tokenizer.eos_token_id
    assert result.token_ids == [t for t in expected if t != eos]  # EOS ends the stream, it is not text
    assert len(result.token_ids) > 0
    assert result.done is not None
    assert result.done["prompt_tokens"] == len(prompt_ids)
    assert result.done["completion_tokens"] == len(expected)
    assert result.text == reference_generate.tokenizer.decode(expected, skip_special_tokens=True)


def test_route_names_both_servers_and_their_spans(swarm: Swarm) -> None:
    result = generate(swarm.gateway_url, GATEWAY_TOKEN, {"prompt": PROMPT, "max_tokens": 3, "temperature": 0})
    route = result.done["route"]  # type: ignore[index]
    assert [(hop["start_block"], hop["end_block"]) for hop in route] == [(0, 2), (2, 4)]
    assert len({hop["peer_id"] for hop in route}) == 2
    assert all(hop["peer_id"].startswith("12D3Koo") for hop in route)
    for node, hop in zip(swarm.nodes, route, strict=True):
        assert hop["peer_id"] in node.log()  # each node printed the peer id it serves as


def test_each_node_counts_the_tokens_its_blocks_computed(swarm: Swarm) -> None:
    second = f"http://127.0.0.1:{swarm.nodes[1].gateway_port}"
    before = httpx.get(f"{second}/healthz", timeout=10).json()
    result = generate(swarm.gateway_url, GATEWAY_TOKEN, {"prompt": PROMPT, "max_tokens": 4, "temperature": 0})
    after = httpx.get(f"{second}/healthz", timeout=10).json()
    # node B ran no request of its own (its gateway was idle) but its blocks processed prompt + new tokens
    assert after["tokens_served"] == before["tokens_served"]
    processed = after["block_tokens_processed"] - before["block_tokens_processed"]
    assert processed == result.done["prompt_tokens"] + result.done["completion_tokens"] - 1  # type: ignore[index]


def test_one_event_per_token_and_max_tokens(swarm: Swarm) -> None:
    result = generate(swarm.gateway_url, GATEWAY_TOKEN, {"prompt": "The quick brown", "max_tokens": 5, "temperature": 0})
    assert result.done["completion_tokens"] <= 5  # type: ignore[index]
    if result.done["finish_reason"] == "length":  # type: ignore[index]
        assert result.done["completion_tokens"] == 5  # type: ignore[index]
    assert all(len(p["token_ids"]) >= 1 for p in result.pieces)


def test_stop_sequence_cuts_the_text(swarm: Swarm, reference_generate) -> None:  # type: ignore[no-untyped-def]
    prompt_ids = reference_generate.tokenizer(PROMPT)["input_ids"]
    full = reference_generate.tokenizer.decode(reference_generate(prompt_ids, 24), skip_special_tokens=True)
    stop = full[3:6]  # something the model is known to produce
    result = generate(swarm.gateway_url, GATEWAY_TOKEN, {"prompt": PROMPT, "max_tokens": 24, "temperature": 0, "stop": [stop]})
    assert result.done["finish_reason"] == "stop"  # type: ignore[index]
    assert result.text == full[: full.index(stop)]
    assert stop not in result.text


def test_seed_makes_sampling_reproducible(swarm: Swarm) -> None:
    body = {"prompt": PROMPT, "max_tokens": 12, "temperature": 1.5, "top_p": 0.95, "seed": 1234}
    first = generate(swarm.gateway_url, GATEWAY_TOKEN, body)
    second = generate(swarm.gateway_url, GATEWAY_TOKEN, body)
    others = [generate(swarm.gateway_url, GATEWAY_TOKEN, {**body, "seed": s}).token_ids for s in (1, 2, 3)]
    assert first.token_ids == second.token_ids
    assert any(o != first.token_ids for o in others)


def test_chat_messages_go_through_the_chat_template(swarm: Swarm, reference_generate) -> None:  # type: ignore[no-untyped-def]
    from farlabs_node.models.chat import load_chat_template, render_chat

    messages = [{"role": "user", "content": "Hi"}]
    prompt = render_chat(load_chat_template(swarm.model_path), messages)
    prompt_ids = reference_generate.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    expected = reference_generate(prompt_ids, 8)
    result = generate(swarm.gateway_url, GATEWAY_TOKEN, {"messages": messages, "max_tokens": 8, "temperature": 0})
    assert result.done["prompt_tokens"] == len(prompt_ids)  # type: ignore[index]
    assert result.token_ids == expected[: len(result.token_ids)]


def test_prefix_token_ids_resume_a_generation(swarm: Swarm, reference_generate) -> None:  # type: ignore[no-untyped-def]
    prompt_ids = reference_generate.tokenizer(PROMPT)["input_ids"]
    expected = reference_generate(prompt_ids, 12)
    result = generate(
        swarm.gateway_url, GATEWAY_TOKEN, {"prompt": PROMPT, "max_tokens": 12, "temperature": 0, "prefix_token_ids": expected[:5]}
    )
    assert result.token_ids == expected[5 : 5 + len(result.token_ids)]
    assert result.done["completion_tokens"] == len(expected)  # type: ignore[index]


def test_unauthenticated_calls_are_refused(swarm: Swarm) -> None:
    body = {"prompt": PROMPT, "max_tokens": 2}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": GATEWAY_TOKEN}):
        response = httpx.post(f"{swarm.gateway_url}/generate", json=body, headers=headers, timeout=30)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"


def test_bad_bodies_get_the_error_envelope(swarm: Swarm) -> None:
    headers = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
    cases = [
        ({"prompt": PROMPT, "max_tokens": 0}, 422, "max_tokens"),
        ({"prompt": PROMPT, "messages": [{"role": "user", "content": "x"}]}, 422, None),
        ({"prompt": PROMPT, "temperature": 3}, 422, "temperature"),
        ({"prompt": PROMPT, "stop": ["a", "b", "c", "d", "e"]}, 422, "stop"),
        ({"prompt": PROMPT, "max_tokens": 4096}, 400, "max_tokens"),  # the tiny model's context is 512
    ]
    for body, status, param in cases:
        response = httpx.post(f"{swarm.gateway_url}/generate", json=body, headers=headers, timeout=30)
        assert response.status_code == status, body
        error = response.json()["error"]
        assert error["type"] in ("invalid_request_error", "context_length_exceeded")
        assert error.get("param") == param
        assert response.headers["x-request-id"] == error["request_id"]


def test_healthz(swarm: Swarm) -> None:
    health = httpx.get(f"{swarm.gateway_url}/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["mode"] == "swarm" and health["model_id"] == "farlabs/tiny-llama"


def test_caller_disconnect_stops_generation(swarm: Swarm) -> None:
    url = swarm.gateway_url
    before = httpx.get(f"{url}/healthz", timeout=10).json()["tokens_served"]
    with httpx.stream(
        "POST",
        f"{url}/generate",
        json={"prompt": PROMPT, "max_tokens": 480, "temperature": 1.0, "seed": 7},
        headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
        timeout=60,
    ) as response:
        events = iter_sse(response)
        for _ in range(3):
            next(events)
    # the stream is closed here; the gateway must notice and stop well before 480 tokens
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = httpx.get(f"{url}/healthz", timeout=10).json()
        if health["in_flight"] == 0:
            break
        time.sleep(0.2)
    assert health["in_flight"] == 0
    served = httpx.get(f"{url}/healthz", timeout=10).json()["tokens_served"] - before
    assert 3 <= served < 480
    assert "caller disconnected" in swarm.nodes[0].log()
