import socket

import pytest
from eth_account import Account

from farlabs_server.payouts.chain import ChainError
from farlabs_server.payouts.network import connect, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bsc-dataseed.example/", "https://bsc-dataseed.example"),
        ("https://rpc.example/v1/0123secret", "https://rpc.example/…"),
        ("https://user:pw@rpc.example:8545/?apikey=secret", "https://rpc.example:8545/…"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
    ],
)
def test_redact_url_keeps_only_scheme_and_host(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_unreachable_node_is_a_clear_error_without_the_secret() -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ChainError, match=r"cannot reach the RPC node at http://127\.0\.0\.1") as refused:
        connect(
            f"http://127.0.0.1:{port}/v1/SECRET",
            chain_id=56,
            token_address="0x" + "11" * 20,
            payout_address="0x" + "22" * 20,
            payer=Account.create(),
            timeout_s=2,
        )
    assert "SECRET" not in str(refused.value)


def test_only_http_urls() -> None:
    with pytest.raises(ChainError, match="must be http"):
        connect(
            "ws://127.0.0.1:1", chain_id=1, token_address="0x" + "11" * 20, payout_address="0x" + "22" * 20, payer=Account.create()
        )
