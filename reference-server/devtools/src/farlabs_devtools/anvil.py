"""A local anvil node (Foundry's EVM, from the npm package `@foundry-rs/anvil`) as a real JSON-RPC chain.

For payout tests and development: the server's embedded default is its in-process EVM
(farlabs_server/payouts/local.py). anvil runs offline, binds 127.0.0.1, is ~5x faster per batch than
py-evm, speaks real JSON-RPC (the code path testnet and mainnet take), and with `state_path` keeps its
chain across restarts.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from web3 import Web3

from .ports import free_port

_PLATFORMS = {
    ("Linux", "x86_64"): "linux-amd64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "arm64"): "darwin-arm64",
    ("Darwin", "x86_64"): "darwin-amd64",
}


def find_anvil(start: Path | None = None) -> Path | None:
    """The anvil binary: on PATH, or in a node_modules folder upward from `start` (default: this file, then cwd)."""
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    suffix = _PLATFORMS.get((platform.system(), platform.machine()))
    candidates = [f"@foundry-rs/anvil-{suffix}/bin/anvil"] if suffix else []
    candidates.append("@foundry-rs/anvil/anvil")  # where its postinstall puts a downloaded binary
    for origin in [start] if start else [Path(__file__).resolve(), Path.cwd()]:
        for folder in [origin, *origin.parents]:
            for candidate in candidates:
                path = folder / "node_modules" / candidate
                if path.is_file() and os.access(path, os.X_OK):
                    return path
    return None


class AnvilNode:
    """An anvil process on 127.0.0.1; use as a context manager. `url` is its JSON-RPC endpoint."""

    def __init__(self, binary: Path, *, state_path: Path | None = None, chain_id: int | None = None) -> None:
        self.binary = binary
        self.state_path = state_path
        self.chain_id = chain_id
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - open while anvil runs; closed in stop()

    def start(self, timeout_s: float = 30.0) -> AnvilNode:
        port = free_port()
        args = [str(self.binary), "--host", "127.0.0.1", "--port", str(port), "--hardfork", "prague", "--silent"]
        if self.state_path is not None:
            args += ["--state", str(self.state_path)]
        if self.chain_id is not None:
            args += ["--chain-id", str(self.chain_id)]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self._log)
        self.url = f"http://127.0.0.1:{port}"
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + timeout_s
        while not w3.is_connected():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._log.seek(0)
                output = self._log.read().decode(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"anvil did not start on {self.url}: {output}")
            time.sleep(0.05)
        return self

    def web3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))

    def stop(self) -> None:
        """Stop anvil (it writes `state_path`, if given, on the way out)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._log.close()

    def __enter__(self) -> AnvilNode:
        return self.start() if self._process is None else self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

