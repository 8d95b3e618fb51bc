"""Generated providers, sessions and contributions, inserted with SQL; and the books-balance check."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import asyncpg
from eth_account import Account

from farlabs_server.payouts.amounts import far_to_wei
from farlabs_server.payouts.chain import PayoutChain


async def add_node(conn: asyncpg.Connection, wallet: str, name: str | None = None) -> uuid.UUID:
    node = Account.create().address
    node_id: uuid.UUID = await conn.fetchval(
        """INSERT INTO far_nodes (node_address, wallet_address, node_name, model_id, start_block, end_block, total_blocks)
           VALUES ($1, $2, $3, 'test/tiny', 0, 2, 4) RETURNING id""",
        node.lower(), wallet.lower(), name or f"node-{node[2:8].lower()}",
    )
    return node_id


async def add_contributions(conn: asyncpg.Connection, node_id: uuid.UUID, amounts_far: list[str],
                            created_at: datetime) -> list[uuid.UUID]:
    """One completed session per amount, with this node's contribution paying `amount` FAR."""
    ids = []
    for amount in amounts_far:
        pay = Decimal(amount)
        tokens = int(pay / Decimal("0.0001")) or 1
        session = await conn.fetchval(
            """INSERT INTO far_mesh_sessions (request_id, model_id, price_per_token_far, tokens_generated, cost_far,
                   status, finish_reason, created_at, completed_at)
               VALUES ($1, 'test/tiny', 0.0001, $2, $3, 'completed', 'stop', $4, $4) RETURNING id""",
            f"req-{uuid.uuid4()}", tokens, pay, created_at,
        )
        ids.append(await conn.fetchval(
            """INSERT INTO far_session_contributions (session_id, node_id, start_block, end_block, tokens_contributed,
                   block_tokens, payment_far, created_at) VALUES ($1, $2, 0, 2, $3, $4, $5, $6) RETURNING id""",
            session, node_id, tokens, 2 * tokens, pay, created_at,
        ))
    return ids


async def provider(conn: asyncpg.Connection, amounts_far: list[str], created_at: datetime, *, nodes: int = 1) -> str:
    """A new wallet whose `nodes` nodes split these contributions round-robin; returns the wallet address."""
    wallet = Account.create().address
    node_ids = [await add_node(conn, wallet) for _ in range(nodes)]
    for index, amount in enumerate(amounts_far):
        await add_contributions(conn, node_ids[index % nodes], [amount], created_at)
    return wallet


async def paid_wei_by_wallet(conn: asyncpg.Connection) -> dict[str, int]:
    """What the database says each wallet was paid (contributions marked paid), in wei."""
    rows = await conn.fetch(
        """SELECT n.wallet_address, sum(c.payment_far) AS far FROM far_session_contributions c
           JOIN far_nodes n ON n.id = c.node_id WHERE c.paid_at IS NOT NULL GROUP BY n.wallet_address"""
    )
    return {r["wallet_address"]: far_to_wei(r["far"]) for r in rows}


async def assert_books_balance(conn: asyncpg.Connection, chain: PayoutChain, wallets: list[str]) -> None:
    """On-chain token balances equal the database's paid contributions, to the wei, for every wallet."""
    paid = await paid_wei_by_wallet(conn)
    for wallet in wallets:
        assert chain.token_balance(wallet) == paid.get(wallet.lower(), 0), wallet
    confirmed = await conn.fetchval("SELECT coalesce(sum(total_wei), 0) FROM far_payment_batches WHERE status = 'confirmed'")
    assert int(confirmed) == sum(paid.values())

