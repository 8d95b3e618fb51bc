"""Model resolution: turn a `--model` value into a checkpoint directory (or hub id) Petals and transformers serve."""

from farlabs_node.models._resolve import PreparedModel, dht_prefix_for, resolve_model
from farlabs_node.models.chat import render_chat

__all__ = ["PreparedModel", "dht_prefix_for", "render_chat", "resolve_model"]
