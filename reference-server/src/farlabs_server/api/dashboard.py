"""Serving the provider dashboard's built assets at `/dashboard` (public: the page holds no data).

The page signs in itself (a `#token=` fragment or a browser wallet) and reads the provider API; the
server only hands out files. The built files live in `farlabs_server/dashboard/` and ship with the package.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import ApiError, NotFound

DIST = Path(__file__).resolve().parent.parent / "dashboard"

# Only these suffixes are served, so nothing else that lands in the folder leaks out.
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}


async def index(request: Request) -> Response:
    """The single page; a missing build answers 503 with how to build it, not a blank page."""
    page = DIST / "index.html"
    if not page.is_file():
        raise ApiError("The dashboard is not built: run `npm run build -w reference-server/dashboard`.",
                       code="dashboard_not_built", status=503)
    # no-store: a new server version must never run a cached page against a changed API.
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-store"})


async def asset(request: Request) -> Response:
    """A hashed build asset; names are content-hashed, so they may be cached for long."""
    name = str(request.path_params["name"])
    path = (DIST / "assets" / name).resolve()
    if path.parent != (DIST / "assets").resolve() or path.suffix not in _TYPES or not path.is_file():
        raise NotFound(f"No dashboard asset {name!r}.", code="asset_not_found")
    return FileResponse(path, media_type=_TYPES[path.suffix],
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})


async def slash(request: Request) -> Response:
    return RedirectResponse("/dashboard", 308)


ROUTES = [
    Route("/dashboard", index, methods=["GET", "HEAD"]),
    Route("/dashboard/", slash, methods=["GET", "HEAD"]),
    Route("/dashboard/assets/{name}", asset, methods=["GET", "HEAD"]),
]
