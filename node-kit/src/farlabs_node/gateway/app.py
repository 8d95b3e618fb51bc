"""Starlette app for the gateway: `POST /generate` streams tokens over SSE; `GET /healthz`."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from farlabs_node.gateway._relay import GenerationRun, error_status, relay
from farlabs_node.gateway.engine import Engine, SamplingParams
from farlabs_node.gateway.schema import error_response, validation_error_response
from farlabs_node.swarm.usage import tokens_processed as block_tokens_processed
from farlabs_protocol import GatewayRequest, new_request_id

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1 << 20


class GatewayAuth:
    """Holds the one bearer token the gateway accepts (set from registration, or from config when standalone)."""

    def __init__(self, token: str | None = None) -> None:
        self._token = token

    def set(self, token: str | None) -> None:
        self._token = token

    def allows(self, header: str | None) -> bool:
        if not self._token or not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), self._token.encode())


def create_app(engine: Engine, auth: GatewayAuth, *, max_concurrent: int = 8) -> Starlette:
    """The gateway ASGI app over `engine`."""
    slots = threading.BoundedSemaphore(max_concurrent)

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "model_id": engine.model.model_id,
                "mode": engine.mode,
                "in_flight": engine.in_flight,
                "tokens_served": engine.tokens_served,
                "block_tokens_processed": block_tokens_processed(),
            }
        )

    async def generate_endpoint(request: Request) -> Response:
        request_id = request.headers.get("x-request-id") or new_request_id()
        if not auth.allows(request.headers.get("authorization")):
            return error_response(
                401,
                "authentication_error",
                "invalid_gateway_token",
                "this gateway accepts only the coordinator it registered with",
                request_id,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return error_response(413, "invalid_request_error", "body_too_large", "request body too large", request_id)
        try:
            payload = json.loads(body)
        except ValueError:
            return error_response(400, "invalid_request_error", "invalid_json", "body is not valid JSON", request_id)
        try:
            req = GatewayRequest.model_validate(payload)
        except ValidationError as exc:
            return validation_error_response(exc, req_id_of(payload, request_id))
        request_id = req.request_id or request_id
        try:
            prompt_ids = engine.encode_prompt(req.prompt, [m.model_dump() for m in req.messages or []] or None)
        except Exception as exc:  # a chat template can raise on roles it does not support
            return error_response(400, "invalid_request_error", "template_error", str(exc), request_id, "messages")
        vocab = len(engine.tokenizer)
        if any(t >= vocab for t in req.prefix_token_ids):
            return error_response(
                422,
                "invalid_request_error",
                "validation_error",
                "prefix_token_ids: id outside the vocabulary",
                request_id,
                "prefix_token_ids",
            )
        if len(prompt_ids) + req.max_tokens > engine.max_context:
            return error_response(
                400,
                "context_length_exceeded",
                "context_length_exceeded",
                f"prompt ({len(prompt_ids)} tokens) + max_tokens ({req.max_tokens}) exceeds the model's context "
                f"of {engine.max_context} tokens",
                request_id,
                "max_tokens",
            )
        params = SamplingParams(
            max_new_tokens=req.max_tokens - len(req.prefix_token_ids),
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed,
            stop=tuple(req.stop),
        )
        run = GenerationRun(engine, slots, prompt_ids, params, list(req.prefix_token_ids), request_id)
        first = await run.next()
        if first[0] == "error":  # failed before any token: an ordinary HTTP error, as the protocol asks
            run.cancel.set()
            logger.error("request %s failed before its first token: %s", request_id, first[1])
            status, envelope = error_status(first[1], request_id)
            return JSONResponse(envelope, status_code=status, headers={"X-Request-ID": request_id})
        return StreamingResponse(
            relay(run, first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Request-ID": request_id, "X-Accel-Buffering": "no"},
        )

    return Starlette(routes=[Route("/healthz", healthz), Route("/generate", generate_endpoint, methods=["POST"])])


def req_id_of(payload: Any, fallback: str) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("request_id"), str):
        return str(payload["request_id"])
    return fallback
