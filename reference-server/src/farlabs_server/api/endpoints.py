"""Declaring endpoints once: the route, its pydantic request/response models and who may call it.

The same declarations build the Starlette routes and the OpenAPI document, so the document cannot drift
from what the server accepts. Handlers stay thin: they get a validated body and a caller, return a model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import untrusted_json
from ..auth import Principal, authenticate_app, authenticate_node, node_token_hash
from ..context import ServerContext
from ..errors import InvalidRequestError, PermissionDenied, ValidationFailed

# public: anyone; app: an API key or a JWT minted from one; provider: those, or a wallet's provider sign-in (which
# reads that wallet's provider data and nothing else: a wallet costs nothing to make, so it must not buy inference);
# admin: an admin key or its JWT; node: a node token.
Auth = Literal["public", "app", "provider", "admin", "node"]


@dataclass
class Call:
    """Everything a handler needs about one request."""

    request: Request
    ctx: ServerContext
    body: Any = None  # the validated request model, when the endpoint has one
    principal: Principal | None = None
    node_id: Any = None  # uuid.UUID for node-authenticated endpoints
    node_token_hash: str = ""  # for node endpoints that look the token up in their own statement

    @property
    def request_id(self) -> str:
        return str(self.request.state.request_id)

    def path(self, name: str) -> str:
        value = str(self.request.path_params[name])
        if "\x00" in value:  # PostgreSQL text cannot hold it; no resource is named so
            raise ValidationFailed(f"{name} must not contain the NUL character (U+0000).", param=name)
        return value


Handler = Callable[[Call], Awaitable[BaseModel | Response]]


@dataclass(frozen=True)
class SseEvent:
    """One kind of event a streaming endpoint sends, for the docs: `event` is None for plain `data:` lines."""

    event: str | None
    description: str
    model: type[BaseModel] | None = None  # the JSON in its `data:` line; None = the error envelope or a sentinel


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: Auth = "app"
    request_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    status_code: int = 200
    streams: bool = False  # may answer text/event-stream
    sse_events: tuple[SseEvent, ...] = ()  # what such a stream carries, in order, for the docs
    response_media: str | None = None  # the media type of a success body that has no response_model
    query: dict[str, str] = field(default_factory=dict)  # name -> description, for the docs
    include_in_schema: bool = True
    node_lookup_in_handler: bool = False  # auth="node": the handler finds the node by call.node_token_hash itself

    def route(self) -> Route:
        async def endpoint(request: Request) -> Response:
            ctx: ServerContext = request.app.state.ctx
            call = Call(request=request, ctx=ctx)
            if self.auth == "public" and self.method == "POST":
                # No credential to limit by: limit by address, before the body is read or a signature checked.
                # Behind a proxy the address is the client's only if uvicorn trusts the proxy's X-Forwarded-For
                # (--forwarded-allow-ips; loopback by default).
                address = request.client.host if request.client else "unknown"
                await ctx.rate_limiter.check(f"address:{address}", ctx.settings.public_rate_limit_rpm)
            if self.auth == "node" and self.node_lookup_in_handler:
                call.node_token_hash = node_token_hash(request.headers.get("authorization"))
            elif self.auth == "node":
                call.node_id = await authenticate_node(ctx, request.headers.get("authorization"))
            elif self.auth in ("app", "provider", "admin"):
                call.principal = await authenticate_app(ctx, request.headers.get("authorization"))
                if self.auth == "admin" and not call.principal.is_admin:
                    raise PermissionDenied("This endpoint needs an admin credential.", code="admin_only")
                if self.auth == "app" and call.principal.role == "provider":
                    raise PermissionDenied("A provider sign-in reads its wallet's provider data only; use an API key here.",
                                           code="provider_token_scope")
            if self.request_model is not None:
                call.body = await parse_body(request, self.request_model)
            result = await self.handler(call)
            if isinstance(result, Response):
                return result
            return JSONResponse(jsonable(result), status_code=self.status_code)

        return Route(self.path, endpoint, methods=[self.method], include_in_schema=self.include_in_schema)


def jsonable(model: BaseModel) -> Any:
    """A response model as JSON data, amounts in plain notation: PostgreSQL's NUMERIC zero comes back as
    Decimal('0E-18'), which pydantic would send as "0E-18"; here it is "0.000000000000000000"."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return to_jsonable_python(plain(model.model_dump()))


async def parse_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """JSON body → model; malformed JSON is 400, a body that does not fit the model is 422 naming the field."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", ""):
        raise InvalidRequestError(
            f"Send the body as application/json (got {content_type}).", code="unsupported_media_type", status=415
        )
    raw = await request.body()
    try:
        data = untrusted_json.loads(raw) if raw else {}  # no body is an empty object; whitespace is no JSON
    except ValueError as exc:  # malformed, not UTF-8, or nested too deep
        raise InvalidRequestError(f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The body must be a JSON object.", code="invalid_json")
    nul = untrusted_json.find_nul(data)
    if nul is not None:
        raise ValidationFailed(f"{nul}: strings must not contain the NUL character (U+0000).", param=nul)
    try:
        # Strict: the JSON types the document names, never coerced (`true` is no number, "5" no integer).
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> ValidationFailed:
    """The first problem, with its field path as `param`; all of them in `details`."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    param = ".".join(str(p) for p in first["loc"]) or None
    message = f"{param}: {first['msg']}" if param else first["msg"]
    details = [{"param": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in errors]
    return ValidationFailed(message, param=param, extra={"details": details})
