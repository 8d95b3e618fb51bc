"""Model resolution, DHT prefixes, chat templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from farlabs_node.models import dht_prefix_for, render_chat, resolve_model
from farlabs_node.models.chat import load_chat_template


def test_dht_prefix_follows_petals_rule_for_hub_ids() -> None:
    assert dht_prefix_for("meta-llama/Llama-2-7b-chat-hf") == "Llama-2-7b-chat-hf"
    assert dht_prefix_for("HuggingFaceTB/SmolLM2-135M-Instruct") == "SmolLM2-135M-Instruct-hf"
    assert dht_prefix_for("bigscience/bloom-7b1") == "bloom-7b1-hf"  # '.'-free: '.' is Petals' UID delimiter
    assert "." not in dht_prefix_for("org/model.v1.5")


def test_tiny_model_is_built_once_and_reused(tiny_model) -> None:  # type: ignore[no-untyped-def]
    again = resolve_model("tiny")
    assert again.path == tiny_model.path and again.num_blocks == 4
    assert (Path(tiny_model.path) / "model.safetensors").exists()


def test_local_directories_and_hub_ids(tiny_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    local = resolve_model(tiny_model.path, model_id="me/my-model")
    assert local.is_local and local.model_id == "me/my-model" and local.num_blocks == 4
    hub = resolve_model("meta-llama/Llama-2-7b-chat-hf")
    assert not hub.is_local and hub.path == "meta-llama/Llama-2-7b-chat-hf"
    with pytest.raises(ValueError, match="not a checkpoint directory"):
        resolve_model(str(tmp_path))
    with pytest.raises(ValueError, match="no such directory"):
        resolve_model("./nope/nothing/here")


def test_chat_template_renders_like_chatml(tiny_model) -> None:  # type: ignore[no-untyped-def]
    text = render_chat(load_chat_template(tiny_model.path), [{"role": "user", "content": "Hi"}])
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
