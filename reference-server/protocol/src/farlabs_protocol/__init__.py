"""Far Mesh's wire protocol between the reference server and far-node, defined once for both sides."""

from .discovery import SwarmBootstrap
from .errors import CLIENT_FAULT_TYPES, error_envelope
from .gateway import ChatMessage, GatewayRequest, new_request_id
from .limits import MAX_STOP_SEQUENCES, MAX_TOKENS
from .node import READY_LINE
from .signing import (
    SignatureError,
    authorization_message,
    recover_signer,
    registration_message,
    sign_text,
    signed_by,
)
from .sse import KEEPALIVE, sse_event

__all__ = [
    "CLIENT_FAULT_TYPES",
    "KEEPALIVE",
    "MAX_STOP_SEQUENCES",
    "MAX_TOKENS",
    "READY_LINE",
    "ChatMessage",
    "GatewayRequest",
    "SignatureError",
    "SwarmBootstrap",
    "authorization_message",
    "error_envelope",
    "new_request_id",
    "recover_signer",
    "registration_message",
    "sign_text",
    "signed_by",
    "sse_event",
]
