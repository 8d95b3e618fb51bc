"""Discovery: sustained node heartbeats per second against PostgreSQL, over HTTP.

The server runs in its own process (as in relay_overhead.py, embedded PostgreSQL). M nodes register
(signed, as real nodes do), then K concurrent clients send `POST /nodes/heartbeat` with the nodes' tokens,
round-robin, for D seconds. Every answer must be 200.

Run: .venv/bin/python bench/discovery.py [--nodes 500] [--clients 64] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from concurrency import cpu_s
from relay_overhead import LiveServer, add_node, pct, server_process


async def hammer(url: str, tokens: list[str], clients: int, seconds: float, pid: int) -> tuple[int, int, float, float, list[float]]:
    done = errors = 0
    lat: list[float] = []
    body = {"tokens_served": 0, "in_flight": 0, "throughput_tps": 0.0,
            "hardware": {"gpu_name": "CPU", "cpu_percent": 10.0, "ram_used_gb": 1.0, "ram_total_gb": 24.0}}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        t0 = time.perf_counter()
        cpu0 = cpu_s(pid)
        end = t0 + seconds

        async def worker(w: int) -> None:
            nonlocal done, errors
            i = w
            while time.perf_counter() < end:
                s = time.perf_counter()
                r = await client.post(url, json=body, headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"})
                lat.append((time.perf_counter() - s) * 1000)
                if r.status_code == 200:
                    done += 1
                else:
                    errors += 1
                i += clients

        await asyncio.gather(*(worker(w) for w in range(clients)))
        wall = time.perf_counter() - t0
        cpu = (cpu_s(pid) - cpu0) / wall * 100
    return done, errors, wall, cpu, lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=15)
    args = ap.parse_args()
    from farlabs_server.db.embedded import EmbeddedPostgres

    tmp = Path(tempfile.mkdtemp(prefix="farlabs-bench-disc-"))
    pg = EmbeddedPostgres(tmp / "pg")
    try:
        with server_process(pg.dsn("postgres"), tmp / "data") as (url, proc):
            live = LiveServer(url=url, app=None)
            t0 = time.perf_counter()
            tokens = [add_node(live, f"Node{_b58(i)}", None)["node_token"] for i in range(args.nodes)]
            reg_s = time.perf_counter() - t0
            done, errors, wall, cpu, lat = asyncio.run(hammer(url + "/nodes/heartbeat", tokens, args.clients,
                                                              args.seconds, proc.pid))
    finally:
        pg.stop()
    print(f"{args.nodes} registered nodes ({args.nodes / reg_s:.0f} registrations/s, sequential), {args.clients} "
          f"concurrent heartbeat clients for {wall:.1f} s; server CPU = % of one core\n")
    print("| heartbeats/s | ok | errors | latency p50 ms | p95 ms | p99 ms | server CPU |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {done / wall:,.0f} | {done:,} | {errors} | {pct(lat, 50):.1f} | {pct(lat, 95):.1f} | {pct(lat, 99):.1f} | "
          f"{cpu:.0f} % |")


def _b58(i: int) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    out = ""
    while True:
        i, r = divmod(i, 58)
        out = alphabet[r] + out
        if i == 0:
            return out


if __name__ == "__main__":
    main()
