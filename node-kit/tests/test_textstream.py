"""Incremental detokenization and stop sequences, on the tiny model's byte-level BPE tokenizer."""

from __future__ import annotations

import pytest

from farlabs_node.gateway.textstream import TextAssembler


@pytest.fixture(scope="module")
def tokenizer(tiny_model):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model.path)


def _run(assembler: TextAssembler, ids: list[int]) -> list[str]:
    pieces = []
    for token in ids:
        piece = assembler.push(token)
        if piece is not None:
            pieces.append(piece.text)
        if assembler.stopped:
            return pieces
    tail = assembler.flush()
    return pieces + ([tail.text] if tail else [])


def test_pieces_join_to_the_decoded_text_even_across_multibyte_characters(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = "Hello wörld — 日本語 is fine."
    ids = tokenizer.encode(text)
    pieces = _run(TextAssembler(tokenizer), ids)
    assert "".join(pieces) == tokenizer.decode(ids)
    assert all("\ufffd" not in p for p in pieces)


def test_stop_sequence_is_cut_and_never_sent(tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = tokenizer.encode("Simple is better than complex. Complex is better")
    assembler = TextAssembler(tokenizer, stop=["than"])
    pieces = _run(assembler, ids)
    assert assembler.stopped
    assert "".join(pieces) == "Simple is better "


def test_text_that_only_looks_like_a_stop_start_is_released(tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = tokenizer.encode("the theme")
    assembler = TextAssembler(tokenizer, stop=["then"])
    assert "".join(_run(assembler, ids)) == "the theme"
    assert not assembler.stopped


def test_a_stop_straddling_the_resumed_prefix_is_found(tokenizer) -> None:  # type: ignore[no-untyped-def]
    prefix = tokenizer.encode("Now is bet")
    rest = tokenizer.encode("ter than never")
    assembler = TextAssembler(tokenizer, stop=["better"], prefix_ids=prefix)
    assert "".join(_run(assembler, rest)) == ""
    assert assembler.stopped


def test_special_tokens_still_get_an_event(tokenizer) -> None:  # type: ignore[no-untyped-def]
    assembler = TextAssembler(tokenizer)
    piece = assembler.push(tokenizer.bos_token_id)
    assert piece is not None and piece.text == "" and piece.token_ids == [tokenizer.bos_token_id]
