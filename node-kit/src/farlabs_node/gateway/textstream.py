"""Turn generated token ids into text pieces: whole UTF-8 characters only, stop sequences cut and never leaked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Piece:
    """Text ready to send and the token ids it came from (several ids when a character spans tokens)."""

    text: str
    token_ids: list[int]


@dataclass
class TextAssembler:
    """Incremental detokenizer with stop-sequence handling.

    Decodes the whole completion each time (robust for byte-level BPE and SentencePiece alike) and holds back
    text that could still become a stop sequence or is an incomplete character.
    """

    tokenizer: Any
    stop: Sequence[str] = ()
    prefix_ids: Sequence[int] = ()
    _ids: list[int] = field(default_factory=list)
    _pending_ids: list[int] = field(default_factory=list)
    _emitted_chars: int = 0
    _base_chars: int = 0
    _prefix_text: str = ""
    stopped: bool = False

    def __post_init__(self) -> None:
        self._ids = list(self.prefix_ids)
        self._prefix_text = self._decode()
        self._base_chars = len(self._prefix_text)

    def _decode(self) -> str:
        return str(self.tokenizer.decode(self._ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))

    def _completion_text(self) -> str:
        return self._decode()[self._base_chars :]

    @property
    def text(self) -> str:
        """All completion text released so far (excluding the resumed prefix)."""
        return self._completion_text()[: self._emitted_chars]

    def push(self, token_id: int) -> Piece | None:
        """Add one generated token; return the text now safe to send, if any. Sets `stopped` on a stop match."""
        self._ids.append(token_id)
        self._pending_ids.append(token_id)
        text = self._completion_text()
        hit = self._find_stop(text)
        if hit is not None:
            self.stopped = True
            return self._release(text[:hit])
        if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the next token
            return None
        held = self._held_suffix(text)
        if held and len(text) - held <= self._emitted_chars:  # only a possible stop-sequence start is new
            return None
        return self._release(text[: len(text) - held])

    def flush(self) -> Piece | None:
        """At the end of generation: release whatever was held back (no stop sequence completed)."""
        if self.stopped:
            return None
        return self._release(self._completion_text())

    def _find_stop(self, text: str) -> int | None:
        prefix_text_len = self._base_chars
        full = self._prefix_text + text
        # search from a little before the unreleased text, and into the prefix for straddling stops
        longest = max((len(s) for s in self.stop), default=0)
        start = max(0, prefix_text_len + self._emitted_chars - longest)
        best: int | None = None
        for stop in self.stop:
            idx = full.find(stop, start)
            while idx != -1 and idx + len(stop) <= prefix_text_len:  # wholly inside the resumed prefix
                idx = full.find(stop, idx + 1)
            if idx != -1:
                cut = max(0, idx - prefix_text_len)
                best = cut if best is None else min(best, cut)
        return best

    def _held_suffix(self, text: str) -> int:
        """Length of the longest tail of `text` that is a proper prefix of some stop sequence."""
        held = 0
        for stop in self.stop:
            for n in range(min(len(stop) - 1, len(text)), held, -1):
                if text.endswith(stop[:n]):
                    held = n
                    break
        return held

    def _release(self, upto_text: str) -> Piece | None:
        new_text = upto_text[self._emitted_chars :]
        if not new_text and not self._pending_ids:
            return None
        # A special token decodes to "" but still gets its own event (one event per token).
        piece = Piece(new_text, self._pending_ids)
        self._pending_ids = []
        self._emitted_chars = max(self._emitted_chars, len(upto_text))
        return piece
