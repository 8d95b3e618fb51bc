"""Relay overhead: TTFT and inter-token latency through the coordinator vs straight to the gateway.

The server runs as its own process (real app, uvicorn, embedded PostgreSQL in a temp dir); a synthetic
gateway (no model, tokens as fast as it can, clearly not a GPU) runs in this process on loopback, and one
client measures, sequentially, R requests of N tokens each way. Overhead = coordinator − direct.

Run: .venv/bin/python bench/relay_overhead.py [--requests 200] [--tokens 50]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from farlabs_devtools.ports import free_port
from farlabs_devtools.sse import Event, iter_events
from farlabs_devtools.testing import Behaviour, LiveServer, SyntheticGateway, add_node, new_api_key


def serve(port: int, dsn: str, data_dir: str) -> None:
    """Child process: the real app under uvicorn (no access log)."""
    import uvicorn

    from farlabs_server.app import create_app
    from farlabs_server.settings import Settings

    settings = Settings(postgres_url=dsn, data_dir=Path(data_dir), secret_key="bench-secret-" + "x" * 32,
                        rate_limit_rpm=1_000_000, public_rate_limit_rpm=1_000_000, payout_schedule_enabled=False,
                        min_swarm_nodes=1)
    profile_to = os.environ.get("BENCH_PROFILE")  # optional: pyinstrument from a scratch venv on PYTHONPATH
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    if not profile_to:
        server.run()
        return
    import signal
    import threading

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002, async_mode="disabled")

    def run() -> None:  # profiled in the server's own thread; the main thread waits for SIGTERM
        profiler.start()
        server.run()
        profiler.stop()

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    thread = threading.Thread(target=run)
    thread.start()
    signal.sigwait({signal.SIGTERM})
    server.should_exit = True
    thread.join()
    Path(profile_to).write_text(profiler.output_text(unicode=False, show_all=False))


@contextlib.contextmanager
def server_process(dsn: str, data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The server (this file's `--serve`) in its own process on a free loopback port; (url, process) once it answers."""
    port = free_port()
    env = dict(os.environ)
    if os.environ.get("BENCH_SERVER_SRC"):  # another checkout's server (e.g. a worktree of the previous commit)
        env["PYTHONPATH"] = os.environ["BENCH_SERVER_SRC"]
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(port), dsn, str(data_dir)],
                            env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def embedded_postgres(prefix: str) -> Iterator[tuple[str, Path]]:
    """Embedded PostgreSQL in a fresh temp dir: (dsn, temp dir); stopped and removed afterwards."""
    from farlabs_server.db.embedded import EmbeddedPostgres

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    pg = EmbeddedPostgres(tmp / "pg")
    try:
        yield pg.dsn("postgres"), tmp
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def coordinator_with_gateway(prefix: str) -> Iterator[tuple[str, subprocess.Popen[bytes], SyntheticGateway, str]]:
    """The server (own process, embedded PostgreSQL) with one synthetic gateway registered as a node, and an
    app key: (server url, server process, gateway, key). What the relay and concurrency benchmarks run on."""
    with (
        embedded_postgres(prefix) as (dsn, tmp),
        server_process(dsn, tmp / "data") as (url, proc),
        SyntheticGateway(Behaviour()) as gw,
    ):
        add_node(LiveServer(url=url, app=None), "BenchNode", gw)
        yield url, proc, gw, new_api_key(dsn)


class TokenClock:
    """Time to first token and inter-token gaps of one streamed request (SSE), fed its events as they arrive;
    the clock starts when it is made, just before the request goes out. For every benchmark that streams."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stamps: list[float] = []

    def event(self, event: Event) -> None:
        if event.name == "error":
            raise RuntimeError(f"stream error event: {event.data}")
        if event.name == "message" and "token" in event.data:
            self.stamps.append(time.perf_counter())

    def result(self, tokens: int | None = None) -> tuple[float, list[float]]:
        """(TTFT ms, inter-token gaps ms); with `tokens`, the stream must have carried exactly that many."""
        if not self.stamps or (tokens is not None and len(self.stamps) != tokens):
            raise RuntimeError(f"{len(self.stamps)} of {tokens if tokens is not None else 'some'} tokens")
        return (self.stamps[0] - self.t0) * 1000, [(b - a) * 1000 for a, b in itertools.pairwise(self.stamps)]


def measure(client: httpx.Client, url: str, headers: dict[str, str], body: dict[str, object]) -> tuple[float, list[float]]:
    """One streamed request: (TTFT ms, inter-token gaps ms)."""
    clock = TokenClock()
    with client.stream("POST", url, json=body, headers=headers) as r:
        r.raise_for_status()
        for event in iter_events(r):
            clock.event(event)
    return clock.result()


def pct(values: list[float], p: float) -> float:
    s = sorted(values) or [float('nan')]
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=50)
    args = ap.parse_args()
    with coordinator_with_gateway("farlabs-bench-relay-") as (url, _proc, gw, key):
        n = args.tokens
        results: dict[str, tuple[list[float], list[float]]] = {"direct": ([], []), "coordinator": ([], [])}
        with httpx.Client(timeout=30) as c:
            for i in range(args.requests + 10):  # interleaved; the first 10 of each are warm-up
                for mode in ("direct", "coordinator"):
                    if mode == "direct":
                        t, gaps = measure(c, gw.url + "/generate", {"Authorization": f"Bearer {gw.token}"},
                                          {"request_id": f"d{i}", "prompt": "hi", "max_tokens": n,
                                           "temperature": 0, "model_id": "test/tiny"})
                    else:
                        t, gaps = measure(c, url + "/mesh/inference/generate", {"Authorization": f"Bearer {key}"},
                                          {"prompt": "hi", "max_tokens": n, "temperature": 0,
                                           "model_id": "test/tiny", "stream": True})
                    if i >= 10:
                        results[mode][0].append(t)
                        results[mode][1].extend(gaps)
    print(f"{args.requests} sequential requests × {n} tokens each way, synthetic gateway (no model), "
          f"server in its own process; ms\n")
    print("| path | TTFT p50 | TTFT p95 | TTFT p99 | ITL p50 | ITL p95 | ITL p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode, (t, g) in results.items():
        print(f"| {mode} | " + " | ".join(f"{pct(v, p):.2f}" for v in (t, g) for p in (50, 95, 99)) + " |")
    (dt, dg), (ct, cg) = results["direct"], results["coordinator"]
    print("| **added by coordinator** | " + " | ".join(
        f"{pct(b, p) - pct(a, p):+.2f}" for a, b in ((dt, ct), (dg, cg)) for p in (50, 95, 99)) + " |")
    print(f"\nmean ITL direct {statistics.mean(dg):.3f} ms, coordinator {statistics.mean(cg):.3f} ms; "
          f"targets: +<2 ms p50 TTFT, +<0.5 ms per token")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        main()
