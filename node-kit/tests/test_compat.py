"""Every place that imports petals goes through the compat shim first (an import sorter must not undo that)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "farlabs_node"


def test_petals_imports_a_fresh_interpreter_after_the_shim() -> None:
    code = "from farlabs_node._compat import petals_ready; petals_ready(); import petals; print(petals.__version__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("2.2.0.post1")


def test_every_petals_import_is_preceded_by_petals_ready() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for scope in ast.walk(tree):
            body = getattr(scope, "body", None)
            if not isinstance(body, list):
                continue
            ready = False
            for stmt in body:
                if isinstance(stmt, ast.Expr) and "petals_ready" in ast.unparse(stmt):
                    ready = True
                names = []
                if isinstance(stmt, ast.Import):
                    names = [a.name for a in stmt.names]
                elif isinstance(stmt, ast.ImportFrom):
                    names = [stmt.module or ""]
                if any(n == "petals" or n.startswith("petals.") for n in names) and not ready:
                    offenders.append(f"{path.name}:{stmt.lineno}")
    assert offenders == []
