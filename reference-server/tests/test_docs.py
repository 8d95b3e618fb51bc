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


def test_api_reference_is_generated_from_the_openapi_document() -> None:
    from farlabs_devtools.api_reference import REGENERATE, current

    committed = (DOC.parent / "api-reference.md").read_text()
    assert committed == current(), f"docs/api-reference.md is stale: run `.venv/bin/{REGENERATE}` at the repository root"


def test_api_reference_covers_every_operation() -> None:
    from farlabs_server.api import all_endpoints

    text = (DOC.parent / "api-reference.md").read_text()
    for ep in all_endpoints():
        path = ep.path.replace(":path}", "}")
        if ep.include_in_schema:
            assert f"### `{ep.method} {path}`" in text, f"{ep.method} {path} missing from api-reference.md"
