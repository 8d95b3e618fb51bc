"""Concurrency: 10, 100 and 1,000 concurrent streams through the coordinator.

The server runs in its own process (as in relay_overhead.py); a FAST SYNTHETIC GATEWAY (no model, tokens
as fast as it can send them — not a GPU) runs in this process with the clients. Each level opens C streams
at once of T tokens each and reports errors, TTFT/ITL percentiles, and the server process's CPU (user+system
over the level's wall time; embedded PostgreSQL's own processes not included) and peak RSS.

Run: .venv/bin/python bench/concurrency.py [--levels 10,100,1000] [--tokens 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx
from procstat import cpu_s
from relay_overhead import TokenClock, coordinator_with_gateway, pct

from farlabs_devtools.sse import aiter_events


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one(client: httpx.AsyncClient, url: str, key: str, tokens: int) -> tuple[float, list[float]]:
    clock = TokenClock()
    async with client.stream("POST", url, json={"prompt": "hi", "max_tokens": tokens, "temperature": 0,
                                                "model_id": "test/tiny", "stream": True},
                             headers={"Authorization": f"Bearer {key}"}) as r:
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {(await r.aread())[:200]!r}")
        async for event in aiter_events(r):
            clock.event(event)
    return clock.result(tokens)


async def level(url: str, key: str, c: int, tokens: int, pid: int) -> str:
    limits = httpx.Limits(max_connections=c + 10, max_keepalive_connections=c + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        cpu0, t0 = cpu_s(pid), time.perf_counter()
        peak = rss_mib(pid)

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_mib(pid))
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        results = await asyncio.gather(*(one(client, url, key, tokens) for _ in range(c)), return_exceptions=True)
        watcher.cancel()
        wall = time.perf_counter() - t0
        cpu = (cpu_s(pid) - cpu0) / wall * 100
    ok = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print(f"  {c}: first error: {errors[0]!r}", file=sys.stderr)
    ttft = [t for t, _ in ok]
    itl = [g for _, gaps in ok for g in gaps]
    return (f"| {c:,} | {len(errors)} | " + " | ".join(f"{pct(v, p):.1f}" for v in (ttft, itl) for p in (50, 95, 99))
            + f" | {wall:.2f} | {cpu:.0f} % | {peak:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--levels", default="10,100,1000")
    ap.add_argument("--tokens", type=int, default=20)
    args = ap.parse_args()
    rows = []
    with coordinator_with_gateway("farlabs-bench-conc-") as (url, proc, _gw, key):
        for c in (int(x) for x in args.levels.split(",")):
            rows.append(asyncio.run(level(url + "/mesh/inference/generate", key, c, args.tokens, proc.pid)))
    print(f"concurrent streams of {args.tokens} tokens through the coordinator; FAST SYNTHETIC GATEWAY (no model) "
          f"in the client process; ms; server CPU = % of one core\n")
    print("| streams | errors | TTFT p50 | TTFT p95 | TTFT p99 | ITL p50 | ITL p95 | ITL p99 | wall s | server CPU "
          "| server peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
