"""The API reference in Markdown (`docs/api-reference.md`), rendered from the server's OpenAPI document.

`python -m farlabs_devtools.api_reference --output docs/api-reference.md` writes it; a test checks the
committed file equals a fresh rendering, so the reference cannot drift from what the server accepts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from farlabs_server.api import all_endpoints
from farlabs_server.api.openapi import build_openapi
from farlabs_server.errors import ApiError

REGENERATE = "python -m farlabs_devtools.api_reference --output docs/api-reference.md"

AUTH_KINDS = {
    "public": "none",
    "app": "app credential: an API key `fl_…`, or a JWT from `POST /auth/token`",
    "provider": "an app credential, or the wallet's provider token (from the wallet sign-in or `far-node dashboard`)",
    "admin": "admin credential: an admin API key, or a JWT minted from one",
    "node": "node token `fn_…` from `POST /nodes/register`",
}
_AUTH_SHORT = {"public": "public", "app": "app", "provider": "provider", "admin": "admin", "node": "node"}
_CONSTRAINTS = [("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"), ("exclusiveMaximum", "< {}"),
                ("minLength", "min length {}"), ("maxLength", "max length {}"), ("minItems", "min items {}"),
                ("maxItems", "max items {}"), ("pattern", "pattern `{}`")]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


class _Renderer:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.schemas: dict[str, Any] = spec["components"]["schemas"]
        self.reached: list[str] = []  # component names to document, in order of first use

    # ---------------------------------------------------------------- schemas

    def _name(self, key: str) -> str:
        """A component's display name: its title, unless both of a model's -Input/-Output variants show."""
        title = str(self.schemas[key].get("title", key))
        twins = [k for k in self.reached if str(self.schemas[k].get("title", k)) == title]
        return key if len(twins) > 1 else title

    def _reach(self, ref: str) -> str:
        key = ref.rsplit("/", 1)[-1]
        if key not in self.reached:
            self.reached.append(key)
            self._walk(self.schemas[key])
        return key

    def _walk(self, schema: Any) -> None:
        if isinstance(schema, dict):
            if "$ref" in schema:
                self._reach(schema["$ref"])
            for value in schema.values():
                self._walk(value)
        elif isinstance(schema, list):
            for value in schema:
                self._walk(value)

    def link(self, ref: str) -> str:
        if ref.endswith("/Error"):
            return "the [error envelope](#errors)"
        key = self._reach(ref)
        return f"`{{{key}}}`"  # a placeholder: display names are settled once every schema is reached

    def type_of(self, schema: dict[str, Any]) -> str:
        if "$ref" in schema:
            return self.link(schema["$ref"])
        if "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            text = " or ".join(self.type_of(s) for s in options)
            return text + " or null" if len(options) < len(schema["anyOf"]) else text
        if "const" in schema:
            return f"`{json.dumps(schema['const'])}`"
        if "enum" in schema:
            return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            return " or ".join(kind)
        if kind == "array":
            return f"array of {self.type_of(schema.get('items', {}))}"
        if kind == "object" and "additionalProperties" in schema and not schema.get("properties"):
            extra = schema["additionalProperties"]
            return f"object of {self.type_of(extra)}" if isinstance(extra, dict) and extra else "object"
        if kind is None:
            return "any"
        return f"{kind} ({schema['format']})" if "format" in schema else str(kind)

    @staticmethod
    def _constraints(schema: dict[str, Any]) -> list[str]:
        parts = []
        for branch in [schema, *schema.get("anyOf", [])]:
            for key, template in _CONSTRAINTS:
                if key in branch:
                    parts.append(template.format(branch[key]))
        return parts

    def fields(self, schema: dict[str, Any]) -> list[str]:
        """A Markdown table of an object's fields."""
        props: dict[str, Any] = schema.get("properties", {})
        if not props:
            return ["Any JSON object." if schema.get("type") == "object" else f"`{self.type_of(schema)}`"]
        required = set(schema.get("required", []))
        lines = ["| field | type | required | default | notes |", "|---|---|---|---|---|"]
        for name, prop in props.items():
            default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
            notes = "; ".join([*self._constraints(prop), *([prop["description"]] if "description" in prop else [])])
            lines.append(f"| `{name}` | {_cell(self.type_of(prop))} | {'yes' if name in required else ''} "
                         f"| {_cell(default)} | {_cell(notes)} |")
        if schema.get("additionalProperties") is False:
            lines += ["", "Other fields are refused (`422`)."]
        return lines

    # ---------------------------------------------------------------- operations

    def operation(self, method: str, path: str, op: dict[str, Any]) -> list[str]:
        auth = op.get("x-farlabs-auth", "app" if op.get("security") else "public")
        out = [f"### `{method.upper()} {path}`", "", f"{op['summary']}.", "", f"**Auth:** {AUTH_KINDS[auth]}."]
        params = op.get("parameters", [])
        if params:
            out += ["", "| parameter | in | required | meaning |", "|---|---|---|---|"]
            out += [f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else ''} | "
                    f"{_cell(p.get('description', ''))} |" for p in params]
        body = op.get("requestBody")
        if body is not None:
            schema = body["content"]["application/json"]["schema"]
            resolved = self.schemas[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema
            optional = "" if body.get("required") else " (optional: an empty body is read as `{}`)"
            out += ["", f"**Body** ({self.type_of(schema)}, JSON){optional}:", ""]
            if resolved.get("description"):
                out += [resolved["description"], ""]
            out += self.fields(resolved)
        out += ["", "**Responses:**", ""]
        for status, response in op["responses"].items():
            content = response.get("content", {})
            if status in ("4XX", "5XX"):
                continue
            kinds = []
            for media, spec in content.items():
                schema = spec.get("schema", {})
                shown = self.type_of(schema) if "$ref" in schema else ""
                kinds.append(f"`{media}` {shown}".rstrip())
            out.append(f"- `{status}`: {', '.join(kinds) if kinds else 'no body'}")
        out.append("- `4XX`, `5XX`: the [error envelope](#errors)")
        for media, spec in op["responses"][next(iter(op["responses"]))].get("content", {}).items():
            events = spec.get("x-sse-events")
            if media == "text/event-stream" and events:
                out += ["", "**Server-sent events** (with `\"stream\": true`; `: keep-alive` comments while idle):",
                        "", "| event | data | when |", "|---|---|---|"]
                for e in events:
                    data = self.type_of(e["schema"]) if "schema" in e else "—"
                    out.append(f"| `{e['event']}` | {_cell(data)} | {_cell(e['description'])} |")
        return out

    # ---------------------------------------------------------------- the page

    def render(self) -> str:
        spec = self.spec
        info = spec["info"]
        ops = [(path, method, op) for path, methods in spec["paths"].items() for method, op in methods.items()]
        tags: list[str] = []
        for _, _, op in ops:
            for tag in op.get("tags", []):
                if tag not in tags:
                    tags.append(tag)

        out = [
            "# API reference",
            "",
            f"<!-- Generated from the server's OpenAPI document by `{REGENERATE}`. Do not edit by hand. -->",
            "",
            f"{info['title']} {info['version']}. {info['description']} Every operation below is also in the",
            "machine-readable document the server serves at `GET /openapi.json` (and as a page at `GET /docs`);",
            "[protocol.md](protocol.md) says what each exchange means. Bodies are JSON; amounts of $FAR are decimal",
            "strings.",
            "",
            "## Authentication",
            "",
            "Credentials go in `Authorization: Bearer <token>`. Each operation names the kind it takes:",
            "",
            "| auth | credential |",
            "|---|---|",
            *[f"| {_AUTH_SHORT[k]} | {_cell(v)} |" for k, v in AUTH_KINDS.items()],
            "",
            "App credentials are rate-limited per key, the public `POST`s (which check signatures) per client address",
            "(`429` with `Retry-After`). The `/provider/{wallet}/…` operations",
            "take an app credential allowed to read that wallet: its provider token (from the wallet sign-in or",
            "`POST /nodes/dashboard-token`) or an admin credential; any other gets `403`. `Idempotency-Key` on the",
            "inference `POST`s makes retries safe (see [protocol.md](protocol.md#credentials)).",
            "",
            "## Errors",
            "",
            "Every `4XX`/`5XX` response, and every `error` event inside a stream, is one envelope:",
            "",
            *self.fields(self.schemas["Error"]["properties"]["error"]),
            "",
            "Responses also carry the request id in the `X-Request-ID` header. The error `type`s, with their usual",
            "status:",
            "",
            "| `type` | status |",
            "|---|---|",
            *[f"| `{t}` | {s} |" for t, s in _error_types()],
            "",
            "## Operations",
            "",
            "| method | path | summary | auth |",
            "|---|---|---|---|",
        ]
        for tag in tags:
            for path, method, op in ops:
                if tag in op.get("tags", []):
                    anchor = _anchor(f"{method.upper()} {path}")
                    auth = op.get("x-farlabs-auth", "app" if op.get("security") else "public")
                    out.append(f"| `{method.upper()}` | [`{_cell(path)}`](#{anchor}) | {_cell(op['summary'])} "
                               f"| {_AUTH_SHORT[auth]} |")
        for tag in tags:
            out += ["", f"## {tag}"]
            for path, method, op in ops:
                if tag in op.get("tags", []):
                    out += ["", *self.operation(method, path, op)]

        out += ["", "## Schemas"]
        done: set[str] = set()
        while len(done) < len(self.reached):  # rendering a schema may reach more of them
            for key in sorted(set(self.reached) - done):
                done.add(key)
                schema = self.schemas[key]
                out += ["", f"### {{{key}}}@heading", ""]
                if schema.get("description"):
                    out += [schema["description"], ""]
                out += self.fields(schema)
        text = "\n".join(out) + "\n"
        return self._settle_names(text)

    def _settle_names(self, text: str) -> str:
        """Replace the placeholders with display names and links, now that every schema is known."""
        for key in self.reached:
            name = self._name(key)
            text = text.replace(f"### {{{key}}}@heading", f"### {name}")
            text = text.replace(f"`{{{key}}}`", f"[{name}](#{_anchor(name)})")
        return text


def _error_types() -> list[tuple[str, int]]:
    """Every error `type` the server sends, with its default HTTP status (from the error classes)."""
    seen: dict[str, int] = {}
    todo: list[type[ApiError]] = [ApiError]
    while todo:
        cls = todo.pop()
        seen.setdefault(cls.type, cls.status)
        seen[cls.type] = min(seen[cls.type], cls.status)
        todo.extend(cls.__subclasses__())
    return sorted(seen.items(), key=lambda item: (item[1], item[0]))


def render_markdown(spec: dict[str, Any]) -> str:
    """The OpenAPI document as one Markdown page: every operation, its auth, parameters, body, responses
    and stream events, the error envelope, and every schema they use."""
    return _Renderer(spec).render()


def current() -> str:
    """The reference for the server as it is now."""
    return render_markdown(build_openapi(all_endpoints()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m farlabs_devtools.api_reference", description=__doc__)
    parser.add_argument("--output", type=Path, help="write to this file instead of stdout")
    args = parser.parse_args(argv)
    if args.output:
        args.output.write_text(current(), encoding="utf-8")
        print(f"✓ wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(current())
    return 0


if __name__ == "__main__":
    sys.exit(main())
