"""Signed `POST /nodes/register` bodies, made as far-node makes them: the wallet authorizes the node key and
the node key signs the body, overrides included (docs/protocol.md, "Wallet proof")."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from farlabs_protocol import authorization_message, registration_message, sign_text

from .clock import FakeClock

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # the alphabet of libp2p peer ids


def registration_body(wallet: LocalAccount, node: LocalAccount, **overrides: object) -> dict[str, object]:
    """The one builder: a local-mode node's body unless `overrides` say otherwise, signed after they apply."""
    body: dict[str, object] = {
        "wallet_address": wallet.address, "node_address": node.address, "node_name": "fuzz-node",
        "peer_id": "12D3KooWFuzz", "model_id": "fuzz/model", "start_block": 0, "end_block": 2, "total_blocks": 2,
        "mode": "local", "gateway_url": "http://127.0.0.1:9", "timestamp": int(time.time()),
    }
    body.update(overrides)
    body["authorization"] = sign_text(wallet.key, authorization_message(wallet.address, node.address))
    body["signature"] = sign_text(node.key, registration_message(body))
    return body


def swarm_registration(name: str, *, model_id: str, start_block: int = 0, end_block: int = 4, total_blocks: int = 4,
                       gateway_url: str | None = None) -> dict[str, object]:
    """A swarm node's body for a fresh wallet and node key, with a random libp2p peer id."""
    peer_id = "12D3KooW" + "".join(secrets.choice(BASE58) for _ in range(44))
    return registration_body(Account.create(), Account.create(), node_name=name, peer_id=peer_id, model_id=model_id,
                             start_block=start_block, end_block=end_block, total_blocks=total_blocks,
                             mode="swarm", gateway_url=gateway_url)


@dataclass
class NodeIdentity:
    """A provider wallet and a node key it authorized, registering at the time of a (fake) clock."""

    wallet: LocalAccount
    node: LocalAccount
    name: str = "node-a"

    def registration(self, clock: FakeClock, **overrides: object) -> dict[str, object]:
        return registration_body(self.wallet, self.node, **{
            "node_name": self.name, "peer_id": "12D3KooWTestPeer" + self.name.replace("-", ""),
            "model_id": "test/tiny-llama", "start_block": 0, "end_block": 2, "total_blocks": 4,
            "mode": "swarm", "gateway_url": "http://127.0.0.1:9", "region": "eu-west",
            "hardware": {"gpu_name": "CPU", "ram_total_gb": 24.0},
            "timestamp": int(clock().timestamp()), **overrides,
        })
