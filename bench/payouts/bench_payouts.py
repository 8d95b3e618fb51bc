"""Benchmark payouts: gas per recipient of FarBatchPayout vs separate ERC-20 transfers, and planning time.

Runs on the in-process EVM (py-evm), so gas figures are exact and the same as on any EVM chain at the
prague fork; wall-clock times of the EVM itself are not meaningful and are not reported.

    python bench/payouts/bench_payouts.py [--contributions 1000000] [--sizes 1,10,100,500]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import date
from decimal import Decimal

from eth_account import Account

from farlabs_server.payouts.chain import PayoutChain, TxStatus
from farlabs_server.payouts.local import local_chain
from farlabs_server.payouts.planner import Contribution, batch_gas_limit, batch_id_for, plan_payouts

PERIOD = date(2026, 11, 23)
AMOUNT_WEI = 12 * 10**18


def _fresh_wallets(n: int, rng: random.Random) -> list[str]:
    return sorted((Account.from_key(rng.randbytes(32)).address for _ in range(n)), key=str.lower)


def _mined_gas(chain: PayoutChain, tx_hash: str) -> int:
    seen = chain.wait_for_confirmations(tx_hash, 1, timeout_s=600, poll_interval_s=0.01)
    if seen.status is not TxStatus.MINED:
        raise SystemExit(f"benchmark transaction failed: {seen.error}")
    assert seen.gas_used is not None
    return seen.gas_used


def _pay(chain: PayoutChain, wallets: list[str], tag: str) -> int:
    amounts = [AMOUNT_WEI] * len(wallets)
    batch_id = batch_id_for(PERIOD, chain.chain_id + len(tag), wallets, amounts)  # distinct id per run
    signed = chain.sign_batch(batch_id, wallets, amounts, gas=batch_gas_limit(len(wallets)))
    return _mined_gas(chain, chain.broadcast(signed))


def _approve(chain: PayoutChain, amount_wei: int) -> None:
    _mined_gas(chain, chain.broadcast(chain.sign_approval(amount_wei)))


def measure_gas(sizes: list[int], seed: int = 7) -> list[dict[str, object]]:
    """Gas per recipient: batch (new and repeat payees, finite and unlimited allowance) vs transfer()."""
    rng = random.Random(seed)
    rows = []
    for n in sizes:
        chain, _ = local_chain()
        wallets = _fresh_wallets(n, rng)
        _approve(chain, 10**30)  # finite: the contract's allowance is written per transfer
        batch_new_finite = _pay(chain, wallets, "finite-new")
        repeat_finite = _pay(chain, wallets, "finite-repeat")
        _approve(chain, 2**256 - 1)  # unlimited: FarToken skips the allowance write
        other = _fresh_wallets(n, rng)
        batch_new_unlimited = _pay(chain, other, "unlimited-new")
        transfers = 0
        for wallet in _fresh_wallets(n, rng):
            data = chain.token.encode_abi("transfer", args=[wallet, AMOUNT_WEI])
            transfers += _mined_gas(chain, chain.broadcast(chain.sign_call(chain.token.address, data, gas=80_000)))
        rows.append(
            {
                "n": n,
                "batch_new": batch_new_finite / n,
                "batch_new_unlimited": batch_new_unlimited / n,
                "batch_repeat": repeat_finite / n,
                "transfer": transfers / n,
                "batch_total": batch_new_finite,
                "limit": batch_gas_limit(n),
            }
        )
    return rows


def measure_planning(count: int, wallets: int = 5_000, seed: int = 11) -> tuple[float, float, int, int]:
    """Wall and CPU seconds to plan `count` contributions over `wallets` wallets (input generation not timed).

    Ids are stdlib `uuid.UUID`s, whose hash runs in Python: slower than asyncpg's C UUIDs the tracker gets.
    """
    rng = random.Random(seed)
    addresses = [Account.from_key(rng.randbytes(32)).address for _ in range(wallets)]
    scale = Decimal("1e-18")
    contributions = [
        Contribution(
            addresses[rng.randrange(wallets)], uuid.UUID(int=rng.getrandbits(128)), Decimal(rng.randrange(10**15, 10**19)) * scale
        )
        for _ in range(count)
    ]
    started, cpu_started = time.perf_counter(), time.process_time()
    plan = plan_payouts(contributions, period_start=PERIOD, chain_id=56)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return elapsed, cpu, len(plan.payees), len(plan.batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,500", help="batch sizes (comma-separated)")
    parser.add_argument("--contributions", type=int, default=1_000_000, help="contributions to plan")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    rows = measure_gas(sizes)
    print(
        "| recipients | batch, new payees (gas/recipient) | batch, new, unlimited allowance | batch, repeat payees "
        "| separate transfer() | saving (new) | batch gas used / limit |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        saving = 1 - float(r["batch_new"]) / float(r["transfer"])  # type: ignore[arg-type]
        print(
            f"| {r['n']} | {r['batch_new']:,.0f} | {r['batch_new_unlimited']:,.0f} | {r['batch_repeat']:,.0f} | "
            f"{r['transfer']:,.0f} | {saving:.0%} | {r['batch_total']:,} / {r['limit']:,} |"
        )
    elapsed, cpu, payees, batches = measure_planning(args.contributions)
    print()
    print("| contributions | wallets paid | batches | planning time (wall) | planning time (CPU) |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {args.contributions:,} | {payees:,} | {batches} | {elapsed:.2f} s | {cpu:.2f} s |")


if __name__ == "__main__":
    main()
