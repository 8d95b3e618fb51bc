"""Every runtime patch of Petals, hivemind and torch, in one place: applied at one call, on the versions they were
written for and no other.

- `petals_ready()`: petals 2.2.0.post1 imports names that hivemind 1.1.12 (the release whose Linux wheel ships a
  working ``p2pd``) no longer re-exports at its top level (``from hivemind import PeerID, anext, get_logger, ...``).
  Importing this module puts them back (only names that are missing); call `petals_ready()` before any
  `import petals`: it is a statement, so import sorters cannot move a petals import above it.
- `closed_client_dht(host)`: while Petals' client is built, its DHT gets the node's closed options.
- `apply()`: checks that the installed petals, hivemind, torch and transformers are the versions every patch in
  `PATCHES` was written for — and refuses to start otherwise — then installs each patch once per process. Call it
  before Petals' `Server()` forks its handler processes (they inherit the patches).

The replacement code lives with what it is about (`swarm/usage.py`, `swarm/ipc.py`, `swarm/decode.py`,
`swarm/failover.py`); only this module assigns into upstream modules.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import hivemind
import hivemind.utils as _hivemind_utils

PETALS = "petals==2.2.0.post1"
HIVEMIND = "hivemind==1.1.12"
TORCH = "torch==2.13.0"
TRANSFORMERS = "transformers==4.33.3"

# modules whose public names hivemind<=1.1.10 re-exported wholesale
_STAR_MODULES = (
    "hivemind.compression",
    "hivemind.utils.asyncio",
    "hivemind.utils.mpfuture",
    "hivemind.utils.nested",
    "hivemind.utils.timed_storage",
)
_NAMED = {
    "hivemind.utils.limits": ("increase_file_limit",),
    "hivemind.utils.logging": ("get_logger", "use_hivemind_log_handler"),
    "hivemind.utils.networking": ("log_visible_maddrs",),
    "hivemind.utils.performance_ema": ("PerformanceEMA",),
    "hivemind.utils.serializer": ("MSGPackSerializer", "SerializerBase"),
    "hivemind.utils.streaming": ("combine_from_streaming", "split_for_streaming"),
    "hivemind.utils.tensor_descr": ("BatchTensorDescriptor", "TensorDescriptor"),
    "hivemind.p2p": ("P2P", "P2PContext", "P2PHandlerError", "PeerID", "PeerInfo"),
}


def _reexport(module_name: str, names: tuple[str, ...] | None) -> None:
    module = importlib.import_module(module_name)
    if names is None:
        names = tuple(getattr(module, "__all__", None) or (n for n in vars(module) if not n.startswith("_")))
    targets: tuple[ModuleType, ...] = (hivemind,)
    if module_name.startswith("hivemind.utils"):
        targets = (hivemind, _hivemind_utils)
    for name in names:
        if not hasattr(module, name):
            continue
        for target in targets:
            if not hasattr(target, name):
                setattr(target, name, getattr(module, name))


for _module_name in _STAR_MODULES:
    _reexport(_module_name, None)
for _module_name, _names in _NAMED.items():
    _reexport(_module_name, _names)


def petals_ready() -> None:
    """Call before importing petals (the names were restored when this module was imported)."""


@dataclass(frozen=True)
class Patch:
    """One change to upstream code: what it replaces, the versions it was written for, and how it is installed."""

    name: str
    replaces: str
    written_for: tuple[str, ...]  # "dist==version", each checked by apply()
    install: Callable[[], None]


def _count_block_tokens() -> None:
    petals_ready()
    from petals.server import backend

    from farlabs_node.swarm import usage

    step = backend._MergedInferenceStep
    step.__call__ = usage.counting(step.__call__)


def _small_tensors_by_value() -> None:
    from multiprocessing.reduction import ForkingPickler

    import torch

    petals_ready()
    from petals.server import task_pool

    from farlabs_node.swarm import ipc

    ForkingPickler.register(torch.Tensor, ipc.reduce_small_by_value)
    task_pool._move_to_device_if_tensor = ipc.keep_small_unshared(task_pool._move_to_device_if_tensor)


def _lean_llama_decode() -> None:
    petals_ready()
    from petals.server.backend import TransformerBackend

    from farlabs_node.swarm import decode

    decode.petals_inference_step = TransformerBackend.inference_step
    TransformerBackend.inference_step = decode.lean_inference_step


def _failover() -> None:
    petals_ready()
    from petals.client import inference_session

    from farlabs_node.swarm import failover

    session = inference_session._ServerInferenceSession
    session.step = failover.replaying_step
    session.__del__ = failover.finalize_without_self_wait


PATCHES = (
    Patch("count the tokens this node's blocks compute", "petals.server.backend._MergedInferenceStep.__call__",
          (PETALS,), _count_block_tokens),
    Patch("small tensors cross Petals' process boundary by value",
          "torch's ForkingPickler reducer of Tensor; petals.server.task_pool._move_to_device_if_tensor",
          (TORCH, PETALS), _small_tensors_by_value),
    Patch("lean Llama inference step on CPU", "petals.server.backend.TransformerBackend.inference_step",
          (PETALS, TRANSFORMERS), _lean_llama_decode),
    Patch("failover replays the history to a replacement server (petals#587); no self-wait in __del__",
          "petals.client.inference_session._ServerInferenceSession.step and __del__", (PETALS, HIVEMIND), _failover),
)
# the hivemind names above were written for these too
_NAMES_WRITTEN_FOR = (PETALS, HIVEMIND)


@contextlib.contextmanager
def closed_client_dht(host: str) -> Iterator[None]:
    """Petals' client builds its own DHT with relays and AutoNAT on; inside this block it builds it with the node's
    closed options (petals 2.2.0.post1's sequence_manager.DHT; `apply()` checks the version)."""
    from farlabs_node.swarm._dht_options import closed_dht_kwargs

    petals_ready()
    import petals.client.routing.sequence_manager as sequence_manager

    original = sequence_manager.DHT
    closed = closed_dht_kwargs(host)

    class ClosedDHT(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**closed, **kwargs})

    sequence_manager.DHT = ClosedDHT
    try:
        yield
    finally:
        sequence_manager.DHT = original


class UnsupportedUpstreamError(RuntimeError):
    """An installed package is not the version the patches were written for."""


def installed_version(distribution: str) -> str | None:
    """The installed version of `distribution`, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_versions() -> None:
    """Raise UnsupportedUpstreamError naming every package whose installed version no patch was written for."""
    wanted: dict[str, str] = {}
    for requirement in (*_NAMES_WRITTEN_FOR, *(req for patch in PATCHES for req in patch.written_for)):
        dist, version = requirement.split("==")
        wanted[dist] = version
    wrong = []
    for dist, version in sorted(wanted.items()):
        found = installed_version(dist)
        if found is None or found.split("+")[0] != version:  # "+cpu"/"+cu121": the same release, another build
            wrong.append(f"{dist} {found or '(not installed)'} (expected {version})")
    if wrong:
        raise UnsupportedUpstreamError(
            "far-node's patches of Petals and its dependencies were written for other versions: found "
            + ", ".join(wrong)
            + "; install the pinned ones (node-kit/scripts/setup-venv.sh)"
        )


_lock = threading.Lock()
_applied = False


def apply() -> None:
    """Check the upstream versions, then install every patch in this process; a second call changes nothing."""
    global _applied
    check_versions()
    with _lock:
        if _applied:
            return
        for patch in PATCHES:
            patch.install()
        _applied = True
