"""A whole mesh on one machine: the reference server, a DHT bootstrap peer and far-node processes.

Used by `make demo` and by the cross-package tests. Each child runs in its own process group, so stopping
one stops everything it spawned (Petals leaves DHT and p2pd helpers behind a plain SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from eth_account import Account

from farlabs_protocol import READY_LINE

from .ports import free_port


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class NodeSpec:
    name: str
    blocks: str | None  # "0:15"; None = the node picks
    mode: str = "swarm"
    region: str | None = None


@dataclass
class LocalMesh:
    work_dir: Path
    node_bin: Path  # the far-node executable (in the node environment)
    model: str = "smollm2"
    server_port: int = field(default_factory=free_port)
    server_env: dict[str, str] = field(default_factory=dict)
    node_env: dict[str, str] = field(default_factory=dict)
    admin_key: str | None = field(default_factory=lambda: "fl_" + secrets.token_urlsafe(32))
    children: list[Child] = field(default_factory=list)
    maddr: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.work_dir / f"{name}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1", **env})
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def wait(self, child: Child, ready: Callable[[], bool], what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            if child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited ({child.proc.returncode}) before {what}:\n{child.log()[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{child.name}: {what} not reached in {timeout_s:.0f} s:\n{child.log()[-4000:]}")

    # ------------------------------------------------------------ parts

    def start_server(self, timeout_s: float = 90) -> None:
        env = {"FARLABS_PORT": str(self.server_port), "FARLABS_HOST": "127.0.0.1", **self.server_env}
        if self.admin_key:
            env["FARLABS_ADMIN_KEY"] = self.admin_key
        child = self.start("server", [sys.executable, "-m", "farlabs_server.cli", "serve"], env)

        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        self.wait(child, ready, "readiness", timeout_s)

    def start_bootstrap(self, timeout_s: float = 90) -> str:
        maddr_file = self.work_dir / "bootstrap.maddr"
        maddr_file.unlink(missing_ok=True)
        child = self.start("bootstrap", [str(self.node_bin), "bootstrap", "--port", str(free_port()),
                                         "--maddr-file", str(maddr_file)], self._node_env(self.work_dir / "home-bootstrap"))
        self.wait(child, lambda: maddr_file.exists() and bool(maddr_file.read_text().strip()), "its multiaddr", timeout_s)
        self.maddr = maddr_file.read_text().strip()
        return self.maddr

    def prepare_model(self, timeout_s: float = 900) -> None:
        """Convert/build the model into the cache once, before several nodes would race to do it."""
        subprocess.run([str(self.node_bin), "prepare-model", self.model], check=True, timeout=timeout_s,
                       stdout=subprocess.DEVNULL, env={**os.environ, **self._node_env(self.work_dir / "home-prepare")})

    def start_node(self, spec: NodeSpec, *extra: str) -> Child:
        """`far-node setup` (a fresh wallet that authorizes the node key), then `far-node run`."""
        assert self.maddr is not None or spec.mode == "local", "start the bootstrap peer first"
        home = self.node_home(spec.name)
        home.mkdir(parents=True, exist_ok=True)
        wallet = Account.create()
        key_file = home / "wallet.key"
        key_file.write_text(bytes(wallet.key).hex())
        key_file.chmod(0o600)
        env = self._node_env(home)
        setup = [str(self.node_bin), "setup", "--non-interactive", "--wallet", wallet.address, "--wallet-key-file",
                 str(key_file), "--model", self.model, "--node-name", spec.name, "--server", self.url,
                 "--public-ip", "127.0.0.1"]
        if spec.region:
            setup += ["--region", spec.region]
        if self.maddr:
            setup += ["--initial-peers", self.maddr]
        subprocess.run(setup, check=True, env={**os.environ, **env}, capture_output=True)
        run = [str(self.node_bin), "run", "--model", self.model, "--mode", spec.mode, "--port", str(free_port()),
               *(["--blocks", spec.blocks] if spec.blocks else []), *extra]
        return self.start(spec.name, run, env)

    def wait_ready(self, nodes: list[Child], timeout_s: float = 600) -> None:
        for node in nodes:
            self.wait(node, lambda n=node: READY_LINE in n.log(), "ready", timeout_s)  # type: ignore[misc]

    def node_home(self, name: str) -> Path:
        return self.work_dir / f"home-{name}"

    def far_node(self, name: str, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a `far-node` command as node `name` (its home, so its config, keys and running node's token)."""
        env = {**os.environ, **self._node_env(self.node_home(name))}
        return subprocess.run([str(self.node_bin), *args], env=env, capture_output=True, text=True, timeout=timeout_s)

    def dashboard_link(self, name: str) -> str:
        """The provider-dashboard sign-in link `far-node dashboard` prints for node `name`'s wallet."""
        out = self.far_node(name, "dashboard")
        if out.returncode != 0:
            raise RuntimeError(f"far-node dashboard failed ({out.returncode}): {out.stdout}{out.stderr}")
        return out.stdout.strip().splitlines()[-1]

    def _node_env(self, home: Path) -> dict[str, str]:
        return {"FARLABS_NODE_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **self.node_env}

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child(name).proc.pid, sig)

    def stop_all(self, grace_s: float = 15) -> None:
        """SIGINT every group (nodes unregister), then SIGKILL whatever is left."""
        for c in reversed(self.children):
            if c.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGINT)
        deadline = time.monotonic() + grace_s
        for c in reversed(self.children):
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(c.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(timeout=5)
