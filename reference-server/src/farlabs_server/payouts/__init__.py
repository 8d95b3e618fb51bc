"""Payouts: paying providers their $FAR on chain, exactly once.

- `amounts`   FAR `Decimal` <-> wei `int`, exact
- `planner`   unpaid contributions -> batches of payees (pure, deterministic)
- `contracts` the compiled FarToken / FarBatchPayout artifacts
- `chain`     sign, broadcast, look up and confirm batch transactions (web3)
- `local`     the embedded in-process EVM with the contracts deployed
- `keys`      the payer's key from the environment or an encrypted keystore
- `tracker`   one payout run: plan once a week, pay batch by batch, finish what a crash left open
- `runtime`   the configured network -> a connected chain (in-process, dev node, testnet, mainnet)
- `service`   a process's payouts: its chain, metrics, runs and dry runs
- `scheduler` Monday 00:00 UTC inside the server, one replica per run (`start_payouts` for the app)
- `admin`, `report`, `cli`, `metrics`  what admins read, the printed lines, the CLI group, Prometheus

Their SQL is in `farlabs_server.db.payouts`. `chain`, `local` and `keys` import web3 (about a second); import
them where they are used.
"""

from .amounts import AmountError, far_to_wei, format_far, wei_to_far
from .planner import Contribution, Payee, PayoutPlan, PlanError, PlannedBatch, batch_id_for, plan_payouts

__all__ = [
    "AmountError",
    "Contribution",
    "Payee",
    "PayoutPlan",
    "PlanError",
    "PlannedBatch",
    "batch_id_for",
    "far_to_wei",
    "format_far",
    "plan_payouts",
    "wei_to_far",
]
