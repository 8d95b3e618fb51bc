"""Test helpers: far-node subprocesses in their own sessions, free ports, an SSE reader."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

FAR_NODE = [sys.executable, "-m", "farlabs_node.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeProcess:
    """A `far-node` subprocess in its own session (so the whole tree can be found and killed)."""

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    gateway_port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> NodeProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                FAR_NODE + self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, marker: str, timeout_s: float = 240.0) -> str:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log()
            if marker in text:
                return text
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{text[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: no {marker!r} after {timeout_s}s:\n{self.log()[-4000:]}")

    def session_pids(self) -> list[int]:
        assert self.proc is not None
        sid = self.proc.pid
        pids = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getsid(p.info["pid"]) == sid and p.status() != psutil.STATUS_ZOMBIE:
                    pids.append(p.info["pid"])
            except (ProcessLookupError, psutil.Error, PermissionError):
                pass
        return pids

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        if sig == signal.SIGKILL:
            self.proc.wait(timeout=30)
            deadline = time.monotonic() + 10
            while self.session_pids() and time.monotonic() < deadline:
                time.sleep(0.1)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Teardown: SIGTERM (the node cleans up its sockets and unregisters), SIGKILL the group if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            self.kill_group()
            return
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout_s)
        deadline = time.monotonic() + 10  # let the rest of the tree finish closing its sockets
        while self.session_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.kill_group()

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM the main process only (what a service manager does) and wait for it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)


def shutdown_all(nodes: list[NodeProcess]) -> None:
    """SIGTERM every node first so they stop in parallel, then reap them."""
    for node in nodes:
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)
    for node in nodes:
        node.shutdown()


def hivemind_sockets() -> set[Path]:
    """hivemind's p2pd unix sockets (always under /tmp; a SIGKILLed peer leaves its files behind)."""
    return set(Path("/tmp").glob("hivemind-*.sock"))


def remove_stale_sockets(candidates: set[Path]) -> None:
    """Delete those of `candidates` that no live process listens on."""
    in_use = {c.laddr for c in psutil.net_connections(kind="unix") if c.laddr}
    for path in candidates:
        if str(path) not in in_use:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def node_env(cache: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FARLABS_CACHE_DIR=str(cache),
        FARLABS_NODE_HOME=str(home),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        OMP_NUM_THREADS="1",
    )
    env.pop("FAR_MESH_DHT_BOOTSTRAP", None)
    env.pop("FARLABS_SERVER_URL", None)
    return env


@dataclass
class StreamResult:
    pieces: list[dict[str, Any]]
    done: dict[str, Any] | None
    error: dict[str, Any] | None

    @property
    def text(self) -> str:
        return "".join(p["token"] for p in self.pieces)

    @property
    def token_ids(self) -> list[int]:
        return [t for p in self.pieces for t in p["token_ids"]]


def iter_sse(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream response; comments are skipped."""
    event, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def generate(url: str, token: str, body: dict[str, Any], timeout_s: float = 120.0) -> StreamResult:
    pieces, done, error = [], None, None
    with httpx.stream(
        "POST", f"{url}/generate", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event, data in iter_sse(response):
            if event == "message":
                pieces.append(data)
            elif event == "done":
                done = data
            elif event == "error":
                error = data
    return StreamResult(pieces, done, error)
