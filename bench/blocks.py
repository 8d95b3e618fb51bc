"""One server's share of a decoded token, in one process: SmolLM2's blocks 0:15 under four step implementations.

- transformers: its own LlamaDecoderLayer, the layout it loads (the local baseline of bench/swarm.py);
- transformers, transposed: the same layers with every weight stored transposed (what far-node's gateway does);
- petals: Petals' `TransformerBackend.inference_step` on real backends (what a server ran before session 5);
- lean: far-node's `decode_block` through the same backends (what a far-node server runs on CPU now).

Plus the matrix layout alone: x @ W.T with W [out, in] contiguous vs W stored transposed, for the 15 blocks'
weights cycled (they do not fit in cache, like a server's) and for the LM head. One torch thread, interleaved
rounds, medians. Results: docs/benchmarks.md ("Session 5").

Run: .venv-node/bin/python bench/blocks.py [--rounds 5] [--steps 40]   (about 1 min)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

BLOCKS = 15
PROMPT = 30  # prompt positions before the timed steps, as in bench/swarm.py's chat prompt
MAX_LENGTH = 512


def _backends(layers: list[Any], config: Any) -> tuple[list[Any], Callable[[], None]]:
    """Petals backends over copies of `layers`, and a function that empties their caches."""
    from hivemind import BatchTensorDescriptor
    from petals.models.llama.block import WrappedLlamaBlock
    from petals.server.backend import TransformerBackend
    from petals.utils.convert_block import QuantType, convert_block

    cpu, tensors = torch.device("cpu"), {}

    class Cache:  # Petals' MemoryCache hands tensors to a runtime by handle; one process needs only the handles
        @staticmethod
        def use_cache(*handles: int) -> Any:
            return contextlib.nullcontext(tuple(tensors[h] for h in handles))

    backends = []
    for i, layer in enumerate(layers):
        block = WrappedLlamaBlock(config)
        block.load_state_dict(layer.state_dict())
        block = convert_block(block.eval(), i, config, [cpu], cpu, QuantType.NONE, freeze=True)
        schema = (BatchTensorDescriptor(1, 2048, config.hidden_size, dtype=torch.float32),)
        backend = TransformerBackend(f"b.{i}", block, config=config, memory_cache=Cache(), backend_dtype=torch.float32,
                                     max_chunk_size_bytes=256 * 1024 * 1024, args_schema=schema, kwargs_schema={},
                                     outputs_schema=schema, min_batch_size=1, max_batch_size=2048)
        backend.handles = (2 * i, 2 * i + 1)
        backends.append(backend)

    def reset() -> None:
        for backend in backends:
            for handle, descr in zip(backend.handles, backend.get_inference_cache_descriptors(1, MAX_LENGTH),
                                     strict=True):
                tensors[handle] = descr.make_zeros()

    return backends, reset


def _petals_run(backends: list[Any], reset: Callable[[], None], step: Callable[..., Any]) -> Callable[..., Any]:
    from petals.data_structures import InferenceMetadata

    none = torch.zeros(0, dtype=torch.int64)

    def run(x: torch.Tensor, steps: int) -> tuple[float, float, torch.Tensor]:
        reset()

        def forward(h: torch.Tensor, prefix: int) -> torch.Tensor:
            for backend in backends:
                (h,) = step(backend, h, none, InferenceMetadata(backend.name, prefix, backend.handles, None))
            return h

        start = time.perf_counter()
        h = forward(x, 0)[:, -1:]
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        for s in range(steps):
            h = forward(h, x.shape[1] + s)
        return (time.perf_counter() - start) / steps, prefill, h

    return run


def _transformers_run(layers: list[Any], model: Any) -> Callable[..., Any]:
    from transformers.models.llama.modeling_llama import LlamaModel

    def run(x: torch.Tensor, steps: int) -> tuple[float, float, torch.Tensor]:
        def forward(h: torch.Tensor, past: list[Any], start: int) -> torch.Tensor:
            n = h.shape[1]
            mask = LlamaModel._prepare_decoder_attention_mask(
                model.model, torch.ones(1, start + n, dtype=torch.bool), (1, n), h, start)
            positions = torch.arange(start, start + n)[None]
            for i, layer in enumerate(layers):
                h, past[i] = layer(h, attention_mask=mask, position_ids=positions, past_key_value=past[i],
                                   use_cache=True)
            return h

        past: list[Any] = [None] * len(layers)
        start = time.perf_counter()
        h = forward(x, past, 0)[:, -1:]
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        for s in range(steps):
            h = forward(h, past, x.shape[1] + s)
        return (time.perf_counter() - start) / steps, prefill, h

    return run


def _layout(weights: list[torch.Tensor], rounds: int) -> tuple[float, float]:
    """Best time of one pass of x @ W.T over `weights`, as loaded and stored transposed, ms."""
    transposed = [w.t().contiguous().t() for w in weights]
    inputs = {w.shape[1]: torch.randn(1, 1, w.shape[1]) for w in weights}

    def best(ws: list[torch.Tensor]) -> float:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            for w in ws:
                F.linear(inputs[w.shape[1]], w)
            times.append(time.perf_counter() - start)
        return min(times) * 1000

    return best(weights), best(transposed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from farlabs_node import patches

    patches.petals_ready()
    from petals.models.llama.config import DistributedLlamaConfig
    from transformers import AutoModelForCausalLM

    from farlabs_node.layout import store_weights_transposed
    from farlabs_node.models import resolve_model
    from farlabs_node.swarm import decode

    path = resolve_model("smollm2", show_progress=False).path
    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32).eval()
    layers = list(model.model.layers[:BLOCKS])
    transposed_layers = copy.deepcopy(layers)
    for layer in transposed_layers:
        store_weights_transposed(layer)
    config = DistributedLlamaConfig.from_pretrained(path)
    patches.apply()
    from petals.server.backend import TransformerBackend

    petals_backends, petals_reset = _backends(layers, config)
    lean_backends, lean_reset = _backends(layers, config)
    runs = {
        "transformers": _transformers_run(layers, model),
        "transformers, transposed": _transformers_run(transposed_layers, model),
        "petals": _petals_run(petals_backends, petals_reset, decode.petals_inference_step),
        "lean": _petals_run(lean_backends, lean_reset, TransformerBackend.inference_step),
    }
    torch.manual_seed(0)
    x = torch.randn(1, PROMPT, config.hidden_size) * 0.5
    times: dict[str, list[float]] = {name: [] for name in runs}
    prefills: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        outputs = {name: run(x, 2)[2] for name, run in runs.items()}  # warm-up
        for r in range(args.rounds):
            for name in list(runs)[r % len(runs):] + list(runs)[: r % len(runs)]:
                seconds, prefill, out = runs[name](x, args.steps)
                times[name].append(seconds * 1000)
                prefills[name].append(prefill * 1000)
                outputs[name] = out
        weights = [m.weight for layer in layers for m in layer.modules() if isinstance(m, torch.nn.Linear)]
        blocks_layout = [_layout(weights, 20) for _ in range(3)]
        head_layout = _layout([model.get_output_embeddings().weight], 10)

    print(f"\n{BLOCKS} SmolLM2 blocks, one decoded token after {PROMPT} positions; 1 torch thread; "
          f"{args.rounds} rounds x {args.steps} steps\n")
    print(f"| step | ms per token, median (min–max) | vs transformers | prompt ({PROMPT} positions) ms, median "
          "| last output vs transformers (max rel) |")
    print("|---|---:|---:|---:|---:|")
    base = statistics.median(times["transformers"])
    reference = outputs["transformers"]  # every run's last output is the same position's hidden state
    scale = reference.abs().max()
    for name, ts in times.items():
        diff = ((outputs[name] - reference).abs().max() / scale).item()
        print(f"| {name} | {statistics.median(ts):.2f} ({min(ts):.2f}–{max(ts):.2f}) | "
              f"{statistics.median(ts) / base:.2f}× | {statistics.median(prefills[name]):.1f} | {diff:.1e} |")
    print("\n| matrices (x @ W.T, best pass) | [out, in] as loaded, ms | stored transposed, ms |")
    print("|---|---:|---:|")
    print(f"| {len(weights)} block weights, cycled (3 runs) | "
          f"{' / '.join(f'{a:.1f}' for a, _ in blocks_layout)} | {' / '.join(f'{b:.1f}' for _, b in blocks_layout)} |")
    print(f"| LM head {tuple(model.get_output_embeddings().weight.shape)} | {head_layout[0]:.1f} | "
          f"{head_layout[1]:.1f} |")


if __name__ == "__main__":
    main()
