"""Migrations: numbered, applied once, and safe when two servers start on one empty database at once."""

from __future__ import annotations

import anyio
import asyncpg
import pytest
from starlette.testclient import TestClient

from farlabs_devtools.testing import PgServer
from farlabs_server.app import create_app
from farlabs_server.db.migrate import apply_migrations, available_migrations
from farlabs_server.settings import Settings

pytestmark = pytest.mark.anyio


async def empty_database(pg_server: PgServer, name: str) -> str:
    conn = await asyncpg.connect(pg_server.dsn("postgres"))
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return pg_server.dsn(name)


def test_migrations_are_numbered_in_order() -> None:
    versions = [v for v, _, _ in available_migrations()]
    assert versions == sorted(versions) and versions[0] == 1


async def test_concurrent_migrations_apply_once(pg_server: PgServer) -> None:
    dsn = await empty_database(pg_server, "race_a")
    results: list[list[str]] = []

    async def migrate() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            results.append(await apply_migrations(conn))
        finally:
            await conn.close()

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(migrate)
    names = [m for _, m, _ in available_migrations()]
    assert sorted(results, key=len) == [[], [], [], names]
    conn = await asyncpg.connect(dsn)
    assert await conn.fetchval("SELECT count(*) FROM far_schema_migrations") == len(names)
    await conn.close()


def test_two_app_instances_start_on_one_empty_database(pg_server: PgServer, tmp_path: object) -> None:
    dsn = anyio.run(empty_database, pg_server, "race_b")
    settings = Settings(postgres_url=dsn, data_dir=tmp_path, secret_key=None,  # type: ignore[arg-type]
                        payout_schedule_enabled=False)
    errors: list[BaseException] = []
    clients: list[TestClient] = []

    import threading

    def start() -> None:
        try:
            client = TestClient(create_app(settings))
            client.__enter__()
            clients.append(client)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert all(c.get("/readyz").status_code == 200 for c in clients)
        # Both found the same generated secret and exactly one first admin key was made.
        secrets = {c.app.state.ctx.secret for c in clients}  # type: ignore[attr-defined]
        assert len(secrets) == 1

        async def admins() -> int:
            conn = await asyncpg.connect(dsn)
            count: int = await conn.fetchval("SELECT count(*) FROM far_api_keys WHERE role = 'admin'")
            await conn.close()
            return count

        assert anyio.run(admins) == 1
    finally:
        for c in clients:
            c.__exit__(None, None, None)
