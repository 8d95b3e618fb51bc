"""The configuration reference names every setting the server reads."""

from __future__ import annotations

from pathlib import Path

from farlabs_server.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "server-configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if alias is not None else f"FARLABS_{name.upper()}"  # type: ignore[union-attr]
        assert f"`{env}`" in text, f"{env} is missing from {DOC.name}"
