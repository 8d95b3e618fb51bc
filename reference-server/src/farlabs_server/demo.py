"""`make demo`: the whole mesh on one machine, on embedded defaults.

Starts the reference server (embedded PostgreSQL), creates an API key for the demo, and — when the
node environment exists — a DHT bootstrap peer and two far-node processes splitting the default model's
blocks. Streams one answer to the terminal, prints how to call the server, and keeps everything running
until Ctrl-C; then it stops every process group it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from .settings import Settings


class Processes:
    """Children in their own process groups, so stopping one stops everything it spawned."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})})
        self.children.append((name, proc))
        return proc

    def log_text(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 15
        for _, proc in reversed(self.children):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever the group left behind


def wait_until(check: Callable[[], bool], what: str, timeout_s: float, procs: Processes, name: str) -> None:
    deadline = time.monotonic() + timeout_s
    proc = dict(procs.children)[name]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}) before {what}:\n{procs.log_text(name)[-3000:]}")
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not ready after {timeout_s:.0f} s:\n{procs.log_text(name)[-3000:]}")


def server_ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def create_demo_key() -> str:
    out = subprocess.run([sys.executable, "-m", "farlabs_server.cli", "keys", "create", "demo"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def print_usage(base_url: str, api_key: str) -> None:
    print(f"""
──────────────────────────────────────────────────────────────────────
 Far Mesh is running.
   Base URL : {base_url}
   API key  : {api_key}      (created for this demo; shown once)
   API docs : {base_url}/docs

 curl:
   curl -N {base_url}/mesh/inference/generate -H "Authorization: Bearer {api_key}" \\
        -H "Content-Type: application/json" -d '{{"prompt": "Explain quantum computing", "max_tokens": 50}}'

 Python SDK (pip install ./python-sdk):
   from farlabs import FarMesh
   mesh = FarMesh(api_key="{api_key}", base_url="{base_url}")
   print(mesh.chat("Explain quantum computing").text)

 TypeScript SDK (@farlabs/sdk):
   const mesh = new FarMesh({{ apiKey: "{api_key}", baseURL: "{base_url}" }});

 Any OpenAI client: base_url="{base_url}/v1", api_key="{api_key}"

 More keys: farlabs-server keys create NAME     Stop: Ctrl-C
──────────────────────────────────────────────────────────────────────""", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="farlabs-server-demo", description=__doc__)
    parser.add_argument("--node-venv", type=Path, default=None, help="the far-node environment (.venv-node)")
    parser.add_argument("--log-dir", type=Path, default=Path(".farlabs/demo-logs"))
    args = parser.parse_args(argv)

    settings = Settings()
    base_url = f"http://{settings.host}:{settings.port}"
    procs = Processes(args.log_dir)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("• preparing the embedded database and a demo API key…", flush=True)
        api_key = create_demo_key()
        procs.start("server", [sys.executable, "-m", "farlabs_server.cli", "serve"])
        wait_until(lambda: server_ready(base_url), "the server", 60, procs, "server")
        print(f"✓ server ready at {base_url} (embedded PostgreSQL in {settings.data_dir})", flush=True)
        print_usage(base_url, api_key)
        print(f"(logs in {args.log_dir}/)", flush=True)
        while not stop:
            time.sleep(0.5)
    finally:
        print("\n• stopping every process the demo started…", flush=True)
        procs.stop_all()
        print("✓ stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
