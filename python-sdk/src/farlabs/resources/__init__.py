"""API resources: one module per part of the server's API."""

from .chat import AsyncChat, Chat
from .models import AsyncModels, Models
from .provider import AsyncProvider, Provider

__all__ = ["AsyncChat", "AsyncModels", "AsyncProvider", "Chat", "Models", "Provider"]
