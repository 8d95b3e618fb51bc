"""Real machine figures for registration and heartbeats: NVML when a GPU exists, psutil for CPU and RAM."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import psutil

logger = logging.getLogger(__name__)
_GIB = 1024**3


def _gpu() -> dict[str, Any] | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver / no GPU: a CPU node
        return None
    try:
        if pynvml.nvmlDeviceGetCount() < 1:
            return None
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        try:
            temp: int | None = int(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))
        except Exception:
            temp = None
        return {
            "gpu_name": name.decode() if isinstance(name, bytes) else str(name),
            "vram_used_gb": round(memory.used / _GIB, 2),
            "vram_total_gb": round(memory.total / _GIB, 2),
            "gpu_temp_c": temp,
        }
    except Exception as exc:
        logger.debug("NVML query failed: %s", exc)
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def hardware_snapshot() -> dict[str, Any]:
    """The heartbeat's `hardware` object."""
    memory = psutil.virtual_memory()
    snapshot: dict[str, Any] = {
        "cpu_count": psutil.cpu_count() or 1,
        "cpu_percent": psutil.cpu_percent(interval=None),
        "ram_used_gb": round((memory.total - memory.available) / _GIB, 2),
        "ram_total_gb": round(memory.total / _GIB, 2),
    }
    gpu = _gpu()
    if gpu:
        snapshot.update(gpu)
    return snapshot


def hardware_summary() -> dict[str, Any]:
    """The registration's `hardware` object (static figures)."""
    snap = hardware_snapshot()
    keys = ("gpu_name", "vram_total_gb", "cpu_count", "ram_total_gb")
    return {k: snap[k] for k in keys if k in snap}


def memory_line(snapshot: dict[str, Any]) -> str:
    """`VRAM: 18.5/24.0GB` on a GPU node, `VRAM: none (CPU) | RAM: 3.1/24.0GB` otherwise."""
    if "vram_total_gb" in snapshot:
        return f"VRAM: {snapshot['vram_used_gb']:.1f}/{snapshot['vram_total_gb']:.1f}GB"
    return f"VRAM: none (CPU) | RAM: {snapshot['ram_used_gb']:.1f}/{snapshot['ram_total_gb']:.1f}GB"
