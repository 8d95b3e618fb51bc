"""Clients that die mid-request (fault injection, issue 9): the connection drops after the headers and part of
the body. Nobody is left to answer, but it is no server error: nothing logged as one, nothing counted as a 500,
and the server goes on serving.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from farlabs_devtools.testing import ServerProcess


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess() as srv:
        yield srv


@pytest.mark.parametrize("path", ["/nodes/register", "/mesh/inference/generate", "/v1/chat/completions", "/admin/keys"])
def test_a_client_that_hangs_up_mid_body_is_not_a_server_error(server: ServerProcess, path: str) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                  f"Authorization: Bearer {server.admin_key}\r\nContent-Length: 4096\r\n\r\n".encode()
                  + b'{"prompt": "half a bo')
        time.sleep(0.2)  # the server is reading the body when the connection goes
    deadline = time.monotonic() + 10
    while f'route="{path}",status="499"' not in (metrics := httpx.get(server.url + "/metrics").text):
        assert time.monotonic() < deadline, "the server never finished the abandoned request"
        time.sleep(0.1)
    assert f'route="{path}",status="500"' not in metrics
    assert httpx.get(server.url + "/readyz").status_code == 200
    log = server.log()
    assert "unhandled error" not in log and "Exception in ASGI application" not in log, log[-3000:]
