"""Client-side fix for Petals 2.2.0.post1 failover (upstream bigscience-workshop/petals#587).

When a server dies mid-generation, `InferenceSession._update_sequence()` gives the replacement
`_ServerInferenceSession` the dead one's input history, but the replacement's position is 0, so the stock
`step()` fails its "Broken input cache" assertion on every retry. The replacement here replays the whole history
to the new server (rebuilding its attention cache) and returns only the outputs for the new tokens, so greedy
output is identical to a run without the fault.
`farlabs_node.patches` installs both replacements.

Also here: Petals' `_ServerInferenceSession.__del__` closes its stream with `RemoteExpertWorker.run_coroutine`, which
waits for hivemind's event-loop thread. When the garbage collector happens to finalize a session on that very
thread, it waits on itself and the client hangs for good (seen in bench/swarm.py on the second `generate`). The
replacement schedules the close there instead of waiting for it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("farlabs_node.failover")


def replaying_step(self: Any, inputs: Any, prompts: Any, hypo_ids: Any, *, step_id: str) -> Any:
    import torch
    from hivemind import MSGPackSerializer, deserialize_torch_tensor, serialize_torch_tensor
    from hivemind.moe.client.remote_expert_worker import RemoteExpertWorker
    from hivemind.proto import runtime_pb2
    from hivemind.utils.tensor_descr import BatchTensorDescriptor

    from farlabs_node.patches import petals_ready

    petals_ready()
    from petals.utils.packaging import pack_args_kwargs

    if self.closed:
        raise Exception("Session is closed, cannot perform step")
    n_input_tokens = inputs.shape[1]
    if self.history is None:
        self.history = inputs
    elif self.history.shape[1] == self._position:
        self.history = torch.cat([self.history, inputs[:, -n_input_tokens:]], dim=1)

    n_new_tokens = n_input_tokens
    if not self.stepped and self.history.shape[1] > self._position + n_input_tokens:
        # A replacement server: it has no cache for this session yet, so it gets every token so far.
        n_new_tokens = self.history.shape[1] - self._position
        logger.warning(
            "failover: replaying %d tokens to replacement server %s for blocks %d:%d",
            n_new_tokens,
            self.span.peer_id,
            self.span.start,
            self.span.end,
        )
    if self.history.shape[1] != self._position + n_new_tokens:
        raise RuntimeError(
            f"Broken input cache: span={self.span} shape={self.history.shape} position={self._position} "
            f"n_input_tokens={n_input_tokens}"
        )
    inputs = self.history if not self.stepped else inputs[:, -n_input_tokens:]

    input_tensors, args_structure = pack_args_kwargs(inputs, prompts, hypo_ids)
    request_metadata: dict[str, Any] = dict(session_id=self.session_id, step_id=step_id)
    if not self.stepped:
        request_metadata.update(self.session_metadata)
    elif self.config.use_server_to_server:
        next_servers = self._collect_next_servers()
        if next_servers:
            request_metadata["next_servers"] = next_servers
    request_metadata["args_structure"] = args_structure

    server_side_inference_schema, _kwargs_schema = self.rpc_info["inference_schema"]
    compression = server_side_inference_schema[0].compression
    inference_schema = tuple(BatchTensorDescriptor.from_tensor(arg, compression) for arg in input_tensors)
    request = runtime_pb2.ExpertRequest(
        uid=self.uid,
        tensors=[
            serialize_torch_tensor(tensor.to(proto.dtype), proto.compression)
            for tensor, proto in zip(input_tensors, inference_schema, strict=True)
        ],
        metadata=MSGPackSerializer.dumps(request_metadata),
    )
    outputs_serialized = RemoteExpertWorker.run_coroutine(self._step(request))
    outputs = list(map(deserialize_torch_tensor, outputs_serialized.tensors))
    if outputs[0].shape != inputs.shape:
        raise RuntimeError(f"server returned shape {tuple(outputs[0].shape)} for inputs {tuple(inputs.shape)}")
    self._position += n_new_tokens
    return outputs[0][:, -n_input_tokens:]


def finalize_without_self_wait(self: Any) -> None:
    from hivemind.moe.client.remote_expert_worker import RemoteExpertWorker

    if getattr(self, "_outputs_stream", None) is None:
        return  # closed already (or never opened)
    if threading.current_thread() is RemoteExpertWorker._event_thread:
        RemoteExpertWorker.run_coroutine(self._aclose_stream(), return_future=True)  # runs after this callback
        return
    self.close()
