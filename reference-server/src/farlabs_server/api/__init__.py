"""HTTP wiring only: endpoint declarations, middleware, OpenAPI. Behaviour lives in the role packages."""

from . import auth, discovery, inference, ops, payouts, provider
from .endpoints import Endpoint


def all_endpoints() -> list[Endpoint]:
    return [*ops.ENDPOINTS, *auth.ENDPOINTS, *discovery.ENDPOINTS, *inference.ENDPOINTS, *provider.ENDPOINTS,
            *payouts.ENDPOINTS]
