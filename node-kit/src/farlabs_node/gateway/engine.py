"""Generation engines: the whole model locally (`--mode local`) or the Petals client over the swarm.

Both expose the same step interface, so one decoding loop (`generate`) serves both and greedy output is the
same token for token.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from farlabs_node.gateway.textstream import Piece, TextAssembler
from farlabs_node.models import PreparedModel
from farlabs_node.models.chat import load_chat_template, render_chat

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings of one request (already validated)."""

    max_new_tokens: int
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = None
    stop: Sequence[str] = ()


@dataclass(frozen=True)
class RouteHop:
    peer_id: str | None  # None: this node itself, without a swarm identity (local mode)
    start_block: int
    end_block: int


@dataclass
class GenerationResult:
    """Filled in as generation runs; final once `generate` returns."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "length"
    route: list[RouteHop] = field(default_factory=list)


class StepSession(ABC):
    """One request's model state: feed token ids, get the next-token logits."""

    @abstractmethod
    def step(self, input_ids: Any) -> Any:
        """`input_ids` [1, n] (the prompt first, then one token at a time) -> logits [vocab] for the next token."""

    def route(self) -> list[RouteHop]:
        return []


class Engine(ABC):
    """A loaded model that can open step sessions."""

    mode: str

    def __init__(self, model: PreparedModel) -> None:
        from transformers import AutoTokenizer

        self.model = model
        self.tokenizer = AutoTokenizer.from_pretrained(model.path)
        self.chat_template = load_chat_template(model.path) if model.is_local else None
        self.max_context: int = 2048
        self.eos_token_ids: set[int] = set()
        self.tokens_served = 0
        self.in_flight = 0
        self._lock = threading.Lock()

    def _read_config(self, config: Any) -> None:
        self.max_context = int(getattr(config, "max_position_embeddings", 2048) or 2048)
        eos = getattr(config, "eos_token_id", None)
        ids = eos if isinstance(eos, list) else [eos]
        self.eos_token_ids = {int(i) for i in ids if i is not None}
        if self.tokenizer.eos_token_id is not None:
            self.eos_token_ids.add(int(self.tokenizer.eos_token_id))

    @abstractmethod
    def session(self, max_length: int) -> contextlib.AbstractContextManager[StepSession]:
        """A session able to hold `max_length` tokens."""

    def encode_prompt(self, prompt: str | None, messages: Sequence[dict[str, str]] | None) -> list[int]:
        """Token ids of a plain prompt, or of chat messages rendered through the model's chat template."""
        if messages is not None:
            text = render_chat(
                self.chat_template,
                messages,
                bos_token=self.tokenizer.bos_token or "",
                eos_token=self.tokenizer.eos_token or "",
            )
            # the template already carries any special tokens it wants
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return list(self.tokenizer(prompt or "")["input_ids"])

    def count(self, n_tokens: int, delta_in_flight: int = 0) -> None:
        with self._lock:
            self.tokens_served += n_tokens
            self.in_flight += delta_in_flight

    def close(self) -> None:  # noqa: B027  (optional hook: most engines hold nothing to release)
        """Release the engine's resources."""


def next_token_logits(model: Any, input_ids: Any, **decoder_kwargs: Any) -> tuple[Any, Any]:
    """A causal LM's forward with the LM head applied to the last position only -> (logits [vocab], decoder output).

    `model(input_ids)` (transformers 4.33, and Petals' client after it) projects *every* position onto the
    vocabulary although only the last one is sampled: for a prompt that is an [n, vocab] matrix product, about
    1 ms per prompt token for SmolLM2 on one CPU thread, and n x 49,152 floats of memory. The decoder (local
    blocks, or Petals' remote ones through the active inference session) runs exactly as before.
    """
    out = model.model(input_ids=input_ids, **decoder_kwargs)
    logits = model.get_output_embeddings()(out.last_hidden_state[:, -1:])
    return logits[0, -1].float(), out


def _pick(logits: Any, params: SamplingParams, generator: Any) -> int:
    import torch

    if params.temperature == 0:
        return int(torch.argmax(logits).item())
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        # keep the smallest set whose mass reaches top_p (the first token always stays)
        drop = cumulative - sorted_probs >= params.top_p
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=generator).item())


def generate(
    engine: Engine,
    prompt_ids: list[int],
    params: SamplingParams,
    result: GenerationResult,
    cancel: threading.Event,
    prefix_ids: Sequence[int] = (),
) -> Iterator[Piece]:
    """Decode up to `params.max_new_tokens`, yielding text pieces; stops on EOS, a stop sequence or `cancel`."""
    import torch

    generator = torch.Generator()
    generator.manual_seed(params.seed if params.seed is not None else int(time.time_ns() % (2**63)))
    assembler = TextAssembler(engine.tokenizer, params.stop, prefix_ids)
    ids = list(prompt_ids) + list(prefix_ids)
    result.prompt_tokens = len(prompt_ids)
    result.completion_tokens = len(prefix_ids)
    if params.max_new_tokens <= 0:
        result.finish_reason = "length"
        return
    engine.count(0, +1)
    try:
        with engine.session(len(ids) + params.max_new_tokens) as session, torch.inference_mode():
            next_input = torch.tensor([ids], dtype=torch.long)
            for _ in range(params.max_new_tokens):
                if cancel.is_set():
                    result.finish_reason = "cancelled"
                    return
                logits = session.step(next_input)
                result.route = session.route()
                token = _pick(logits, params, generator)
                result.completion_tokens += 1
                engine.count(1)
                if token in engine.eos_token_ids:
                    result.finish_reason = "stop"
                    break
                piece = assembler.push(token)
                if piece is not None:
                    yield piece
                if assembler.stopped:
                    result.finish_reason = "stop"
                    return
                next_input = torch.tensor([[token]], dtype=torch.long)
            else:
                result.finish_reason = "length"
        tail = assembler.flush()
        if tail is not None:
            yield tail
    finally:
        engine.count(0, -1)
