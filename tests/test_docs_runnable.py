"""Every code block marked runnable in README.md and docs/*.md runs, as written, against this session's mesh.

A block is runnable when the line before its opening fence is exactly `<!-- runnable -->` (docs/README.md).
Each runs in a fresh process with `FARLABS_API_KEY` (an app key) and `FARLABS_BASE_URL` (the test server) set;
in its text the placeholder key `fl_...` and the default address `127.0.0.1:8100` / `localhost:8100` are
replaced by the test's key and server first, so a block a reader copies works on `make demo` as is.
- python: the project's .venv python
- bash/sh: bash -e -o pipefail, with .venv/bin first on PATH (`farlabs`, `farlabs-server`)
- ts/typescript/js/javascript: bundled by esbuild against the built `@farlabs/sdk` (ts-sdk/dist), run by node
A block fails its test when it exits non-zero.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from farlabs_devtools.localmesh import LocalMesh

ROOT = Path(__file__).resolve().parents[1]

MARKER = "<!-- runnable -->"
LANGUAGES = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash",
             "ts": "ts", "typescript": "ts", "js": "ts", "javascript": "ts", "mjs": "ts"}
TIMEOUT_S = 120
_FENCE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_+-]*)")


@dataclass(frozen=True)
class Block:
    doc: str  # path relative to the repository root
    line: int  # line of the opening fence (1-based)
    language: str  # a key of LANGUAGES' values
    code: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}-{self.language}"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def find_blocks(path: Path) -> tuple[list[Block], list[str]]:
    """The marked blocks of one Markdown file, and the misuses of the marker in it.

    Fences are tracked, so a marker shown inside another code block (as in docs/README.md) is only text."""
    blocks, problems = [], []
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        marked = i > 0 and lines[i - 1].strip() == MARKER
        if fence is None:
            if lines[i].strip() == MARKER and not (i + 1 < len(lines) and _FENCE.match(lines[i + 1])):
                problems.append(f"{rel}:{i + 1}: {MARKER} is not directly followed by a code fence")
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not (lines[end].startswith(fence.group(1)) and not lines[end].strip(fence.group(1)[0]).strip()):
            end += 1
        if end == len(lines):
            problems.append(f"{rel}:{i + 1}: the code fence is never closed")
        if marked:
            language = LANGUAGES.get(fence.group(2).lower())
            if language is None:
                problems.append(f"{rel}:{i + 1}: a runnable block needs one of the languages {sorted(LANGUAGES)}")
            else:
                blocks.append(Block(rel, i + 1, language, "\n".join(lines[i + 1:end]) + "\n"))
        i = end + 1
    return blocks, problems


ALL = [found for path in doc_files() for found in [find_blocks(path)]]
BLOCKS = [block for blocks, _ in ALL for block in blocks]


def test_runnable_markers_are_well_formed() -> None:
    problems = [p for _, found in ALL for p in found]
    assert not problems, "\n".join(problems)
    assert BLOCKS, "no runnable blocks found: the docs test would prove nothing"


def test_marker_parsing(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("\n".join([
        MARKER, "```python", "print(1)", "```",          # a runnable block
        "````markdown", MARKER, "```bash", "ls", "```", "````",  # a marker shown inside another block: text
        "```python", "print(2)", "```",                  # not marked
        MARKER, "", "```bash", "ls", "```",              # marker not directly before a fence
        MARKER, "```yaml", "a: 1", "```",                # a language that cannot run
    ]) + "\n")
    blocks, problems = find_blocks(doc)
    assert [(b.line, b.language, b.code) for b in blocks] == [(2, "python", "print(1)\n")]
    assert len(problems) == 2 and "not directly followed" in problems[0] and "languages" in problems[1]


@pytest.fixture(scope="session")
def built_ts_sdk() -> Path:
    """The TypeScript SDK built from this checkout (the package the blocks import by name)."""
    npm = shutil.which("npm")
    assert npm, "npm is required (make test installs the workspace)"
    result = subprocess.run([npm, "run", "build", "-w", "ts-sdk"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return ROOT / "ts-sdk" / "dist"


def _prepare(block: Block, mesh: LocalMesh, api_key: str) -> str:
    address = mesh.url.removeprefix("http://")
    code = block.code.replace("fl_...", api_key)
    for default in ("127.0.0.1:8100", "localhost:8100"):
        code = code.replace(default, address)
    return code


def _command(block: Block, code: str, work: Path, request: pytest.FixtureRequest) -> list[str]:
    if block.language == "python":
        script = work / "block.py"
        script.write_text(code)
        return [sys.executable, str(script)]
    if block.language == "bash":
        script = work / "block.sh"
        script.write_text(code)
        return ["bash", "-e", "-o", "pipefail", str(script)]
    request.getfixturevalue("built_ts_sdk")
    source, bundle = work / "block.ts", work / "block.mjs"
    source.write_text(code)
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    result = subprocess.run(
        [str(esbuild), str(source), "--bundle", "--platform=node", "--format=esm", "--target=node18",
         f"--outfile={bundle}", "--log-level=warning"],
        env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, f"esbuild could not compile {block.id}:\n{result.stderr}"
    node = shutil.which("node")
    assert node, "node is required"
    return [node, str(bundle)]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_runnable_block(block: Block, mesh: LocalMesh, api_key: str, covered: Any, tmp_path: Path,
                        request: pytest.FixtureRequest) -> None:
    code = _prepare(block, mesh, api_key)
    env = {**os.environ, "FARLABS_API_KEY": api_key, "FARLABS_BASE_URL": mesh.url,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        result = subprocess.run(_command(block, code, tmp_path, request), cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{block.id} ran longer than {TIMEOUT_S} s; output so far:\n{exc.stdout!r}\n{exc.stderr!r}")
    assert result.returncode == 0, (
        f"{block.id} exited {result.returncode}\n--- code\n{block.code}--- stdout\n{result.stdout[-4000:]}"
        f"\n--- stderr\n{result.stderr[-4000:]}"
    )
