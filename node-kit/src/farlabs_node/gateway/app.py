"""Starlette app for the gateway: `POST /generate` streams tokens over SSE; `GET /healthz`."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from farlabs_node.gateway.engine import Engine, GenerationResult, SamplingParams, generate
from farlabs_node.gateway.schema import (
    GenerateRequest,
    error_body,
    error_response,
    new_request_id,
    sse,
    validation_error_response,
)
from farlabs_node.swarm.usage import tokens_processed as block_tokens_processed

logger = logging.getLogger(__name__)
KEEPALIVE_S = 10.0
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
    slots = asyncio.Semaphore(max_concurrent)

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
            req = GenerateRequest.model_validate(payload)
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
        stream = _stream(engine, slots, prompt_ids, params, list(req.prefix_token_ids), request_id)
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Request-ID": request_id, "X-Accel-Buffering": "no"},
        )

    return Starlette(routes=[Route("/healthz", healthz), Route("/generate", generate_endpoint, methods=["POST"])])


def req_id_of(payload: Any, fallback: str) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("request_id"), str):
        return str(payload["request_id"])
    return fallback


async def _stream(
    engine: Engine,
    slots: asyncio.Semaphore,
    prompt_ids: list[int],
    params: SamplingParams,
    prefix_ids: list[int],
    request_id: str,
) -> AsyncIterator[str]:
    """Run `generate` in a worker thread and relay its pieces as SSE events; stop it when the caller leaves."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()
    result = GenerationResult()

    def put(item: tuple[str, Any]) -> None:  # called from the worker thread
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        try:
            for piece in generate(engine, prompt_ids, params, result, cancel, prefix_ids):
                put(("piece", piece))
            put(("done", None))
        except BaseException as exc:  # delivered to the caller as an error event
            put(("error", exc))

    async with slots:
        worker = threading.Thread(target=work, name=f"generate-{request_id}", daemon=True)
        worker.start()
        finished = False
        try:
            while True:
                try:
                    kind, item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if kind == "piece":
                    yield sse({"token": item.text, "token_ids": item.token_ids})
                    continue
                finished = True
                if kind == "done":
                    logger.info(
                        "request %s: %d prompt + %d completion tokens, finish=%s",
                        request_id,
                        result.prompt_tokens,
                        result.completion_tokens,
                        result.finish_reason,
                    )
                    yield sse(_done_payload(result), event="done")
                else:
                    logger.error("request %s failed: %s", request_id, item)
                    yield sse(_error_for(item, request_id), event="error")
                return
        finally:
            # Reached early when the caller disconnected: the worker stops before its next token.
            cancel.set()
            if not finished:
                logger.info("request %s: caller disconnected, generation stopped", request_id)


def _done_payload(result: GenerationResult) -> dict[str, Any]:
    return {
        "finish_reason": result.finish_reason,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "route": [{"peer_id": h.peer_id, "start_block": h.start_block, "end_block": h.end_block} for h in result.route],
    }


def _error_for(exc: BaseException, request_id: str) -> dict[str, Any]:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError) or "timeout" in text.lower():
        return error_body("timeout_error", "swarm_timeout", f"the swarm did not answer: {text}", request_id)
    return error_body("api_error", "generation_failed", f"generation failed: {text}", request_id)
