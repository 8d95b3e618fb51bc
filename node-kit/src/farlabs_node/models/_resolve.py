"""Map a `--model` value to a servable checkpoint: the built-in models are prepared once into the cache."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from farlabs_node.config import DEFAULT_MODEL_ID
from farlabs_node.settings import cache_dir

SMOLLM2_ALIASES = {"smollm2", DEFAULT_MODEL_ID.lower()}
TINY_MODEL_ID = "farlabs/tiny-llama"
TINY_ALIASES = {"tiny", TINY_MODEL_ID}


@dataclass(frozen=True)
class PreparedModel:
    """A model ready to serve: where its files are, the id the mesh knows it by, its DHT prefix."""

    model_id: str
    path: str  # a local checkpoint directory, or a hub id on machines that can reach a hub
    is_local: bool
    num_blocks: int | None  # transformer blocks (None for a hub id not yet downloaded)

    @property
    def dht_prefix(self) -> str:
        return dht_prefix_for(self.model_id)


def dht_prefix_for(model_id: str) -> str:
    """The DHT prefix every node of the mesh uses for `model_id` (Petals' own rule for hub ids: "name-hf")."""
    name = model_id.rstrip("/").split("/")[-1]
    name = re.sub(r"[^A-Za-z0-9_-]", "-", name)  # '.' and '[' are Petals' UID delimiters
    return name if name.endswith("-hf") else f"{name}-hf"


def _read_num_blocks(path: Path) -> int:
    config = json.loads((path / "config.json").read_text())
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if key in config:
            return int(config[key])
    raise ValueError(f"{path}/config.json names no layer count")


def resolve_model(spec: str, *, model_id: str | None = None, show_progress: bool = True) -> PreparedModel:
    """Resolve `spec`: "smollm2" (default model), "tiny" (test model), a local checkpoint dir, or a hub id.

    The built-in models are converted/built on first use into `$FARLABS_CACHE_DIR` and reused afterwards.
    """
    key = spec.strip().lower()
    if not key:
        raise ValueError("--model must not be empty")
    if key in SMOLLM2_ALIASES:
        from farlabs_node.models._smollm2 import prepare_smollm2

        path = prepare_smollm2(cache_dir(), show_progress=show_progress)
        return PreparedModel(model_id or DEFAULT_MODEL_ID, str(path), True, _read_num_blocks(path))
    if key in TINY_ALIASES:
        from farlabs_node.models._tiny import prepare_tiny_llama

        path = prepare_tiny_llama(cache_dir())
        return PreparedModel(model_id or TINY_MODEL_ID, str(path), True, _read_num_blocks(path))
    local = Path(spec).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise ValueError(f"{local} is not a checkpoint directory (no config.json)")
        return PreparedModel(model_id or local.resolve().name, str(local.resolve()), True, _read_num_blocks(local))
    if spec.startswith((".", "/", "~")) or spec.count("/") != 1:
        raise ValueError(f"--model {spec!r}: no such directory, and not a hub id of the form owner/name")
    return PreparedModel(model_id or spec, spec, False, None)
