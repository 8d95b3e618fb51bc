"""The farlabs SDK against the real reference server.

Live uvicorn, embedded PostgreSQL, synthetic gateways (the gateway protocol without a model): the
fixtures of the repository's pytest plugin (farlabs_devtools.testing), so it runs in the root .venv:

    .venv/bin/pytest python-sdk/tests_live
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from farlabs_devtools.testing import (
    MODEL,
    Behaviour,
    LiveServer,
    SyntheticGateway,
    add_node,
    expected_text,
    new_api_key,
)

import farlabs
from farlabs import AsyncFarMesh, FarMesh


def test_plan_snippets(live: LiveServer, key: str) -> None:
    with SyntheticGateway() as gw:
        add_node(live, "nodeA", gw)
        mesh = FarMesh(api_key=key, base_url=live.url)
        response = mesh.chat("Explain quantum computing", model=MODEL, max_tokens=5)
        assert response.text == expected_text(5)
        assert response.cost_far == Decimal("0.0005") and response.usage.completion_tokens == 5
        assert response.finish_reason == "length" and response.request_id and response.route
        tokens = list(mesh.chat_stream("Explain quantum computing", model=MODEL, max_tokens=4))
        assert "".join(tokens) == expected_text(4)

        import anyio

        async def main() -> list[str]:
            return [t async for t in mesh.chat_stream_async("...", model=MODEL, max_tokens=3)]

        assert "".join(anyio.run(main)) == expected_text(3)
        assert (
            anyio.run(lambda: mesh.chat_async("hi", model=MODEL, max_tokens=2))
        ).text == expected_text(2)
        assert [m.id for m in mesh.models.list()]
        mesh.close()


def test_stream_object_and_early_close(live: LiveServer, key: str) -> None:
    with SyntheticGateway(Behaviour(token_delay_s=0.05)) as gw:
        add_node(live, "nodeA", gw)
        with FarMesh(api_key=key, base_url=live.url) as mesh:
            with mesh.chat_stream(
                "hi", model=MODEL, max_tokens=50, request_id="sdk_early"
            ) as stream:
                for i, _ in enumerate(stream):
                    if i == 2:
                        break
            assert stream.finish_reason == "cancelled" and stream.text == expected_text(3)
            assert stream.cost_far == Decimal("0.0003") and stream.request_id == "sdk_early"
            with mesh.chat_stream("hi", model=MODEL, max_tokens=3) as stream:
                events = list(stream.events())
            assert isinstance(events[-1], farlabs.DoneEvent) and stream.route


def test_errors(live: LiveServer, key: str) -> None:
    with FarMesh(api_key="fl_nope", base_url=live.url, max_retries=0) as mesh:
        with pytest.raises(farlabs.AuthenticationError) as info:
            mesh.chat("hi", model=MODEL)
        assert info.value.request_id and info.value.status_code == 401
    with FarMesh(api_key=key, base_url=live.url, max_retries=0) as mesh:
        with pytest.raises(farlabs.BadRequestError) as bad:
            mesh.chat("hi", model=MODEL, max_tokens=99999)
        assert bad.value.param == "max_tokens" and bad.value.code == "validation_error"
        with pytest.raises((farlabs.OverloadedError, farlabs.NotFoundError)) as none:
            mesh.chat_stream("hi", model="no/such-model")
        assert none.value.code == "model_not_found" and none.value.param == "model_id"


def test_async_client_and_interruption(live: LiveServer, key: str) -> None:
    import anyio

    with SyntheticGateway(Behaviour(die_after=2)) as gw:
        add_node(live, "nodeA", gw)

        async def main() -> None:
            async with AsyncFarMesh(api_key=key, base_url=live.url) as mesh:
                stream = mesh.chat_stream("hi", model=MODEL, max_tokens=5)
                with pytest.raises(farlabs.FarLabsError) as info:
                    async for _ in stream:
                        pass
                assert isinstance(info.value, farlabs.StreamInterruptedError)
                assert info.value.partial_text == expected_text(2) and stream.text == expected_text(
                    2
                )

        anyio.run(main)


def test_idempotency_key_is_the_request_id(live: LiveServer, key: str) -> None:
    with SyntheticGateway() as gw:
        add_node(live, "nodeA", gw)
        with FarMesh(api_key=key, base_url=live.url) as mesh:
            first = mesh.chat("hi", model=MODEL, max_tokens=2, idempotency_key="idem-1")
            again = mesh.chat("hi", model=MODEL, max_tokens=2, idempotency_key="idem-1")
        # The same key is the same request: one session, one charge.
        assert first.request_id == again.request_id == "idem-1"
        assert first.session_id == again.session_id


def test_cli(live: LiveServer, key: str) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    with SyntheticGateway() as gw:
        add_node(live, "nodeA", gw)
        env = {**os.environ, "FARLABS_API_KEY": key, "FARLABS_BASE_URL": live.url}
        farlabs_cli = str(Path(sys.executable).with_name("farlabs"))
        out = subprocess.run(
            [farlabs_cli, "chat", "-m", MODEL, "-n", "4", "-v", "hello"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        print(out.stdout, out.stderr)
        assert out.returncode == 0 and out.stdout == expected_text(4) + "\n"
        out = subprocess.run([farlabs_cli, "models"], env=env, capture_output=True, text=True)
        assert f"{MODEL}\tfarlabs" in out.stdout.splitlines()


def test_provider_books(live: LiveServer, key: str, database_url: str) -> None:
    with SyntheticGateway() as gw:
        reg = add_node(live, "nodeA", gw)
        with FarMesh(api_key=key, base_url=live.url) as mesh:
            mesh.chat("hi", model=MODEL, max_tokens=5)
        admin = new_api_key(database_url, role="admin")
        with FarMesh(api_key=admin, base_url=live.url) as mesh:
            active = httpx.get(
                f"{live.url}/nodes/active", headers={"Authorization": f"Bearer {admin}"}
            )
            [node] = [n for n in active.json()["nodes"] if n["node_id"] == reg["node_id"]]
            books = mesh.provider(node["wallet_address"])
            stats = books.stats()
            assert stats.nodes_total == 1 and stats.tokens_contributed == 5
            assert stats.total_earned_far == Decimal("0.0005") and stats.unpaid_far == Decimal(
                "0.0005"
            )
            assert [n.node_name for n in books.nodes().nodes] == ["nodeA"]
            earnings = books.earnings()
            assert sum(d.far or 0 for d in earnings.daily) == Decimal("0.0005")
            assert earnings.by_node[0].tokens == 5
            assert books.payments().payments == []
        with (
            FarMesh(api_key=key, base_url=live.url) as mesh,
            pytest.raises(farlabs.PermissionDeniedError),
        ):
            mesh.provider(
                node["wallet_address"]
            ).stats()  # an app key may not read a provider's books
