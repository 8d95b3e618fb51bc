"""Far Mesh: decentralized LLM inference, paid in $FAR.

>>> from farlabs import FarMesh
>>> mesh = FarMesh(api_key="fl_...")
>>> print(mesh.chat("Explain quantum computing").text)
"""

from ._base_client import Timeout
from ._client import AsyncFarMesh, FarMesh
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContextLengthExceededError,
    FarLabsError,
    GatewayTimeoutError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    StreamInterruptedError,
)
from ._models import (
    ChatResponse,
    DailyEarning,
    DoneEvent,
    Message,
    Model,
    NodeEarning,
    ProviderEarnings,
    ProviderNode,
    ProviderNodes,
    ProviderPayment,
    ProviderPayments,
    ProviderStats,
    RouteHop,
    StreamEvent,
    TokenEvent,
    Usage,
)
from ._streaming import AsyncStream, Stream
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncFarMesh",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "ChatResponse",
    "ConflictError",
    "ContextLengthExceededError",
    "DailyEarning",
    "DoneEvent",
    "FarLabsError",
    "FarMesh",
    "GatewayTimeoutError",
    "InternalServerError",
    "Message",
    "Model",
    "NodeEarning",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProviderEarnings",
    "ProviderNode",
    "ProviderNodes",
    "ProviderPayment",
    "ProviderPayments",
    "ProviderStats",
    "RateLimitError",
    "RouteHop",
    "Stream",
    "StreamEvent",
    "StreamInterruptedError",
    "Timeout",
    "TokenEvent",
    "Usage",
    "__version__",
]
