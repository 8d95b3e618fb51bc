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
