"""`--mode local`: the whole model in this process with plain transformers (the mesh's centralized fallback)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from farlabs_node.gateway.engine import Engine, RouteHop, StepSession, next_token_logits
from farlabs_node.layout import store_weights_transposed
from farlabs_node.models import PreparedModel


class _LocalSession(StepSession):
    def __init__(self, engine: LocalEngine) -> None:
        self._engine = engine
        self._past: Any = None

    def step(self, input_ids: Any) -> Any:
        logits, out = next_token_logits(self._engine.hf_model, input_ids, past_key_values=self._past, use_cache=True)
        self._past = out.past_key_values
        return logits

    def route(self) -> list[RouteHop]:
        return [RouteHop(self._engine.route_id, 0, self._engine.num_blocks)]


class LocalEngine(Engine):
    """Runs every block itself; reports itself as the whole route (peer id null: the coordinator credits the
    gateway's own node)."""

    mode = "local"

    def __init__(
        self, model: PreparedModel, *, route_id: str | None = None, device: str = "cpu", torch_dtype: str = "float32"
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        super().__init__(model)
        dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[torch_dtype]
        self.hf_model = AutoModelForCausalLM.from_pretrained(model.path, torch_dtype=dtype).to(device).eval()
        store_weights_transposed(self.hf_model)
        self.device = device
        self.route_id = route_id
        self.num_blocks = int(self.hf_model.config.num_hidden_layers)
        self._read_config(self.hf_model.config)

    @contextlib.contextmanager
    def session(self, max_length: int) -> Iterator[StepSession]:
        yield _DeviceSession(self) if self.device != "cpu" else _LocalSession(self)


class _DeviceSession(_LocalSession):
    def step(self, input_ids: Any) -> Any:
        return super().step(input_ids.to(self._engine.device)).float().cpu()
