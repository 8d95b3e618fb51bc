"""The gateway's step: the LM head on the last position only gives the same logits as the full forward."""

from __future__ import annotations

import torch

from farlabs_node.gateway.engine import next_token_logits
from farlabs_node.gateway.local_engine import LocalEngine


def test_last_position_logits_equal_the_full_forward(tiny_model) -> None:  # type: ignore[no-untyped-def]
    engine = LocalEngine(tiny_model)
    model = engine.hf_model
    prompt = torch.tensor([[1, 5, 9, 42, 7, 3, 11]])
    with torch.inference_mode():
        full = model(input_ids=prompt, use_cache=True)
        logits, out = next_token_logits(model, prompt, use_cache=True)
        assert logits.shape == (model.config.vocab_size,)
        torch.testing.assert_close(logits, full.logits[0, -1].float())

        token = torch.tensor([[int(logits.argmax())]])
        full_next = model(input_ids=token, past_key_values=full.past_key_values, use_cache=True)
        logits_next, _ = next_token_logits(model, token, past_key_values=out.past_key_values, use_cache=True)
        torch.testing.assert_close(logits_next, full_next.logits[0, -1].float())


def test_a_local_session_steps_through_the_same_logits(tiny_model) -> None:  # type: ignore[no-untyped-def]
    engine = LocalEngine(tiny_model)
    prompt = [2, 8, 13, 21, 34]
    with torch.inference_mode():
        expected = engine.hf_model.generate(torch.tensor([prompt]), max_new_tokens=6, do_sample=False)[0, len(prompt):]
        with engine.session(len(prompt) + 6) as session:
            got, step_input = [], torch.tensor([prompt])
            for _ in range(6):
                token = int(session.step(step_input).argmax())
                got.append(token)
                step_input = torch.tensor([[token]])
    assert got == expected.tolist()


def test_the_weights_are_stored_transposed_with_the_same_values(tiny_model) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM

    from farlabs_node.layout import store_weights_transposed

    plain = AutoModelForCausalLM.from_pretrained(tiny_model.path, torch_dtype=torch.float32).eval()
    engine = LocalEngine(tiny_model)  # stores it transposed on load
    head, plain_head = engine.hf_model.get_output_embeddings().weight, plain.get_output_embeddings().weight
    vocab, width = plain_head.shape
    assert head.shape == (vocab, width) and head.stride() == (1, vocab) and plain_head.stride() == (width, 1)
    assert torch.equal(head, plain_head)
    q, plain_q = engine.hf_model.model.layers[0].self_attn.q_proj.weight, plain.model.layers[0].self_attn.q_proj.weight
    assert q.stride() == (1, q.shape[0]) and torch.equal(q, plain_q)
    prompt = torch.tensor([[1, 5, 9, 42, 7, 3, 11]])
    with torch.inference_mode():
        torch.testing.assert_close(engine.hf_model(input_ids=prompt).logits, plain(input_ids=prompt).logits)
    assert store_weights_transposed(engine.hf_model) == 0  # already transposed: left as is
    assert store_weights_transposed(plain.to(torch.bfloat16)) == 0  # only float32 on CPU is measured


def test_a_tied_input_embedding_reads_the_transposed_storage() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from farlabs_node.layout import store_weights_transposed

    config = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, tie_word_embeddings=True)  # like SmolLM2
    model = LlamaForCausalLM(config).eval()
    ids = torch.tensor([[0, 17, 299, 17, 5]])
    with torch.inference_mode():
        before, embedded = model(input_ids=ids).logits, model.get_input_embeddings()(ids)
        assert store_weights_transposed(model) == 1 + 7  # the tied head once, a block's seven matrices
        assert model.get_input_embeddings().weight is model.get_output_embeddings().weight
        assert model.get_input_embeddings().weight.stride() == (1, 300)
        assert torch.equal(model.get_input_embeddings()(ids), embedded)
        torch.testing.assert_close(model(input_ids=ids).logits, before)
