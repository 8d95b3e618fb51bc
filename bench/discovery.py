"""Discovery: sustained node heartbeats per second against PostgreSQL, over HTTP.

The server runs in its own process (as in relay_overhead.py, embedded PostgreSQL). M nodes register
(signed, as real nodes do), then K concurrent clients send `POST /nodes/heartbeat` with the nodes' tokens,
round-robin, for D seconds. Every answer must be 200.

Run: .venv/bin/python bench/discovery.py [--nodes 500] [--clients 64] [--seconds 15] [--servers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time

import httpx
from procstat import cpu_s
from relay_overhead import LiveServer, add_node, embedded_postgres, pct, server_process

BODY = {"tokens_served": 0, "in_flight": 0, "throughput_tps": 0.0,
        "hardware": {"gpu_name": "CPU", "cpu_percent": 10.0, "ram_used_gb": 1.0, "ram_total_gb": 24.0}}


async def hammer(urls: list[str], tokens: list[str], clients: int, seconds: float,
                 pids: list[int]) -> tuple[int, int, float, float, float, list[float]]:
    """K kept-alive connections, one request in flight on each, as K nodes beating back to back.

    Raw HTTP/1.1 over asyncio streams (requests prebuilt, responses read by Content-Length): an httpx client
    cost about a millisecond of CPU per request and was itself the limit at a few hundred per second.
    Connection w goes to server w mod N. Returns (ok, errors, wall s, servers' CPU %, this client's CPU %,
    latencies ms).
    """
    targets = [httpx.URL(url) for url in urls]
    body = json.dumps(BODY).encode()
    requests = [
        (f"POST {targets[0].raw_path.decode()} HTTP/1.1\r\nHost: {targets[0].host}\r\nAuthorization: Bearer {token}\r\n"
         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        for token in tokens
    ]
    done = errors = 0
    lat: list[float] = []
    connections = [await asyncio.open_connection(targets[w % len(targets)].host, targets[w % len(targets)].port)
                   for w in range(clients)]
    t0 = time.perf_counter()
    cpu0, own0 = sum(cpu_s(pid) for pid in pids), time.process_time()
    end = t0 + seconds

    async def worker(w: int) -> None:
        nonlocal done, errors
        reader, writer = connections[w]
        i = w
        while time.perf_counter() < end:
            s = time.perf_counter()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            lat.append((time.perf_counter() - s) * 1000)
            if head[9:12] == b"200":
                done += 1
            else:
                errors += 1
            i += clients
        writer.close()

    await asyncio.gather(*(worker(w) for w in range(clients)))
    wall = time.perf_counter() - t0
    cpu = (sum(cpu_s(pid) for pid in pids) - cpu0) / wall * 100
    own = (time.process_time() - own0) / wall * 100
    return done, errors, wall, cpu, own, lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--servers", type=int, default=1, help="server processes (replicas) on the one PostgreSQL")
    args = ap.parse_args()
    with embedded_postgres("farlabs-bench-disc-") as (dsn, tmp), contextlib.ExitStack() as stack:
        servers = [stack.enter_context(server_process(dsn, tmp / f"data{i}"))
                   for i in range(args.servers)]
        live = LiveServer(url=servers[0][0], app=None)
        t0 = time.perf_counter()
        tokens = [add_node(live, f"Node{_b58(i)}", None)["node_token"] for i in range(args.nodes)]
        reg_s = time.perf_counter() - t0
        done, errors, wall, cpu, own, lat = asyncio.run(hammer(
            [url + "/nodes/heartbeat" for url, _ in servers], tokens, args.clients, args.seconds,
            [proc.pid for _, proc in servers]))
    print(f"{args.nodes} registered nodes ({args.nodes / reg_s:.0f} registrations/s, sequential), {args.clients} "
          f"concurrent heartbeat clients for {wall:.1f} s on {args.servers} server process(es); CPU = % of one core "
          f"(the load generator used {own:.0f} %); `uptime`: {os.getloadavg()[0]:.2f}\n")
    print("| heartbeats/s | ok | errors | latency p50 ms | p95 ms | p99 ms | server CPU | server CPU ms per beat |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {done / wall:,.0f} | {done:,} | {errors} | {pct(lat, 50):.1f} | {pct(lat, 95):.1f} | {pct(lat, 99):.1f} | "
          f"{cpu:.0f} % | {cpu * 10 / max(done / wall, 1):.3f} |")


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
