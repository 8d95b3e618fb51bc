"""Settings read the plan's environment variable names."""

from __future__ import annotations

from decimal import Decimal

import pytest

from farlabs_server.settings import Settings


def test_plan_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_URL", "postgresql://u:p@db:5432/farlabs")
    monkeypatch.setenv("REDIS_URL", "redis://r:6379/0")
    monkeypatch.setenv("FAR_MESH_DHT_BOOTSTRAP", "/ip4/127.0.0.1/tcp/31337/p2p/QmA, /ip4/127.0.0.1/tcp/31338/p2p/QmB")
    monkeypatch.setenv("DEFAULT_MODEL_ID", "meta-llama/Llama-2-7b-chat-hf")
    monkeypatch.setenv("PRICE_PER_TOKEN_FAR", "0.0001")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    s = Settings()
    assert s.postgres_url is not None and s.postgres_url.get_secret_value().endswith("/farlabs")
    assert "p@db" not in repr(s)  # the password stays out of reprs and logs
    assert s.redis_url == "redis://r:6379/0"
    assert s.dht_bootstrap == ["/ip4/127.0.0.1/tcp/31337/p2p/QmA", "/ip4/127.0.0.1/tcp/31338/p2p/QmB"]
    assert s.default_model_id == "meta-llama/Llama-2-7b-chat-hf"
    assert s.price_per_token_far == Decimal("0.0001") and isinstance(s.price_per_token_far, Decimal)
    assert s.log_level == "DEBUG"


def test_database_url_alias_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTGRES_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://x/y")
    s = Settings()
    assert s.postgres_url is not None and s.postgres_url.get_secret_value() == "postgresql://x/y"
    assert s.host == "127.0.0.1" and s.port == 8100 and s.offline_after_s == 90


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRICE_PER_TOKEN_FAR", "-1")
    with pytest.raises(ValueError, match="PRICE_PER_TOKEN_FAR"):
        Settings()
