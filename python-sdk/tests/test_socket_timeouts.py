"""Timeouts on a real loopback socket (respx cannot fake a silent connection)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

import farlabs
from farlabs import AsyncFarMesh, FarMesh, Timeout

from .helpers import token

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-request-id: req_sock\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class SilentServer:
    """Answers each connection with `reply` and then keeps it open, saying nothing more."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.05)  # so the thread sees `stop` soon
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.connections.append(conn)
            conn.recv(65536)  # the request (small enough for one read here)
            conn.sendall(self.reply)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def stalled_stream() -> Iterator[SilentServer]:
    server = SilentServer(SSE_HEAD + _chunk(token("Hel", 1, "0.0001")))
    yield server
    server.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer(b"")
    yield server
    server.close()


def test_silent_socket_mid_stream_is_an_idle_timeout(stalled_stream: SilentServer) -> None:
    with FarMesh(base_url=stalled_stream.url, timeout=Timeout(idle=0.3)) as mesh:
        stream = mesh.chat_stream("hi")
        with pytest.raises(farlabs.APITimeoutError) as info:
            list(stream)
    assert info.value.kind == "idle" and info.value.partial_text == "Hel"
    assert len(stalled_stream.connections) == 1  # a token had flowed: not retried


@pytest.mark.anyio
async def test_silent_socket_mid_stream_async(stalled_stream: SilentServer) -> None:
    async with AsyncFarMesh(base_url=stalled_stream.url, timeout=Timeout(idle=0.3)) as mesh:
        with pytest.raises(farlabs.APITimeoutError) as info:
            async for _ in mesh.chat_stream("hi"):
                pass
    assert info.value.kind == "idle" and info.value.request_id == "test_001"


def test_whole_answer_waits_for_the_deadline_not_the_idle_limit(silent: SilentServer) -> None:
    # No answer at all: the idle limit (0.1 s) does not apply to a whole-answer call; the
    # deadline does, and is not retried.
    mesh = FarMesh(base_url=silent.url, timeout=Timeout(idle=0.1, total=0.6))
    with mesh, pytest.raises(farlabs.APITimeoutError) as info:
        mesh.chat("hi")
    assert info.value.kind == "total"
    assert len(silent.connections) == 1


def test_refused_connection_is_retried_then_raised(sleeps: list[float]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    mesh = FarMesh(base_url=f"http://127.0.0.1:{port}", max_retries=2)
    with mesh, pytest.raises(farlabs.APIConnectionError) as info:
        mesh.models.list()
    assert not isinstance(info.value, farlabs.APITimeoutError)
    assert len(sleeps) == 2 and f"127.0.0.1:{port}" in str(info.value)
