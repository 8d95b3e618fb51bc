"""Render a model's chat template with jinja2 (transformers 4.33 has no `apply_chat_template`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Used when a checkpoint ships no template: ChatML, which SmolLM2 and many instruct models use.
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _raise(message: str) -> None:
    raise TemplateError(message)


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    # The same environment settings transformers uses, so templates render identically.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    return env.from_string(template)


def load_chat_template(model_dir: str | Path) -> str | None:
    """The chat template stored with a checkpoint (chat_template.jinja or tokenizer_config.json), if any."""
    path = Path(model_dir)
    jinja_file = path / "chat_template.jinja"
    if jinja_file.exists():
        return jinja_file.read_text()
    config_file = path / "tokenizer_config.json"
    if config_file.exists():
        template = json.loads(config_file.read_text()).get("chat_template")
        if isinstance(template, str):
            return template
    return None


def render_chat(
    template: str | None,
    messages: Sequence[Mapping[str, str]],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text for `messages` ([{"role", "content"}, …]) under `template` (ChatML when None)."""
    return str(
        _compile(template or DEFAULT_CHAT_TEMPLATE).render(
            messages=[dict(m) for m in messages],
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    )
