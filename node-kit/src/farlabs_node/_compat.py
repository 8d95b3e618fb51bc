"""Make petals 2.2.0.post1 importable over hivemind 1.1.12.

hivemind 1.1.12 (the release whose Linux wheel ships a working ``p2pd``) dropped top-level re-exports that
petals 2.2.0 imports (``from hivemind import PeerID, anext, get_logger, ...``). Importing this module first puts
those names back. It is idempotent and only adds names that are missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import hivemind
import hivemind.utils as _hivemind_utils

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
    """Call before importing petals. The work happens when this module is imported; the call is a statement, so
    import sorters cannot move a petals import above it."""
