"""The committed ABI/bytecode artifacts are exactly what solc-js 0.8.37 makes of the contract sources."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from farlabs_server.payouts.contracts import CONTRACT_NAMES, load_artifact

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
SOLC_MISSING = 3  # compile.mjs's exit code when `solc` cannot be resolved


def test_artifacts_match_the_sources() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot recompile the contracts (install Node 18+ and run npm install)")
    result = subprocess.run([node, str(CONTRACTS_DIR / "compile.mjs"), "--check"], capture_output=True, text=True, timeout=240)
    if result.returncode == SOLC_MISSING:
        pytest.skip(f"solc-js is not installed: {result.stderr.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr


def test_artifacts_load_and_were_built_for_prague() -> None:
    for name in CONTRACT_NAMES:
        artifact = load_artifact(name)
        assert artifact.bytecode.startswith("0x60") and len(artifact.bytecode) > 1000
        assert artifact.compiler_version.startswith("0.8.37+")
    assert {i["name"] for i in load_artifact("FarBatchPayout").abi if i["type"] == "function"} >= {
        "payBatch",
        "isPaid",
        "paidAtBlock",
        "owner",
        "token",
        "transferOwnership",
        "acceptOwnership",
    }


def test_check_mode_catches_a_changed_source(tmp_path: Path) -> None:
    """Run --check on a copy whose source differs by one comment: it must fail."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    copy = tmp_path / "reference-server"
    shutil.copytree(CONTRACTS_DIR, copy / "contracts")
    shutil.copytree(
        CONTRACTS_DIR.parent / "src" / "farlabs_server" / "payouts" / "artifacts",
        copy / "src" / "farlabs_server" / "payouts" / "artifacts",
    )
    source = copy / "contracts" / "FarToken.sol"
    source.write_text(source.read_text() + "// changed\n")
    # The copy sits outside the repo, so point node at the repo's node_modules (and any NODE_PATH given).
    node_path = os.pathsep.join(filter(None, [str(CONTRACTS_DIR.parents[1] / "node_modules"), os.environ.get("NODE_PATH")]))
    result = subprocess.run(
        [node, str(copy / "contracts" / "compile.mjs"), "--check"],
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": "/usr/bin:/bin", "NODE_PATH": node_path},
    )
    if result.returncode == SOLC_MISSING:
        pytest.skip("solc-js is not installed")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FarToken.json" in result.stderr and "FarBatchPayout.json" not in result.stderr
