"""The node's one settings object: every setting of `far-node`, its default, its env var and its config-file key.

Where a value comes from, first match wins:
1. `far-node run` flags (the CLI passes only the flags that were given);
2. environment variables `FARLABS_NODE_<NAME>` (`FARLABS_NODE_GATEWAY_PORT=8301`), and the names older than this
   object, which keep working: `FARLABS_NODE_HOME`, `FARLABS_CACHE_DIR`, `FARLABS_SERVER_URL`,
   `FARLABS_GATEWAY_TOKEN`, `FAR_MESH_DHT_BOOTSTRAP`, `LOG_LEVEL`;
3. the config file `$FARLABS_NODE_HOME/config.json`, written by `far-node setup` (any setting may be added by hand);
4. the defaults below.

DHT peers come from `initial_peers` (flag, env, file), else from `FAR_MESH_DHT_BOOTSTRAP`, else from the
server's `GET /nodes/bootstrap` (`farlabs_node.peers`). docs/provider-guide.md has the table of all settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from farlabs_node.config import (
    CONFIG_FILENAME,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_HOST,
    DEFAULT_MODEL_ID,
    HEARTBEAT_INTERVAL_S,
    HIVEMIND_IDENTITY_FILENAME,
    write_secret,
)

ENV_PREFIX = "FARLABS_NODE_"
Mode = Literal["swarm", "local"]
TorchDtype = Literal["float32", "bfloat16", "float16"]
QuantType = Literal["none", "int8", "nf4"]
# what `far-node setup` records; everything else in the config file was put there by hand and is kept as it is
SETUP_FIELDS = ("wallet_address", "node_address", "authorization", "node_name", "model", "public_ip", "region",
                "server_url", "initial_peers")


def _names(field: str, *older: str) -> AliasChoices:
    """The env names of a setting whose older name must keep working: FARLABS_NODE_<FIELD> first, then those."""
    return AliasChoices(ENV_PREFIX + field.upper(), *older)


class NodeSettings(BaseSettings):
    """Configuration of one `far-node` process. Every field has a working default."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    # --- where things are kept
    home: Path = Field(default_factory=lambda: Path.home() / ".farlabs-node",
                       description="The node's config, keys and tokens.")
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "farlabs",
                            validation_alias=_names("cache_dir", "FARLABS_CACHE_DIR"),
                            description="Prepared model checkpoints.")
    log_level: str = Field("INFO", validation_alias=_names("log_level", "LOG_LEVEL"))

    # --- who the node is (`far-node setup`)
    wallet_address: str = Field("", description="BSC wallet that receives $FAR (EIP-55 checksummed).")
    node_address: str = Field("", description="Address of the node's own key (node.key).")
    authorization: str | None = Field(None, description="The wallet's signature authorizing the node key.")
    node_name: str = Field("", description="Name shown in the dashboard; empty: far-node.")
    region: str | None = Field(None, description="e.g. eu-west, used by the coordinator's routing.")
    server_url: str | None = Field(None, validation_alias=_names("server_url", "FARLABS_SERVER_URL"),
                                   description="Reference server (discovery); none: standalone.")

    # --- what it serves
    model: str = Field(DEFAULT_MODEL_ID, description="Hub id, local checkpoint dir, 'smollm2' or 'tiny'.")
    model_id: str | None = Field(None, description="Id announced to the mesh; none: derived from model.")
    mode: Mode = Field("swarm", description="swarm: serve blocks into Petals; local: the whole model here.")
    blocks: Annotated[tuple[int, int] | None, NoDecode] = Field(
        None, description="Block range START:END; none: chosen automatically.")
    num_blocks: int | None = Field(None, ge=1, description="With automatic placement: how many blocks.")
    device: str | None = Field(None, description="cpu | cuda | cuda:N; none: cuda when available.")
    torch_dtype: TorchDtype = "float32"
    quant_type: QuantType = Field("none", description="int8 and nf4 need bitsandbytes on CUDA.")
    torch_threads: int | None = Field(None, ge=1, description="Torch intra-op threads; none: half the cores for a "
                                                              "swarm node on loopback, else torch's choice.")
    throughput: float = Field(1.0, gt=0, description="Announced throughput (a number, so Petals runs no speed test).")

    # --- network
    host: str = Field(DEFAULT_HOST, description="Listen address of the gateway and the DHT.")
    gateway_port: int = Field(DEFAULT_GATEWAY_PORT, ge=0, le=65535)
    dht_port: int = Field(0, ge=0, le=65535, description="DHT/libp2p port; 0: any free port.")
    public_ip: str | None = Field(None, description="Address announced to peers and the coordinator.")
    gateway_token: SecretStr | None = Field(
        None, validation_alias=_names("gateway_token", "FARLABS_GATEWAY_TOKEN"),
        description="Token the gateway accepts when no server is configured; none: one kept in the home.")
    initial_peers: Annotated[list[str], NoDecode] = Field(default_factory=list, description="DHT multiaddrs.")
    dht_bootstrap: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_names("dht_bootstrap", "FAR_MESH_DHT_BOOTSTRAP"),
        description="DHT multiaddrs used when initial_peers is empty.")
    ephemeral_identity: bool = Field(False, description="Ignore the home's hivemind identity (several nodes on one "
                                                        "machine).")

    # --- timing
    update_period_s: float = Field(60.0, gt=0, description="Seconds between the block server's DHT announcements.")
    client_update_period_s: float = Field(15.0, gt=0, description="Seconds between the gateway's route refreshes.")
    request_timeout_s: float = Field(30.0, gt=0, description="The gateway's per-request swarm timeout.")
    heartbeat_interval_s: float = Field(HEARTBEAT_INTERVAL_S, gt=0,
                                        description="Heartbeat period until the server sends its own.")

    @field_validator("authorization", "region", "server_url", "model_id", "device", "public_ip", "gateway_token",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("initial_peers", "dht_bootstrap", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Env vars carry lists comma or whitespace separated."""
        return value.replace(",", " ").split() if isinstance(value, str) else value

    @field_validator("blocks", mode="before")
    @classmethod
    def _parse_blocks(cls, value: object) -> object:
        return parse_block_range(value) if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ConfigFile(settings_cls)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILENAME

    def set_up_or_explain(self) -> bool:
        """Whether `far-node setup` has written a config here; if not, say so (for commands that need one)."""
        if self.config_path.exists():
            return True
        print(f"Not set up: no config in {self.home}. Run `far-node setup`.")
        return False

    @property
    def local_gateway_url(self) -> str:
        """The gateway as reached from this machine (a wildcard listen address is reached on loopback)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.gateway_port}"

    @property
    def hivemind_identity_path(self) -> Path | None:
        """The libp2p key that keeps the block server's peer id across restarts, unless told not to use it."""
        path = self.home / HIVEMIND_IDENTITY_FILENAME
        return path if path.exists() and not self.ephemeral_identity else None

    @property
    def dht_peers(self) -> list[str]:
        """The peers given to this node (flag, env, config file), else FAR_MESH_DHT_BOOTSTRAP's."""
        return self.initial_peers or self.dht_bootstrap


class _ConfigFile(PydanticBaseSettingsSource):
    """The config file of the home that the flags or the environment chose (read after them, so below them)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file

    def __call__(self) -> dict[str, Any]:
        home = self.current_state.get("home") or self.settings_cls.model_fields["home"].get_default(
            call_default_factory=True)
        data = read_config_file(Path(home))
        data.pop("home", None)  # the file cannot move the home it is read from
        return data


def read_config_file(home: Path) -> dict[str, Any]:
    """The config file's contents as written, or {} when `far-node setup` has not run."""
    path = home / CONFIG_FILENAME
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    return data


class _Recorded(NodeSettings):
    """Settings from init values alone: no env vars, no config file of its own."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def recorded_settings(home: Path) -> NodeSettings:
    """What the config file in `home` says over the defaults, without env vars: what `far-node setup` starts from."""
    data = read_config_file(home)
    data.pop("home", None)
    return _Recorded(home=home, **data)


def save_setup(home: Path, answers: dict[str, Any]) -> Path:
    """Record `far-node setup`'s answers in the config file, keeping every other key in it; mode 0600 (it names the
    wallet and holds its authorization)."""
    unknown = set(answers) - set(SETUP_FIELDS)
    if unknown:
        raise ValueError(f"not setup fields: {sorted(unknown)}")
    data = {**read_config_file(home), **answers}
    _Recorded(**data)  # never write a file that `far-node run` would refuse
    path = home / CONFIG_FILENAME
    write_secret(path, json.dumps(data, indent=2) + "\n")
    return path


def load_settings(**overrides: Any) -> NodeSettings:
    """The settings: `overrides` (CLI flags, by field name) over env vars over the config file over defaults."""
    return NodeSettings(**overrides)


def cache_dir() -> Path:
    """Where prepared model checkpoints are kept."""
    return load_settings().cache_dir


def parse_block_range(text: str) -> tuple[int, int]:
    """ "0:15" -> (0, 15), validated."""
    try:
        start_s, end_s = text.split(":")
        start, end = int(start_s), int(end_s)
    except ValueError:
        raise ValueError(f"--blocks must look like START:END (e.g. 0:15), got {text!r}") from None
    if not 0 <= start < end:
        raise ValueError(f"--blocks {text}: need 0 <= START < END")
    return start, end
