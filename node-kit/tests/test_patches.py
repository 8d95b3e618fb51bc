"""The patches module: Petals imports after the hivemind names are back, every patch goes in at one call and only
once, and a Petals/hivemind version the patches were not written for is refused."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import pytest
import torch

from farlabs_node import patches

SRC = Path(__file__).resolve().parents[1] / "src" / "farlabs_node"


def test_petals_imports_in_a_fresh_interpreter_after_petals_ready() -> None:
    code = "from farlabs_node.patches import petals_ready; petals_ready(); import petals; print(petals.__version__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("2.2.0.post1")


def test_every_petals_import_is_preceded_by_petals_ready_or_apply() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for scope in ast.walk(tree):
            body = getattr(scope, "body", None)
            if not isinstance(body, list):
                continue
            ready = False
            for stmt in body:
                if isinstance(stmt, ast.Expr) and any(c in ast.unparse(stmt) for c in ("petals_ready()", "patches.apply()")):
                    ready = True
                names = []
                if isinstance(stmt, ast.Import):
                    names = [a.name for a in stmt.names]
                elif isinstance(stmt, ast.ImportFrom):
                    names = [stmt.module or ""]
                if any(n == "petals" or n.startswith("petals.") for n in names) and not ready:
                    offenders.append(f"{path.name}:{stmt.lineno}")
    assert offenders == []


def test_nothing_outside_the_patches_module_assigns_into_upstream_modules() -> None:
    """`x.attr = ...` where x came from petals/hivemind/torch/transformers happens in patches.py only."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "patches.py":
            continue
        tree = ast.parse(path.read_text())
        upstream = {alias.asname or alias.name.split(".")[0]
                    for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                    for alias in node.names
                    if (getattr(node, "module", None) or alias.name).split(".")[0] in ("petals", "hivemind", "transformers")}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    root = target
                    while isinstance(root, ast.Attribute):
                        root = root.value
                    if isinstance(target, ast.Attribute) and isinstance(root, ast.Name) and root.id in upstream:
                        offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def _installed() -> dict[str, Callable[..., Any]]:
    """What each patch puts in place."""
    patches.petals_ready()
    from petals.client.inference_session import _ServerInferenceSession
    from petals.server import backend, task_pool

    return {
        "token counter": backend._MergedInferenceStep.__call__,
        "tensor reducer": ForkingPickler._extra_reducers[torch.Tensor],
        "task pool move": task_pool._move_to_device_if_tensor,
        "inference step": backend.TransformerBackend.inference_step,
        "client step": _ServerInferenceSession.step,
        "client finalizer": _ServerInferenceSession.__del__,
    }


def test_apply_installs_every_patch_and_a_second_call_changes_nothing() -> None:
    from farlabs_node.swarm import decode, failover, ipc

    patches.apply()
    first = _installed()
    assert first["tensor reducer"] is ipc.reduce_small_by_value
    assert first["inference step"] is decode.lean_inference_step and decode.petals_inference_step is not None
    assert first["client step"] is failover.replaying_step
    assert first["client finalizer"] is failover.finalize_without_self_wait
    patches.apply()
    assert _installed() == first  # not wrapped twice (the counter would count every token twice)


@pytest.mark.parametrize(("dist", "fake"), [("petals", "2.3.0"), ("hivemind", "1.1.10.post2")])
def test_apply_refuses_a_version_it_was_not_written_for(monkeypatch: pytest.MonkeyPatch, dist: str, fake: str) -> None:
    real = patches.installed_version
    monkeypatch.setattr(patches, "installed_version", lambda name: fake if name == dist else real(name))
    expected = {"petals": "2.2.0.post1", "hivemind": "1.1.12"}[dist]
    with pytest.raises(patches.UnsupportedUpstreamError) as refused:
        patches.apply()
    assert f"{dist} {fake} (expected {expected})" in str(refused.value)


def test_a_refused_version_installs_nothing() -> None:
    """In a fresh interpreter (nothing applied yet): the refusal comes before any patch."""
    code = (
        "from farlabs_node import patches\n"
        "patches.installed_version = lambda name: '9.9' if name == 'petals' else patches.importlib.metadata.version(name)\n"
        "try:\n    patches.apply()\nexcept patches.UnsupportedUpstreamError as exc:\n    print('refused:', exc)\n"
        "from petals.server.backend import TransformerBackend\n"
        "print('lean' if TransformerBackend.inference_step.__module__.startswith('farlabs_node') else 'upstream')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused: " in result.stdout and "petals 9.9 (expected 2.2.0.post1)" in result.stdout
    assert result.stdout.strip().endswith("upstream")
