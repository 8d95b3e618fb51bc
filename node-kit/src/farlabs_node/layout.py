"""Weight layout for CPU float32 steps: [out, in] matrices stored as the transpose of a contiguous [in, out] one.

One token's step multiplies a vector by each weight matrix, and MKL does x @ W_t with W_t contiguous faster than
x @ W.T with W contiguous once the matrix comes from memory rather than cache, as a server's blocks and a
gateway's LM head do on every token: SmolLM2's 49,152 x 576 LM head takes ~5-7 instead of ~10-11 ms on one
thread here, its blocks' matrices 10-25 % less (`bench/blocks.py`, docs/benchmarks.md, session 5). The values
are the same, only their order in memory changes, and `F.linear` reads either layout as is. Used by the
gateway's engines and by the servers' lean Llama step (`swarm/decode.py`).
"""

from __future__ import annotations

from typing import Any


def transposed_storage(weight: Any) -> Any:
    """The same [out, in] values, held in a contiguous [in, out] tensor (returned as its [out, in] view)."""
    return weight.t().contiguous().t()


def store_weights_transposed(model: Any) -> int:
    """Re-lay every CPU float32 Linear weight of `model`, and its LM head, in place; returns how many changed.

    No memory is added (each old storage is freed); a tied input embedding shares the Parameter and reads it as
    before (a row gather, microseconds). GPUs and other dtypes keep their layout; weights already re-laid are
    left alone.
    """
    import torch

    weights: list[torch.Tensor | None] = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weights.append(getattr(head, "weight", None))  # Petals' client has its own LMHead module
    changed, seen = 0, set()
    for weight in weights:
        if (isinstance(weight, torch.Tensor) and id(weight) not in seen and weight.dim() == 2
                and weight.device.type == "cpu" and weight.dtype == torch.float32 and weight.is_contiguous()):
            weight.data = transposed_storage(weight.data)
            changed += 1
        seen.add(id(weight))
    return changed
