"""The lean Llama inference step gives Petals' own step's results, on a real Petals TransformerBackend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from farlabs_node import patches
from farlabs_node.swarm import decode

patches.petals_ready()
from hivemind import BatchTensorDescriptor  # noqa: E402
from petals.data_structures import InferenceMetadata  # noqa: E402
from petals.models.llama.block import WrappedLlamaBlock  # noqa: E402
from petals.models.llama.config import DistributedLlamaConfig as LlamaConfig  # noqa: E402
from petals.server.backend import TransformerBackend  # noqa: E402
from petals.utils.convert_block import QuantType, convert_block  # noqa: E402

MAX_LENGTH = 32
CPU = torch.device("cpu")


class _Cache:
    """Stands in for Petals' MemoryCache, whose handles are allocated by a handler process over a pipe."""

    def __init__(self) -> None:
        self.tensors: dict[int, torch.Tensor] = {}

    def allocate(self, backend: TransformerBackend, batch: int) -> tuple[int, ...]:
        handles = []
        for descr in backend.get_inference_cache_descriptors(batch, MAX_LENGTH):
            handles.append(len(self.tensors))
            self.tensors[handles[-1]] = descr.make_zeros()
        return tuple(handles)

    @contextlib.contextmanager
    def use_cache(self, *handles: int) -> Iterator[tuple[torch.Tensor, ...]]:
        yield tuple(self.tensors[h] for h in handles)


def _config(**overrides: Any) -> LlamaConfig:
    fields = dict(hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
                  num_hidden_layers=1, vocab_size=100, max_position_embeddings=64, rms_norm_eps=1e-5)
    return LlamaConfig(**{**fields, **overrides})


def _backend(config: LlamaConfig, seed: int = 0, dtype: torch.dtype = torch.float32) -> TransformerBackend:
    torch.manual_seed(seed)
    block = WrappedLlamaBlock(config)
    for norm in (block.input_layernorm, block.post_attention_layernorm):
        torch.nn.init.normal_(norm.weight, 1.0, 0.3)  # not all ones, so a swapped norm would show
    block = convert_block(block.to(dtype), 0, config, [CPU], CPU, QuantType.NONE, freeze=True)
    schema = (BatchTensorDescriptor(1, 2048, config.hidden_size, dtype=dtype),)
    return TransformerBackend("tiny.0", block, config=config, memory_cache=_Cache(), backend_dtype=dtype,
                              max_chunk_size_bytes=256 * 1024 * 1024, args_schema=schema, kwargs_schema={},
                              outputs_schema=schema, min_batch_size=1, max_batch_size=8)


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    patches.apply()


def _run(backend: TransformerBackend, step: Any, chunks: list[torch.Tensor],
         hypo_ids: list[torch.Tensor]) -> tuple[list[torch.Tensor], tuple[torch.Tensor, ...]]:
    cache: _Cache = backend.memory_cache
    handles = cache.allocate(backend, chunks[0].shape[0])
    prefix, outputs = 0, []
    for chunk, hypo in zip(chunks, hypo_ids, strict=True):
        info = InferenceMetadata("tiny.0", prefix, handles, None)
        (out,) = step(backend, chunk.clone(), hypo, info)
        outputs.append(out)
        prefix += chunk.shape[1]
    return outputs, tuple(cache.tensors[h][..., :prefix] if i % 2 == 0 else cache.tensors[h][:, :, :prefix]
                          for i, h in enumerate(handles))


@pytest.mark.parametrize("overrides", [
    {},  # grouped-query attention, 2 query heads per key/value head (SmolLM2 has 3)
    {"num_key_value_heads": 4},  # plain multi-head attention
    # a rotary cache that grows past max_position_embeddings (8 < the 14 positions below), changing its base
    {"rope_scaling": {"type": "dynamic", "factor": 2.0}, "max_position_embeddings": 8},
])
@pytest.mark.parametrize("batch", [1, 2])
def test_steps_equal_petals_own_step(overrides: dict[str, Any], batch: int) -> None:
    config = _config(**overrides)
    lean, reference = _backend(config), _backend(config)
    assert decode.lean_block(lean) is not None
    torch.manual_seed(1)
    # a prompt, single tokens, then a second multi-token chunk after a prefix (a resumed or replayed session)
    lengths = [7, 1, 1, 1, 3, 1]
    chunks = [torch.randn(batch, n, config.hidden_size) for n in lengths]
    none = torch.zeros(0, dtype=torch.int64)  # Petals' "dummy" hypothesis ids: keep the cache order
    hypo = [none] * len(lengths)
    if batch == 2:
        hypo[3] = torch.tensor([1, 0])  # beam search swaps the two hypotheses' caches
    got, got_cache = _run(lean, TransformerBackend.inference_step, chunks, hypo)
    want, want_cache = _run(reference, decode.petals_inference_step, chunks, hypo)
    for g, w in zip(got + list(got_cache), want + list(want_cache), strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
    if "rope_scaling" in overrides:  # the dynamic cache really grew, on the lean path as on Petals'
        for backend in (lean, reference):
            assert backend.module.module_shards[0].self_attn.rotary_emb.max_seq_len_cached == sum(lengths)


def test_fused_weights_are_views_and_forward_is_unchanged() -> None:
    config = _config()
    backend = _backend(config)
    block = decode.lean_block(backend)
    x = torch.randn(1, 5, config.hidden_size)
    with torch.inference_mode():
        before = backend.module(x)[0]
        qkv, gate_up = decode._fused_weights(block)
        after = backend.module(x)[0]
    torch.testing.assert_close(after, before)  # the same values; only their order in memory changed
    attn, mlp = block.self_attn, block.mlp
    for lin in (attn.q_proj, attn.k_proj, attn.v_proj):
        assert lin.weight.untyped_storage().data_ptr() == qkv.untyped_storage().data_ptr()
    for lin in (mlp.gate_proj, mlp.up_proj):
        assert lin.weight.untyped_storage().data_ptr() == gate_up.untyped_storage().data_ptr()
    assert qkv.shape == (64 + 2 * 32, 64) and gate_up.shape == (2 * 96, 64)
    for weight in (qkv, gate_up, attn.o_proj.weight, mlp.down_proj.weight):  # [out, in] read from [in, out]
        assert weight.stride() == (1, weight.shape[0])
    assert decode._fused_weights(block)[0] is qkv  # once per block


def test_what_was_not_verified_keeps_petals_step(monkeypatch: pytest.MonkeyPatch) -> None:
    assert decode.lean_block(_backend(_config(pretraining_tp=2))) is None
    assert decode.lean_block(_backend(_config(), dtype=torch.bfloat16)) is None
    biased = _backend(_config())
    biased.module.module_shards[0].self_attn.v_proj.bias = torch.nn.Parameter(torch.zeros(32), requires_grad=False)
    assert decode.lean_block(biased) is None

    def refuse(*args: Any) -> None:
        raise AssertionError("the lean step ran")

    monkeypatch.setattr(decode, "decode_block", refuse)
    config = _config()
    lean, reference = _backend(config), _backend(config)
    chunks, none = [torch.randn(1, 4, config.hidden_size)], [torch.zeros(0, dtype=torch.int64)]
    with pytest.raises(AssertionError, match="the lean step ran"):  # the spy is live
        _run(lean, TransformerBackend.inference_step, chunks, none)
    lean = _backend(config)
    for backend in (lean, reference):  # an adapter name: Petals' step
        backend.memory_cache.allocate(backend, 1)
    info = InferenceMetadata("tiny.0", 0, (0, 1), "some-adapter")
    (got,) = TransformerBackend.inference_step(lean, chunks[0].clone(), none[0], info)
    (want,) = decode.petals_inference_step(reference, chunks[0].clone(), none[0], info)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
