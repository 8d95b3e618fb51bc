"""Hand a step's small tensors between Petals' handler processes and its runtime by value, not by shared memory.

Every inference step crosses processes twice inside a Petals server: the handler process that received the
request submits it to the runtime (a task-pool queue), and the runtime sends the result back (an MPFuture pipe).
Both pickle with multiprocessing's ForkingPickler, for which torch reduces every CPU tensor by moving its storage
into a new shared-memory segment and passing the file descriptor: create, truncate and map the segment, then a
socket round trip to torch's resource sharer for the descriptor, then map it again in the receiver. A decoding
step's tensors are tiny — one hidden state (576 floats for SmolLM2), the hypothesis ids, the future's state byte —
so that machinery costs far more than the bytes. Measured with `bench/swarm.py --trace`: see docs/benchmarks.md.

Tensors up to SMALL_TENSOR_BYTES that are not already shared are therefore pickled as bytes; larger ones, and
any tensor already in shared memory (hivemind's shared future states, a prompt's activations) keep torch's way.
Nothing in hivemind or Petals relies on a small unshared tensor becoming shared when pickled: Petals even creates
its futures' state tensors unshared on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.multiprocessing.reductions import reduce_tensor  # importing torch already registered it

SMALL_TENSOR_BYTES = 64 * 1024  # a 1-token step's hidden state of a 16k-wide model; prompts stay on shared memory


def _rebuild(data: bytes, dtype: Any, shape: tuple[int, ...]) -> Any:
    return torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape) if data else torch.empty(shape, dtype=dtype)


def _small(tensor: Any) -> bool:
    return bool(tensor.numel() * tensor.element_size() <= SMALL_TENSOR_BYTES)


def reduce_small_by_value(tensor: Any) -> Any:
    """ForkingPickler's reducer for torch.Tensor: small unshared CPU tensors as bytes, the rest as torch does."""
    # The ignores: torch leaves Tensor.is_shared and its reducers unannotated.
    if (type(tensor) is torch.Tensor and tensor.device.type == "cpu" and tensor.layout == torch.strided
            and not tensor.requires_grad and not tensor.is_shared() and _small(tensor)):  # type: ignore[no-untyped-call]
        flat = tensor.detach().contiguous().reshape(-1)
        return _rebuild, (flat.view(torch.uint8).numpy().tobytes(), tensor.dtype, tuple(tensor.shape))
    return reduce_tensor(tensor)  # type: ignore[no-untyped-call]


def keep_small_unshared(move: Callable[..., Any]) -> Callable[..., Any]:
    """Petals' runtime moves every output into shared memory before sending it back (`move`); small ones now go by
    value."""

    def move_small_unshared(arg: Any, device: Any, share_memory: bool = False) -> Any:
        return move(arg, device, share_memory=share_memory and not (isinstance(arg, torch.Tensor) and _small(arg)))

    return move_small_unshared
