"""The converted SmolLM2 checkpoint against the original GGUF read by a transformers that understands GGUF.

Needs a second Python environment (transformers >= 4.41 with `gguf`), since the node's own transformers 4.33
cannot read GGUF: point FARLABS_GGUF_PYTHON at its interpreter. Without it the test is skipped (and says so).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

PROMPTS = ["Explain quantum computing in simple terms", "In 2024, 17 cats ate 3.5 fish — ¿por qué? 日本"]

_SIDE_SCRIPT = r"""
import json, sys, torch
from pathlib import Path
from transformers import AutoModelForCausalLM, AutoTokenizer
gguf = Path(sys.argv[1]); prompts = json.loads(sys.argv[2])
tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, torch_dtype=torch.float32).eval()
out = []
for p in prompts:
    ids = tok(p, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    out.append({"ids": ids, "logits": logits[:, :].tolist()})
print(json.dumps(out))
"""


@pytest.mark.skipif(
    not os.environ.get("FARLABS_GGUF_PYTHON"),
    reason="set FARLABS_GGUF_PYTHON to a Python with transformers>=4.41 and gguf to compare against the GGUF itself",
)
def test_converted_checkpoint_matches_the_gguf(cache_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from farlabs_node.models import resolve_model
    from farlabs_node.models._smollm2 import find_smollm2_gguf

    side = subprocess.run(
        [os.environ["FARLABS_GGUF_PYTHON"], "-c", _SIDE_SCRIPT, str(find_smollm2_gguf()), json.dumps(PROMPTS)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert side.returncode == 0, side.stderr[-3000:]
    reference = json.loads(side.stdout.strip().splitlines()[-1])

    model = resolve_model("smollm2", show_progress=False)
    tokenizer = AutoTokenizer.from_pretrained(model.path)
    local = AutoModelForCausalLM.from_pretrained(model.path, torch_dtype=torch.float32).eval()
    for prompt, ref in zip(PROMPTS, reference, strict=True):
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        assert ids == ref["ids"], prompt  # same tokenization, digits and multibyte characters included
        with torch.no_grad():
            logits = local(torch.tensor([ids])).logits[0]
        expected = torch.tensor(ref["logits"])
        assert torch.equal(logits.argmax(-1), expected.argmax(-1))
        assert torch.allclose(logits, expected, atol=1e-3, rtol=1e-3), (logits - expected).abs().max()
