"""Payouts' SQL: runs, batches, their transactions, the contributions they reserve, what admins read, and
the contracts deployed on a local dev chain.

Every write that moves money forward is its own transaction, done *before* the step it records takes
effect on chain (a plan is saved before anything is signed, a signed transaction before it is sent), so a
crash at any point leaves the database knowing at least as much as the chain.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg

from ..payouts.amounts import wei_to_far
from ..payouts.planner import Contribution, PayoutPlan
from .database import PooledConnection

if TYPE_CHECKING:  # payouts.chain imports web3 (about a second)
    from ..payouts.chain import SignedTx

OPEN_STATUSES = ("planned", "signed", "broadcast", "failed")
# Any constant unique to payouts (the migration lock is another): held by the one replica running payouts.
PAYOUT_LOCK_ID = 0x4641525041590001  # "FARPAY" + 1


class MoneyMismatch(RuntimeError):
    """What a batch reserved no longer adds up to what it pays; nothing is marked (a bug, never expected)."""


@dataclass(frozen=True)
class BatchRow:
    """One batch as the tracker needs it."""

    id: uuid.UUID
    batch_key: str
    period_start: date
    network: str
    chunk_index: int
    status: str
    total_wei: int
    recipient_count: int
    chain_id: int | None
    chain_instance: str | None
    payout_address: str | None
    gas_limit: int | None
    nonce: int | None
    tx_hash: str | None
    raw_tx: str | None
    attempts: int
    error: str | None
    recipients: tuple[str, ...] = ()
    amounts_wei: tuple[int, ...] = ()

    @property
    def batch_id(self) -> bytes:
        return bytes.fromhex(self.batch_key[2:])


@dataclass(frozen=True)
class TxRow:
    """One transaction signed for a batch."""

    tx_hash: str
    attempt: int
    nonce: int
    status: str
    fees: dict[str, Any]


# ---------------------------------------------------------------- the one replica running payouts
async def try_payout_lock(conn: PooledConnection) -> bool:
    """Take the session-level payout lock on this pooled connection, or False if another session holds it."""
    conn.hold_session_state()  # a session-level lock: this connection is fully reset on release
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", PAYOUT_LOCK_ID))


async def release_payout_lock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", PAYOUT_LOCK_ID)


# ---------------------------------------------------------------- runs
async def interrupt_stale_runs(conn: asyncpg.Connection, now: datetime) -> int:
    """Runs still 'running' while we hold the payout lock died with their process."""
    result: str = await conn.execute(
        "UPDATE far_payout_runs SET status = 'interrupted', finished_at = $1 WHERE status = 'running'", now
    )
    return int(result.split()[-1])


async def start_run(conn: asyncpg.Connection, *, network: str, chain_id: int, period_start: date, cutoff: datetime,
                    trigger: str, now: datetime) -> uuid.UUID:
    run_id: uuid.UUID = await conn.fetchval(
        """INSERT INTO far_payout_runs (network, chain_id, period_start, cutoff, trigger, started_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        network, chain_id, period_start, cutoff, trigger, now,
    )
    return run_id


async def period_plan_run(conn: asyncpg.Connection, network: str, chain_id: int, period_start: date) -> asyncpg.Record | None:
    """The run that planned this period on this chain, if one did."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT id, started_at, cutoff FROM far_payout_runs
           WHERE network = $1 AND chain_id = $2 AND period_start = $3 AND plan_saved""",
        network, chain_id, period_start,
    )
    return row


async def finish_run(conn: asyncpg.Connection, run_id: uuid.UUID, *, status: str, now: datetime,
                     error: str | None = None, providers_paid: int = 0, paid_wei: int = 0,
                     batches_confirmed: int = 0) -> None:
    await conn.execute(
        """UPDATE far_payout_runs SET status = $2, finished_at = $3, error = $4, providers_paid = $5,
                  paid_wei = $6, batches_confirmed = $7 WHERE id = $1""",
        run_id, status, now, error, providers_paid, Decimal(paid_wei), batches_confirmed,
    )


# ---------------------------------------------------------------- planning
# Unpaid (far_contribution_unpaid, migration 009) and reserved by no batch yet: what a plan may take.
_PLANNABLE = "far_contribution_unpaid(c) AND c.payment_batch_id IS NULL"


async def unpaid_contributions(conn: asyncpg.Connection, cutoff: datetime) -> list[Contribution]:
    """Unpaid contributions created up to `cutoff` that no batch has reserved yet."""
    rows = await conn.fetch(
        f"""SELECT n.wallet_address, c.id, c.payment_far
            FROM far_session_contributions c JOIN far_nodes n ON n.id = c.node_id
            WHERE {_PLANNABLE} AND c.created_at <= $1""",
        cutoff,
    )
    return [Contribution(r[0], r[1], r[2]) for r in rows]


async def owed_by_wallet(conn: asyncpg.Connection) -> dict[str, Decimal]:
    """Per wallet, what is unpaid and not yet in any batch (what the next plan would consider)."""
    rows = await conn.fetch(
        f"""SELECT n.wallet_address, sum(c.payment_far) AS owed
            FROM far_session_contributions c JOIN far_nodes n ON n.id = c.node_id
            WHERE {_PLANNABLE} GROUP BY n.wallet_address"""
    )
    return {r["wallet_address"]: r["owed"] for r in rows}


async def save_plan(conn: asyncpg.Connection, run_id: uuid.UUID, plan: PayoutPlan, *, network: str,
                    chain_instance: str, payout_address: str, now: datetime) -> list[uuid.UUID]:
    """In one transaction: the batches, their recipients, the contributions they reserve, the run's plan flag.

    Reserving checks every contribution was still free, so two planners can never take the same one.
    """
    ids: list[uuid.UUID] = []
    async with conn.transaction():
        for batch in plan.batches:
            batch_id: uuid.UUID = await conn.fetchval(
                """INSERT INTO far_payment_batches (batch_key, period_start, network, chunk_index, status, total_far,
                       total_wei, recipient_count, chain_id, chain_instance, payout_address, gas_limit, run_id,
                       created_at, updated_at)
                   VALUES ($1, $2, $3, $4, 'planned', $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id""",
                batch.batch_id_hex, plan.period_start, network, batch.chunk_index, wei_to_far(batch.total_wei),
                Decimal(batch.total_wei), len(batch.payees), plan.chain_id, chain_instance, payout_address,
                batch.gas_limit, run_id, now,
            )
            await conn.executemany(
                "INSERT INTO far_payment_recipients (batch_id, wallet_address, amount_far, amount_wei) VALUES ($1, $2, $3, $4)",
                [(batch_id, p.wallet_address.lower(), p.amount_far, Decimal(p.amount_wei)) for p in batch.payees],
            )
            wanted = [cid for p in batch.payees for cid in p.contribution_ids]
            result = await conn.execute(
                f"""UPDATE far_session_contributions c SET payment_batch_id = $1
                    WHERE c.id = ANY($2::uuid[]) AND {_PLANNABLE}""",
                batch_id, wanted,
            )
            if int(result.split()[-1]) != len(wanted):
                raise RuntimeError("a planned contribution was reserved or paid meanwhile; planning again")
            ids.append(batch_id)
        await conn.execute(
            """UPDATE far_payout_runs SET plan_saved = true, batches_planned = $2, carried_wei = $3 WHERE id = $1""",
            run_id, len(plan.batches), Decimal(plan.total_carried_wei),
        )
    return ids


# ---------------------------------------------------------------- batches
_BATCH_COLUMNS = """id, batch_key, period_start, network, chunk_index, status, total_wei, recipient_count, chain_id,
    chain_instance, payout_address, gas_limit, nonce, tx_hash, raw_tx, attempts, error"""


async def open_batches(conn: asyncpg.Connection, network: str) -> list[BatchRow]:
    """Batches of `network` not yet confirmed, oldest first (so nonces are reused in order)."""
    rows = await conn.fetch(
        f"SELECT {_BATCH_COLUMNS} FROM far_payment_batches WHERE network = $1 AND status = ANY($2::text[]) "
        "ORDER BY created_at, period_start, chunk_index",
        network, list(OPEN_STATUSES),
    )
    return [await _with_recipients(conn, row) for row in rows]


async def load_batch(conn: asyncpg.Connection, batch_id: uuid.UUID) -> BatchRow:
    row = await conn.fetchrow(f"SELECT {_BATCH_COLUMNS} FROM far_payment_batches WHERE id = $1", batch_id)
    if row is None:
        raise LookupError(f"no batch {batch_id}")
    return await _with_recipients(conn, row)


async def _with_recipients(conn: asyncpg.Connection, row: asyncpg.Record) -> BatchRow:
    recipients = await conn.fetch(
        "SELECT wallet_address, amount_wei FROM far_payment_recipients WHERE batch_id = $1 ORDER BY wallet_address",
        row["id"],
    )
    data = dict(row)
    data["total_wei"] = int(data["total_wei"])
    return BatchRow(**data, recipients=tuple(r[0] for r in recipients),
                    amounts_wei=tuple(int(r[1]) for r in recipients))


async def transactions(conn: asyncpg.Connection, batch_id: uuid.UUID) -> list[TxRow]:
    """Every transaction signed for a batch, newest first."""
    rows = await conn.fetch(
        "SELECT tx_hash, attempt, nonce, status, fees FROM far_payment_transactions WHERE batch_id = $1 ORDER BY attempt DESC",
        batch_id,
    )
    # Rows written before the fees went in as an object hold them as a JSON string (encoded twice).
    return [TxRow(r[0], r[1], r[2], r[3], r[4] if isinstance(r[4], dict) else json.loads(r[4])) for r in rows]


async def record_signed(conn: asyncpg.Connection, batch: BatchRow, signed: SignedTx, now: datetime) -> None:
    """Save a signed transaction (hash, raw bytes, nonce) before it is broadcast."""
    fees = {k: str(v) for k, v in vars(signed.fees).items() if v is not None}
    async with conn.transaction():
        # The very same bytes signed again (same nonce, fees and contracts, e.g. on a fresh local chain) are the
        # same transaction: its row comes back to life instead of a second one.
        attempt = await conn.fetchval(
            "UPDATE far_payment_transactions SET status = 'signed', error = NULL, updated_at = $3 "
            "WHERE tx_hash = $2 AND batch_id = $1 RETURNING attempt",
            batch.id, signed.tx_hash, now,
        )
        if attempt is None:
            attempt = await conn.fetchval(
                "SELECT coalesce(max(attempt), 0) + 1 FROM far_payment_transactions WHERE batch_id = $1", batch.id
            )
            await conn.execute(
                """INSERT INTO far_payment_transactions (batch_id, attempt, nonce, tx_hash, raw_tx, gas_limit, fees,
                       created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $8)""",
                batch.id, attempt, signed.nonce, signed.tx_hash, signed.raw_tx, signed.gas, fees, now,
            )
        await conn.execute(
            """UPDATE far_payment_batches SET status = 'signed', nonce = $2, tx_hash = $3, raw_tx = $4,
                   attempts = $5, error = NULL, updated_at = $6 WHERE id = $1""",
            batch.id, signed.nonce, signed.tx_hash, signed.raw_tx, attempt, now,
        )


async def record_broadcast(conn: asyncpg.Connection, batch_id: uuid.UUID, tx_hash: str, now: datetime) -> None:
    async with conn.transaction():
        await conn.execute(
            "UPDATE far_payment_batches SET status = 'broadcast', updated_at = $3 WHERE id = $1 AND tx_hash = $2",
            batch_id, tx_hash, now,
        )
        await set_tx_status(conn, tx_hash, "broadcast", now)


async def set_tx_status(conn: asyncpg.Connection, tx_hash: str, status: str, now: datetime, *,
                        block_number: int | None = None, gas_used: int | None = None, error: str | None = None) -> None:
    await conn.execute(
        """UPDATE far_payment_transactions SET status = $2, updated_at = $3, block_number = coalesce($4, block_number),
               gas_used = coalesce($5, gas_used), error = coalesce($6, error) WHERE tx_hash = $1""",
        tx_hash, status, now, block_number, gas_used, error,
    )


async def record_failed(conn: asyncpg.Connection, batch_id: uuid.UUID, error: str, now: datetime) -> None:
    """The batch is not paid and nothing of it is in flight; the next run retries it (its contributions stay reserved)."""
    await conn.execute(
        "UPDATE far_payment_batches SET status = 'failed', error = $2, updated_at = $3 WHERE id = $1", batch_id, error, now
    )


async def record_note(conn: asyncpg.Connection, batch_id: uuid.UUID, error: str, now: datetime) -> None:
    """Say why a batch is still open without changing where it stands (e.g. not confirmed in time)."""
    await conn.execute("UPDATE far_payment_batches SET error = $2, updated_at = $3 WHERE id = $1", batch_id, error, now)


async def reset_for_new_chain(conn: asyncpg.Connection, batch: BatchRow, *, chain_instance: str, payout_address: str,
                              now: datetime) -> None:
    """The batch's transactions went with a chain that no longer exists (the in-process EVM): plan it again as is."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE far_payment_transactions SET status = 'lost', error = 'the chain it was sent to is gone', updated_at = $2 "
            "WHERE batch_id = $1 AND status IN ('signed', 'broadcast')",
            batch.id, now,
        )
        await conn.execute(
            """UPDATE far_payment_batches SET status = 'planned', nonce = NULL, tx_hash = NULL, raw_tx = NULL,
                   chain_instance = $2, payout_address = $3, error = NULL, updated_at = $4 WHERE id = $1""",
            batch.id, chain_instance, payout_address, now,
        )


async def mark_paid(conn: asyncpg.Connection, batch: BatchRow, *, tx_hash: str, block_number: int, gas_used: int | None,
                    now: datetime, before_commit: Any = None) -> int:
    """Confirmed on chain: mark the batch confirmed and every contribution it reserved paid, in one transaction.

    Returns the number of contributions marked. Refuses (MoneyMismatch) if they no longer add up to the batch.
    """
    async with conn.transaction():
        owed = await conn.fetchval(
            "SELECT coalesce(sum(payment_far), 0) FROM far_session_contributions WHERE payment_batch_id = $1", batch.id
        )
        if owed != wei_to_far(batch.total_wei):
            raise MoneyMismatch(f"batch {batch.batch_key}: contributions add up to {owed} FAR, the batch paid "
                                f"{wei_to_far(batch.total_wei)} FAR")
        if before_commit is not None:
            before_commit()
        result = await conn.execute(
            "UPDATE far_session_contributions SET paid_at = $2, tx_hash = $3 WHERE payment_batch_id = $1 AND paid_at IS NULL",
            batch.id, now, tx_hash,
        )
        await conn.execute(
            """UPDATE far_payment_batches SET status = 'confirmed', confirmed_at = $2, tx_hash = $3, block_number = $4,
                   error = NULL, updated_at = $2 WHERE id = $1""",
            batch.id, now, tx_hash, block_number,
        )
        await set_tx_status(conn, tx_hash, "mined", now, block_number=block_number, gas_used=gas_used)
        await conn.execute(
            "UPDATE far_payment_transactions SET status = 'replaced', updated_at = $3 "
            "WHERE batch_id = $1 AND tx_hash <> $2 AND status IN ('signed', 'broadcast')",
            batch.id, tx_hash, now,
        )
    return int(result.split()[-1])


async def status_counts(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) FROM far_payment_batches GROUP BY status")
    return {r[0]: int(r[1]) for r in rows}


# ---------------------------------------------------------------- what admins read (rows for payouts/admin.py)
_SUMMARY = """id, batch_key, period_start, network, chain_id, chunk_index, status, total_far, total_wei::text AS total_wei,
    recipient_count, attempts, nonce, tx_hash, block_number, error, created_at, updated_at, confirmed_at"""


async def batch_summaries(conn: asyncpg.Connection, *, status: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_SUMMARY} FROM far_payment_batches WHERE ($1::text IS NULL OR status = $1) "
        "ORDER BY created_at DESC, chunk_index LIMIT $2",
        status, limit,
    )
    return [dict(r) for r in rows]


async def batch_summaries_by_key(conn: asyncpg.Connection, batch_keys: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {_SUMMARY} FROM far_payment_batches WHERE batch_key = ANY($1::text[])", batch_keys)
    return [dict(r) for r in rows]


@dataclass(frozen=True)
class BatchDetailRows:
    summary: dict[str, Any]
    recipients: list[dict[str, Any]]
    transactions: list[dict[str, Any]]
    contributions: int


async def batch_detail(conn: asyncpg.Connection, batch_id: uuid.UUID) -> BatchDetailRows | None:
    row = await conn.fetchrow(f"SELECT {_SUMMARY} FROM far_payment_batches WHERE id = $1", batch_id)
    if row is None:
        return None
    recipients = await conn.fetch(
        "SELECT wallet_address, amount_far, amount_wei::text AS amount_wei FROM far_payment_recipients "
        "WHERE batch_id = $1 ORDER BY wallet_address", batch_id)
    txs = await conn.fetch(
        "SELECT attempt, nonce, tx_hash, status, block_number, gas_used, error, created_at FROM far_payment_transactions "
        "WHERE batch_id = $1 ORDER BY attempt", batch_id)
    contributions = await conn.fetchval(
        "SELECT count(*) FROM far_session_contributions WHERE payment_batch_id = $1", batch_id)
    return BatchDetailRows(dict(row), [dict(r) for r in recipients], [dict(t) for t in txs], int(contributions))


async def runs(conn: asyncpg.Connection, *, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, network, chain_id, period_start, cutoff, trigger, status, providers_paid,
                  paid_wei, carried_wei, batches_planned, batches_confirmed,
                  error, started_at, finished_at
           FROM far_payout_runs ORDER BY started_at DESC LIMIT $1""",
        limit,
    )
    return [dict(r) for r in rows]


# ---------------------------------------------------------------- contracts on a local dev chain
@dataclass(frozen=True)
class LocalContracts:
    token_address: str
    payout_address: str


async def latest_local_contracts(conn: asyncpg.Connection) -> LocalContracts | None:
    row = await conn.fetchrow(
        "SELECT token_address, payout_address FROM far_payout_contracts WHERE network = 'local' "
        "ORDER BY deployed_at DESC LIMIT 1"
    )
    return LocalContracts(**dict(row)) if row else None


async def save_local_contracts(conn: asyncpg.Connection, *, chain_id: int, chain_instance: str, token_address: str,
                               payout_address: str, payer_address: str) -> None:
    await conn.execute(
        """INSERT INTO far_payout_contracts (network, chain_id, chain_instance, token_address, payout_address, payer_address)
           VALUES ('local', $1, $2, $3, $4, $5)
           ON CONFLICT (network, chain_id, chain_instance) DO UPDATE
               SET token_address = excluded.token_address, payout_address = excluded.payout_address,
                   payer_address = excluded.payer_address, deployed_at = now()""",
        chain_id, chain_instance, token_address, payout_address, payer_address,
    )
