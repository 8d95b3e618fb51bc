"""A leaner inference step for Llama blocks on CPU: fewer tensor ops per block, the KV cache written in place.

Petals runs every inference step of every block through transformers' generic layer code plus an adapter for its
own cache layout (`TransformerBackend.inference_step` → `WrappedLlamaBlock`): it slices the cache, re-views it in
Llama's layout, concatenates the new key and value onto the whole past (a copy of the past, per block, per token),
builds an attention mask of ones, repeats the key/value heads for grouped-query attention, and finally copies the
new entries back into the cache. At one token per step on a CPU, a block's work is a handful of small matrix-vector
products, so these ~60 small ops per block cost as much as the arithmetic; `bench/swarm.py --trace` showed the
servers' compute at 1.07–1.32× plain transformers' decoder (docs/benchmarks.md).

`decode_block` does the same arithmetic in about 25 ops per block:
- q/k/v and gate/up are each one matrix product: the weights are concatenated once, every weight is stored
  transposed (faster for one token's matrix-vector product, see `farlabs_node.layout`), and the original Linear
  weights become views into that storage, so memory does not grow and Petals' other paths (forward, backward)
  see the same numbers;
- rotary embedding is applied to the query and key heads in one go;
- the new key and value are written straight into Petals' cache, and attention reads the cache in place: Petals'
  key cache is stored transposed ([batch, kv_heads, head_dim, length]), which is exactly the right operand of
  q·kᵀ, and the query heads are grouped per key/value head instead of repeating the keys;
- no mask at all for a single new token (it may see the whole prefix); a causal one for a prompt.

The result equals Petals' own step to float32 rounding (greedy tokens identical; see node-kit/tests/test_decode.py
and the swarm tests). Only what was verified takes this path: Llama blocks in float32 on CPU, one tensor-parallel
shard, plain Linear weights without bias, pretraining_tp 1, no adapter, a step that Petals would not split into chunks.
Everything else, including every GPU, keeps Petals' step (which uses CUDA graphs there).
"""

from __future__ import annotations

import logging
import math
from typing import Any

logger = logging.getLogger(__name__)

petals_inference_step: Any = None  # Petals' own step: what is not eligible runs it (tests and bench compare)


def decode_block(block: Any, hidden: Any, keys: Any, values: Any, prefix: int) -> Any:
    """One Llama block over `hidden` [batch, n, hidden] at positions prefix..prefix+n-1.

    `keys` [batch, kv_heads, head_dim, max_length] and `values` [batch, kv_heads, max_length, head_dim] are Petals'
    cache tensors; positions < prefix are read, the new n positions are written.
    """
    import torch
    import torch.nn.functional as F

    attn, mlp = block.self_attn, block.mlp
    batch, n, width = hidden.shape
    heads, kv_heads, head_dim = attn.num_heads, attn.num_key_value_heads, attn.head_dim
    groups, end = heads // kv_heads, prefix + n
    qkv_weight, gate_up_weight = _fused_weights(block)

    normed = F.rms_norm(hidden, (width,), block.input_layernorm.weight, block.input_layernorm.variance_epsilon)
    qkv = F.linear(normed, qkv_weight).view(batch, n, heads + 2 * kv_heads, head_dim)
    qk, v = qkv[:, :, : heads + kv_heads], qkv[:, :, heads + kv_heads :]
    cos, sin = attn.rotary_emb(v, seq_len=end)  # [1, 1, end, head_dim]; also extends a dynamic-NTK cache
    cos, sin = cos[0, 0, prefix:end, None, :], sin[0, 0, prefix:end, None, :]  # [n, 1, head_dim]
    half = head_dim // 2
    qk = qk * cos + torch.cat((qk[..., half:].neg(), qk[..., :half]), dim=-1) * sin

    keys[:, :, :, prefix:end] = qk[:, :, heads:].permute(0, 2, 3, 1)
    values[:, :, prefix:end, :] = v.transpose(1, 2)
    # Rows are (group, position) within each key/value head: query head h reads kv head h // groups, as repeat_kv.
    queries = qk[:, :, :heads].transpose(1, 2).reshape(batch, kv_heads, groups * n, head_dim)
    scores = torch.matmul(queries, keys[:, :, :, :end]) * (1.0 / math.sqrt(head_dim))
    if n > 1:
        causal = torch.full((n, end), torch.finfo(scores.dtype).min, device=scores.device).triu(prefix + 1)
        scores = scores + causal.repeat(groups, 1)
    probs = torch.softmax(scores, dim=-1)
    out = torch.matmul(probs, values[:, :, :end]).view(batch, heads, n, head_dim).transpose(1, 2)
    hidden = hidden + F.linear(out.reshape(batch, n, heads * head_dim), attn.o_proj.weight)

    normed = F.rms_norm(hidden, (width,), block.post_attention_layernorm.weight,
                        block.post_attention_layernorm.variance_epsilon)
    gate, up = F.linear(normed, gate_up_weight).chunk(2, dim=-1)
    return hidden + F.linear(mlp.act_fn(gate) * up, mlp.down_proj.weight)


def _fused_weights(block: Any) -> tuple[Any, Any]:
    """[q; k; v] and [gate; up] as one weight each, every weight of the block in `farlabs_node.layout`'s transposed
    storage; the Linear modules then hold views into them (no extra memory, same values)."""
    fused = getattr(block, "_farlabs_fused", None)
    if fused is None:
        import torch

        from farlabs_node.layout import transposed_storage

        def fuse(*linears: Any) -> Any:
            weight = transposed_storage(torch.cat([lin.weight.data for lin in linears]))
            offset = 0
            for lin in linears:
                rows = lin.weight.shape[0]
                lin.weight.data = weight[offset : offset + rows]
                offset += rows
            return weight

        attn, mlp = block.self_attn, block.mlp
        fused = (fuse(attn.q_proj, attn.k_proj, attn.v_proj), fuse(mlp.gate_proj, mlp.up_proj))
        fuse(attn.o_proj)
        fuse(mlp.down_proj)
        block._farlabs_fused = fused
    return fused


def lean_block(backend: Any) -> Any:
    """The Llama block this backend's steps may run through `decode_block`, or None to keep Petals' step."""
    cached = getattr(backend, "_farlabs_lean_block", False)
    if cached is not False:
        return cached
    import torch

    from farlabs_node.patches import petals_ready

    petals_ready()
    from petals.models.llama.block import WrappedLlamaBlock

    block = None
    shards = getattr(backend.module, "module_shards", None)
    if shards is not None and len(shards) == 1 and type(shards[0]) is WrappedLlamaBlock:
        candidate = shards[0]
        attn, mlp = candidate.self_attn, candidate.mlp
        linears = (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj)
        weight = attn.q_proj.weight
        # The ignore: torch annotates Linear.bias as a Parameter, but Linear(bias=False) holds None there.
        if (weight.device.type == "cpu" and weight.dtype == torch.float32
                and getattr(attn.config, "pretraining_tp", 1) == 1
                and all(type(lin) is torch.nn.Linear and lin.bias is None
                        and lin.weight.dtype == weight.dtype for lin in linears)):  # type: ignore[unreachable]
            block = candidate
    logger.debug("%s: %s inference step", backend.name, "lean Llama" if block is not None else "Petals'")
    backend._farlabs_lean_block = block
    return block


def lean_inference_step(self: Any, hidden_states: Any, hypo_ids: Any, inference_info: Any) -> tuple[Any, ...]:
    """`TransformerBackend.inference_step` (installed by `farlabs_node.patches`): eligible steps through
    `decode_block`, every other one through Petals' own step."""
    import torch

    with torch.inference_mode():
        block = lean_block(self)
        prefix, n = inference_info.prefix_length, hidden_states.shape[1]
        if (block is None or inference_info.active_adapter or hidden_states.dtype != torch.float32
                or n > self._estimate_max_chunk_length(hidden_states, inference_info)):
            return petals_inference_step(self, hidden_states, hypo_ids, inference_info)  # type: ignore[no-any-return]
        # Petals' handler has already refused a step past the session's max_length.
        with self.memory_cache.use_cache(*inference_info.cache_handles) as cache_tensors:
            self._reorder_cache_inplace(cache_tensors, hypo_ids)
            keys, values = cache_tensors
            return (decode_block(block, hidden_states, keys, values, prefix),)
