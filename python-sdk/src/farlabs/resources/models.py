"""The models the mesh serves: `GET /v1/models`."""

from __future__ import annotations

from typing import Any

from .. import _constants as C
from .._base_client import AsyncAPIClient, RequestSpec, SyncAPIClient
from .._models import Model

__all__ = ["AsyncModels", "Models"]


def _parse(body: Any) -> list[Model]:
    data = body.get("data", []) if isinstance(body, dict) else body
    return [Model.model_validate(item) for item in data or []]


class Models:
    """`mesh.models`: what the mesh can serve."""

    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client

    def list(self) -> list[Model]:
        """Every model the mesh serves now."""
        return _parse(self._client.request_json(RequestSpec("GET", C.MODELS_PATH)))


class AsyncModels:
    """`mesh.models` on the async client."""

    def __init__(self, client: AsyncAPIClient) -> None:
        self._client = client

    async def list(self) -> list[Model]:
        """Every model the mesh serves now."""
        return _parse(await self._client.request_json(RequestSpec("GET", C.MODELS_PATH)))
