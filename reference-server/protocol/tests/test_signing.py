"""The signed texts against the vectors both sides are held to, and who-signed-it checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from farlabs_protocol import (
    SignatureError,
    authorization_message,
    recover_signer,
    registration_message,
    sign_text,
    signed_by,
)

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"


def vector(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def test_registration_text_is_the_documented_one() -> None:
    v = vector("registration_message.json")
    assert registration_message(v["body"]) == v["signed_text"]


def test_authorization_text_is_the_documented_one_whatever_the_address_case() -> None:
    v = vector("authorization_message.json")
    assert authorization_message(v["wallet_address"], v["node_address"]) == v["signed_text"]
    assert authorization_message(v["wallet_address"].upper().replace("0X", "0x"), v["node_address"]) == v["signed_text"]


def test_every_routing_or_paying_field_changes_the_registration_text() -> None:
    body = vector("registration_message.json")["body"]
    signed = registration_message(body)
    changes = {"node_name": "other", "peer_id": "12D3KooWOther", "model_id": "org/other", "start_block": 1,
               "end_block": 14, "total_blocks": 31, "mode": "local", "gateway_url": "http://127.0.0.1:9999",
               "region": "eu", "timestamp": body["timestamp"] + 1,
               "wallet_address": "0x" + "ef" * 20, "node_address": "0x" + "12" * 20}
    for field, value in changes.items():
        assert registration_message({**body, field: value}) != signed, field
    assert registration_message({**body, "hardware": {"gpu": "x"}}) == signed  # shown, never used to route or pay


def test_a_signature_names_its_signer() -> None:
    wallet, other = Account.create(), Account.create()
    text = authorization_message(wallet.address, other.address)
    signature = sign_text(wallet.key, text)
    assert recover_signer(text, signature) == wallet.address
    assert signed_by(text, signature, wallet.address.lower())
    assert not signed_by(text, signature, other.address)
    assert not signed_by(text + " ", signature, wallet.address)


@pytest.mark.parametrize("signature", ["", "0x", "0x1234", "not hex", "0x" + "00" * 65, "0x" + "ff" * 65])
def test_an_unreadable_signature_is_an_error_not_a_signer(signature: str) -> None:
    with pytest.raises(SignatureError):
        recover_signer("text", signature)
    assert not signed_by("text", signature, "0x" + "ab" * 20)
