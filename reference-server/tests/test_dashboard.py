"""The dashboard's built files are served at /dashboard (the page itself is public: it holds no data)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from farlabs_devtools.testing import assert_error


def test_page_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assets = re.findall(r'(?:src|href)="(/dashboard/assets/[^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets), page.text
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and "immutable" in response.headers["cache-control"], asset


def test_unknown_or_escaping_asset_paths_get_404(client: TestClient) -> None:
    assert_error(client.get("/dashboard/assets/nope.js"), 404, "not_found_error", "asset_not_found")
    assert_error(client.get("/dashboard/assets/..%2F..%2Fapp.py"), 404, "not_found_error")


def test_trailing_slash_redirects(client: TestClient) -> None:
    response = client.get("/dashboard/", follow_redirects=False)
    assert response.status_code == 308 and response.headers["location"] == "/dashboard"
