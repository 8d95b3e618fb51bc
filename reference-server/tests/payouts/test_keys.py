import json
import logging
from pathlib import Path

import pytest
from eth_account import Account

from farlabs_server.payouts.keys import PayerKeyError, load_payer

KEY = "0x" + "4c" * 32


def test_from_private_key() -> None:
    assert load_payer(private_key=KEY).address == Account.from_key(KEY).address
    assert load_payer(private_key=f"  {KEY[2:]}\n").address == Account.from_key(KEY).address


def test_from_encrypted_keystore(tmp_path: Path) -> None:
    path = tmp_path / "payer.json"
    path.write_text(json.dumps(Account.encrypt(KEY, "correct horse", iterations=2)))
    assert load_payer(keystore_path=path, keystore_password="correct horse").address == Account.from_key(KEY).address
    with pytest.raises(PayerKeyError, match="does not open with this password"):
        load_payer(keystore_path=path, keystore_password="wrong")
    with pytest.raises(PayerKeyError, match="needs a password"):
        load_payer(keystore_path=path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "no payer key"),
        ({"private_key": KEY, "keystore_path": "x.json"}, "not both"),
        ({"keystore_path": "/nonexistent/payer.json", "keystore_password": "p"}, "cannot read"),
    ],
)
def test_missing_or_ambiguous_sources(kwargs: dict, message: str) -> None:
    with pytest.raises(PayerKeyError, match=message):
        load_payer(**kwargs)


def test_a_bad_key_is_refused_without_echoing_it(caplog: pytest.LogCaptureFixture) -> None:
    almost = "0x" + "4c" * 31 + "zz"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PayerKeyError) as refused:
        load_payer(private_key=almost)
    assert "4c4c" not in str(refused.value) and refused.value.__cause__ is None
    assert "4c4c" not in caplog.text
    assert "4c4c" not in repr(load_payer(private_key=KEY))


def test_a_garbage_keystore_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "payer.json"
    path.write_text("{not json")
    with pytest.raises(PayerKeyError, match="not JSON"):
        load_payer(keystore_path=path, keystore_password="p")
    path.write_text(json.dumps({"version": 3}))
    with pytest.raises(PayerKeyError, match="not a valid encrypted key file"):
        load_payer(keystore_path=path, keystore_password="p")
