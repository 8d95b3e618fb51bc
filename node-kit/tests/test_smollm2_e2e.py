"""End to end with the default model: SmolLM2-135M-Instruct converted from its GGUF, served by two nodes."""

from __future__ import annotations

from pathlib import Path

from _helpers import generate, shutdown_all

from conftest import GATEWAY_TOKEN, start_node
from farlabs_protocol import READY_LINE

QUESTION = "Explain quantum computing in simple terms"


def test_smollm2_answers_on_topic_through_a_two_node_swarm(tmp_path: Path, cache_dir: Path, bootstrap: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from farlabs_node.models import render_chat, resolve_model
    from farlabs_node.models.chat import load_chat_template

    model = resolve_model("smollm2", show_progress=False)  # converted once into the cache
    assert model.model_id == "HuggingFaceTB/SmolLM2-135M-Instruct" and model.num_blocks == 30
    nodes = [
        start_node(tmp_path, cache_dir, "smol-a", bootstrap, "--blocks", "0:15", model="smollm2"),
        start_node(tmp_path, cache_dir, "smol-b", bootstrap, "--blocks", "15:30", model="smollm2"),
    ]
    try:
        for node in nodes:
            node.wait_for(READY_LINE)
        messages = [{"role": "user", "content": QUESTION}]
        result = generate(
            f"http://127.0.0.1:{nodes[0].gateway_port}", GATEWAY_TOKEN, {"messages": messages, "max_tokens": 32, "temperature": 0}
        )
    finally:
        shutdown_all(nodes)

    assert result.error is None and result.done is not None
    text = result.text.lower()
    assert "quantum" in text and ("comput" in text or "mechanic" in text), result.text
    assert [(h["start_block"], h["end_block"]) for h in result.done["route"]] == [(0, 15), (15, 30)]

    # token for token what plain transformers makes of the same checkpoint
    tokenizer = AutoTokenizer.from_pretrained(model.path)
    prompt = render_chat(load_chat_template(model.path), messages)
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    local = AutoModelForCausalLM.from_pretrained(model.path, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        expected = local.generate(ids, max_new_tokens=32, do_sample=False)[0, ids.shape[1] :].tolist()
    assert result.token_ids == [t for t in expected if t != tokenizer.eos_token_id]
