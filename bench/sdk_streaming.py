"""SDK streaming throughput: tokens/s parsed by `farlabs` vs the official `openai` package.

Both clients read a recorded SSE byte stream of N tokens from an in-process `httpx.MockTransport`
(no sockets, no server): the native `/mesh/inference/generate` stream (docs/protocol.md) for farlabs, the
OpenAI `chat.completion.chunk` stream for openai. Only client-side parsing is measured.

Run: .venv/bin/python bench/sdk_streaming.py [--tokens 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx
import openai

from farlabs import FarMesh


def native_stream(n: int) -> bytes:
    """The native stream: one `data:` event per token, then `event: done`."""
    parts = []
    for i in range(1, n + 1):
        cost = f"{i * 0.0001:.4f}"
        parts.append("data: " + json.dumps({"token": f" w{i}", "request_id": "req_bench", "tokens_generated": i,
                                             "cost_far": cost}) + "\n\n")
    done = {"request_id": "req_bench", "session_id": "s", "model_id": "m", "finish_reason": "length",
            "usage": {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": n + 7},
            "cost_far": f"{n * 0.0001:.4f}", "text": "", "route": [], "time_to_first_token_ms": 1.0}
    parts.append("event: done\ndata: " + json.dumps(done) + "\n\n")
    return "".join(parts).encode()


def openai_stream(n: int) -> bytes:
    """The same tokens as OpenAI `chat.completion.chunk` events, then `[DONE]`."""
    parts = []
    for i in range(1, n + 1):
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": None}]}
        parts.append("data: " + json.dumps(chunk) + "\n\n")
    last = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    parts.append("data: " + json.dumps(last) + "\n\ndata: [DONE]\n\n")
    return "".join(parts).encode()


def transport(body: bytes) -> httpx.MockTransport:
    chunks = [body[i:i + 4096] for i in range(0, len(body), 4096)]  # network-sized reads

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(chunks))

    return httpx.MockTransport(handler)


def run_farlabs(body: bytes, n: int) -> float:
    with httpx.Client(transport=transport(body)) as http:
        mesh = FarMesh(api_key="far_bench", base_url="http://bench.invalid", http_client=http, max_retries=0)
        t0 = time.perf_counter()
        count = 0
        with mesh.chat_stream("hi", max_tokens=4096) as stream:
            for _ in stream:
                count += 1
        elapsed = time.perf_counter() - t0
    assert count == n, f"farlabs parsed {count} of {n} tokens"
    return n / elapsed


def run_openai(body: bytes, n: int) -> float:
    with httpx.Client(transport=transport(body)) as http:
        client = openai.OpenAI(api_key="sk-bench", base_url="http://bench.invalid/v1", http_client=http,
                               max_retries=0)
        t0 = time.perf_counter()
        count = 0
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                                stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        elapsed = time.perf_counter() - t0
    assert count == n, f"openai parsed {count} of {n} tokens"
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    n = args.tokens
    native, oai = native_stream(n), openai_stream(n)
    run_farlabs(native, n), run_openai(oai, n)  # warm-up: imports, pydantic models
    far, ope = [], []
    for _ in range(args.rounds):  # interleaved, so machine load hits both alike
        far.append(run_farlabs(native, n))
        ope.append(run_openai(oai, n))
    f, o = statistics.median(far), statistics.median(ope)
    print(f"{n} tokens per stream, {args.rounds} rounds, median (min–max) tokens/s (in-process MockTransport, no sockets)\n")
    print("| client | stream bytes | tokens/s | ratio vs openai |")
    print("|---|---:|---:|---:|")
    print(f"| farlabs (native `/mesh/inference/generate`) | {len(native):,} | {f:,.0f} ({min(far):,.0f}–{max(far):,.0f}) | "
          f"{f / o:.2f}× |")
    print(f"| openai {openai.__version__} (`chat.completion.chunk`) | {len(oai):,} | {o:,.0f} "
          f"({min(ope):,.0f}–{max(ope):,.0f}) | 1.00× |")


if __name__ == "__main__":
    main()
