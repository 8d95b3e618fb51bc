"""The server tests' fixtures come from the farlabs_devtools pytest plugin (farlabs_devtools/testing/plugin.py);
this folder only picks the async backend."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
