"""Step tracer for `bench/swarm.py --trace`: where one token's time goes inside Petals, client and servers.

`bench/swarm.py --trace` puts this directory on PYTHONPATH of the far-nodes and the bench worker, so Python
imports this file at start-up; with $FARLABS_STEP_TRACE set it wraps a few Petals/transformers functions as
their modules load, and each wrapper appends `<perf_counter> <pid> <event> [k=v ...]` to that file.
perf_counter is CLOCK_MONOTONIC, one clock for every process on the machine, so `report.py` can lay the
events of the client, both servers' handler processes and their runtime threads on one time line. One O_APPEND
write per event (~5 µs) keeps lines whole across processes. Bench-only: nothing in the product imports it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import time

_PATH = os.environ.get("FARLABS_STEP_TRACE")


def log(event: str) -> None:
    fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)  # type: ignore[arg-type]
    try:
        os.write(fd, f"{time.perf_counter():.6f} {os.getpid()} {event}\n".encode())
    finally:
        os.close(fd)


def _around(cls, name, event):  # type: ignore[no-untyped-def]
    inner = getattr(cls, name)

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        log(event + ".in")
        try:
            return inner(*args, **kwargs)
        finally:
            log(event + ".out")

    setattr(cls, name, wrapper)


def _around_async(cls, name, event):  # type: ignore[no-untyped-def]
    inner = getattr(cls, name)

    async def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        log(event + ".in")
        try:
            return await inner(*args, **kwargs)
        finally:
            log(event + ".out")

    setattr(cls, name, wrapper)


def _timed(cls, name, event):  # type: ignore[no-untyped-def]
    """Log one event after the call, with its wall and thread-CPU time and the number of positions."""
    inner = getattr(cls, name)

    def wrapper(self, hidden_or_ids=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        if hidden_or_ids is None:  # transformers passes input_ids by keyword
            hidden_or_ids = kwargs.pop("input_ids")
            call = lambda: inner(self, *args, input_ids=hidden_or_ids, **kwargs)  # noqa: E731
        else:
            call = lambda: inner(self, hidden_or_ids, *args, **kwargs)  # noqa: E731
        wall, cpu = time.perf_counter(), time.thread_time()
        out = call()
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        log(f"{event} n={hidden_or_ids.shape[1]} wall={1000 * wall:.3f} cpu={1000 * cpu:.3f}")
        return out

    setattr(cls, name, wrapper)


def _patch_handler(mod) -> None:  # type: ignore[no-untyped-def]
    inner = mod.iterate_rpc_inference

    async def iterate_rpc_inference(*args, input_iterator, **kwargs):  # type: ignore[no-untyped-def]
        async def requests():  # type: ignore[no-untyped-def]
            async for item in input_iterator:
                log("srv.req")  # a step's request (from the client or pushed by the previous server) is here
                yield item

        async for out in inner(*args, input_iterator=requests(), **kwargs):
            log("srv.resp")  # outputs serialized, about to go back to the client (and pushed onward)
            yield out

    mod.iterate_rpc_inference = iterate_rpc_inference


PATCHES = {
    "petals.server.handler": _patch_handler,
    "petals.server.task_pool": lambda m: (
        _around(m.PrioritizedTaskPool, "submit_task", "srv.submit"),  # handler process -> runtime (pickling)
        _around(m.PrioritizedTaskPool, "load_batch_to_runtime", "rt.load"),
        _around(m.PrioritizedTaskPool, "send_outputs_from_runtime", "rt.send"),
    ),
    "petals.server.backend": lambda m: _timed(m._MergedInferenceStep, "__call__", "rt.compute"),
    "petals.client.inference_session": lambda m: (
        _around(m.InferenceSession, "step", "cli.step"),
        _around_async(m._ServerInferenceSession, "_step", "cli.hop"),
    ),
    "petals.client.lm_head": lambda m: _timed(m.LMHead, "forward", "cli.head"),
    # plain transformers in the worker: the local rung's decoder (Petals' DistributedLlamaModel has its own forward)
    "transformers.models.llama.modeling_llama": lambda m: _timed(m.LlamaModel, "forward", "local.body"),
}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        if name not in PATCHES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):  # type: ignore[no-untyped-def]
            exec_module(module)
            PATCHES[name](module)

        spec.loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


if _PATH:
    sys.meta_path.insert(0, _PatchOnImport())
