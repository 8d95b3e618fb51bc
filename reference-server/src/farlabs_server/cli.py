"""`farlabs-server`: serve, migrate, manage API keys, run payouts, print the OpenAPI document."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from .auth import keys
from .db import open_database
from .db.migrate import schema_version
from .errors import ApiError
from .logs import configure_logging
from .settings import Settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    settings = settings.model_copy(update={"host": host, "port": port})
    print(f"Far Mesh server listening on http://{host}:{port}  (docs: http://{host}:{port}/docs)", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, lifespan="on",
                timeout_graceful_shutdown=5)
    return 0


async def _with_db(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    db = await open_database(settings)
    try:
        async with db.pool.acquire() as conn:
            return await work(conn)
    finally:
        await db.close()


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Any) -> int:
        version = await schema_version(conn)
        print(f"✓ database schema at version {version}")
        return 0

    return asyncio.run(_with_db(settings, work))


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Any) -> int:
        if args.keys_command == "create":
            secret, record = await keys.create_key(
                conn, args.name, role="admin" if args.admin else "app", rate_limit_rpm=args.rate_limit_rpm
            )
            print(f"Created {record.role} key {record.key_prefix}… (id {record.id}). It is shown only this once:",
                  file=sys.stderr)
            print(secret)
        elif args.keys_command == "list":
            for r in await keys.list_keys(conn, include_revoked=args.all):
                state = f"revoked {r.revoked_at:%Y-%m-%d}" if r.revoked_at else "active"
                print(f"{r.id}  {r.key_prefix}…  {r.role:5}  {state:18}  {r.name}")
        else:
            record = await keys.revoke_key(conn, args.key)
            print(f"✓ revoked {record.key_prefix}… ({record.id})")
        return 0

    return asyncio.run(_with_db(settings, work))


def _payouts(settings: Settings, args: argparse.Namespace) -> int:
    """`payouts run [--dry-run] [--network …]` and `payouts status`: the tracker from the command line."""
    from decimal import Decimal, InvalidOperation

    from .payouts.cli import payouts_command

    minimum = None
    if getattr(args, "minimum_far", None) is not None:
        try:
            minimum = Decimal(args.minimum_far)
        except InvalidOperation:
            print(f"error: --minimum-far must be a decimal amount, not {args.minimum_far!r}", file=sys.stderr)
            return 2
    return asyncio.run(payouts_command(settings, args.payouts_command, dry_run=getattr(args, "dry_run", False),
                                       network=getattr(args, "network", None), minimum_far=minimum))


def _openapi(settings: Settings, args: argparse.Namespace) -> int:
    """The OpenAPI document (JSON); no database needed."""
    import json
    from pathlib import Path

    from .api import all_endpoints
    from .api.openapi import build_openapi

    text = json.dumps(build_openapi(all_endpoints()), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"✓ wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farlabs-server", description="Far Mesh reference server")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (embedded PostgreSQL unless POSTGRES_URL is set)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8100)")
    serve.set_defaults(func=_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(func=_migrate)

    key = sub.add_parser("keys", help="manage API keys")
    key_sub = key.add_subparsers(dest="keys_command", required=True)
    create = key_sub.add_parser("create", help="create a key and print it once")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="an admin key (manages keys, reads every wallet)")
    create.add_argument("--rate-limit-rpm", type=int, default=None)
    listing = key_sub.add_parser("list", help="list keys (prefixes only)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    revoke = key_sub.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key")
    key.set_defaults(func=_keys)

    payouts = sub.add_parser("payouts", help="pay providers their $FAR (weekly batches on chain)")
    payouts_sub = payouts.add_subparsers(dest="payouts_command", required=True)
    run = payouts_sub.add_parser("run", help="pay everything due now (the weekly run, by hand)")
    run.add_argument("--dry-run", action="store_true", help="only show what would be paid")
    run.add_argument("--network", choices=["local", "testnet", "mainnet"],
                     help="default: FARLABS_PAYOUT_NETWORK (local)")
    run.add_argument("--minimum-far", help="override FARLABS_PAYOUT_MINIMUM_FAR for this run")
    payouts_sub.add_parser("status", help="recent batches and runs")
    payouts.set_defaults(func=_payouts)

    openapi = sub.add_parser("openapi", help="print the OpenAPI document")
    openapi.add_argument("--output", help="write to this file instead of stdout")
    openapi.set_defaults(func=_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    try:
        result: int = args.func(settings, args)
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
