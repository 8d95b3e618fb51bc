"""The provider dashboard in a real browser, on data a real session and a real payout produced.

A provider's node (node-a of the session mesh) serves a generation; an admin runs the payout on the server's local
chain; then `dashboard_browser.mjs` drives Debian's Chromium: wallet sign-in (EIP-191), the node online, earnings,
the payment's transaction, a streamed playground answer, the earnings moving without a reload, and the
`far-node dashboard` link on a phone-sized screen. Screenshots land in test-artifacts/dashboard/.

Without a Chromium this is skipped, and says so (`make test` prints it too): `apt-get install chromium`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from farlabs_devtools.localmesh import LocalMesh
from farlabs_devtools.testing import db_fetch, wait_for_final_session

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = os.environ.get("FARLABS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"



def test_far_node_dashboard_prints_a_sign_in_link_for_its_wallet_only(mesh: LocalMesh, covered: Any) -> None:
    link = mesh.dashboard_link("node-a")
    assert link.startswith(f"{mesh.url}/dashboard#token=")
    token = link.split("#token=", 1)[1]
    wallet = wallet_of(mesh, "node-a")
    mine = httpx.get(f"{mesh.url}/provider/{wallet}/nodes", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200 and [n["node_name"] for n in mine.json()["nodes"]] == ["node-a"]
    theirs = httpx.get(f"{mesh.url}/provider/{wallet_of(mesh, 'node-b')}/nodes", headers={"Authorization": f"Bearer {token}"})
    assert theirs.status_code == 403 and theirs.json()["error"]["code"] == "not_your_wallet"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="BROWSER TESTS SKIPPED: no Chromium here (apt-get install chromium)")
def test_dashboard_in_chromium(mesh: LocalMesh, api_key: str, admin_headers: dict[str, str], covered: Any) -> None:
    wallet = wallet_of(mesh, "node-a")
    # A real session credits node-a's wallet; the payout then pays it on the server's local chain.
    response = httpx.post(f"{mesh.url}/mesh/inference/generate", headers={"Authorization": f"Bearer {api_key}"},
                          json={"prompt": "The dashboard test", "max_tokens": 8, "stream": False}, timeout=120)
    assert response.status_code == 200, response.text
    assert wait_for_final_session(mesh, response.json()["request_id"])["status"] == "completed"
    run = httpx.post(f"{mesh.url}/admin/payouts/run", headers=admin_headers, timeout=120)
    assert run.status_code == 200, run.text
    [batch] = [b for b in run.json()["batches"] if b["status"] == "confirmed"]
    [paid] = db_fetch(mesh, "SELECT amount_far FROM far_payment_recipients WHERE batch_id = $1 AND wallet_address = $2",
                      batch["id"], wallet)
    assert paid["amount_far"] > 0

    link = mesh.dashboard_link("node-a")
    env = {**os.environ, "FARLABS_BASE_URL": mesh.url, "FARLABS_API_KEY": api_key, "FARLABS_WALLET_KEY": key_of(mesh, "node-a"),
           "FARLABS_DASHBOARD_LINK": link, "FARLABS_NODE_NAME": "node-a", "FARLABS_CHROMIUM": str(CHROMIUM),
           "FARLABS_ARTIFACTS": str(ARTIFACTS)}
    node = shutil.which("node")
    assert node, "Node.js is required (make test installs the npm workspace)"
    result = subprocess.run([node, str(Path(__file__).with_name("dashboard_browser.mjs"))], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["pageErrors"] == [] and seen["offLoopback"] == []
    assert seen["signedInAs"] == wallet
    assert "online" in seen["nodeLine"] and "uptime" in seen["nodeLine"]
    assert "cores" in seen["hardware"] or "GB" in seen["hardware"]
    assert seen["earningBars"] == 30 and Decimal(seen["before"]["paid"]) == paid["amount_far"]  # 30 days, zeros too
    assert seen["earningsByNode"].startswith("node-a ") and "tokens" in seen["earningsByNode"]
    assert seen["paymentTx"] == batch["tx_hash"] and batch["tx_hash"][:10] in seen["paymentRow"]
    assert seen["answer"].startswith("assistant:") and len(seen["answer"]) > len("assistant: ")
    assert seen["playgroundAsksForKey"] == 1 and "Invalid or revoked API key" in seen["badKeyError"]
    assert seen["playgroundError"] == 0 and seen["keyKept"] is False  # only the short-lived token is kept
    assert seen["streamedLengths"] >= 2  # the answer grew token by token, not in one piece
    assert Decimal(seen["after"]["unpaid"]) > Decimal(seen["before"]["unpaid"])  # live, without a reload
    assert seen["desktopOverflowPx"] <= 0
    assert "#token=" not in seen["phoneUrl"] and seen["phoneOverflowPx"] <= 0  # readable on a phone
    assert seen["emptyCards"] == 4  # nodes, hardware, earnings, payments: "Nothing yet.", not a blank page
    not_a_token, tampered = seen["signInErrors"]  # back at sign-in, told why: no blank page, no stale data
    assert "not valid" in not_a_token and "far-node dashboard" in not_a_token and "expired or is not valid" in tampered
    assert seen["signedOut"]
    for shot in ("dashboard-signin.png", "dashboard-desktop.png", "dashboard-phone.png"):
        assert (ARTIFACTS / shot).stat().st_size > 5000


def key_of(mesh: LocalMesh, node: str) -> str:
    return (mesh.node_home(node) / "wallet.key").read_text().strip()


def wallet_of(mesh: LocalMesh, node: str) -> str:
    from eth_account import Account

    return str(Account.from_key(bytes.fromhex(key_of(mesh, node))).address).lower()
