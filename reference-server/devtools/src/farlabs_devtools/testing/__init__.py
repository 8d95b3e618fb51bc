"""What the Python suites share: the pytest fixtures (`plugin`, loaded by entry point) and these helpers.

Tests import helpers from here, never from a conftest.py (several folders have one, all named `conftest`).
"""

from .client import assert_error, auth, make_key, register
from .clock import FakeClock
from .live import MODEL, LiveServer, add_node, serve_in_thread
from .mesh import TINY_MODEL_ID, db_fetch, wait_for_final_session
from .postgres import PgServer, new_api_key, sql
from .registration import NodeIdentity, registration_body, swarm_registration
from .server_process import ServerProcess
from .synthetic_gateway import Behaviour, SyntheticGateway, expected_text

__all__ = [
    "MODEL", "TINY_MODEL_ID", "Behaviour", "FakeClock", "LiveServer", "NodeIdentity", "PgServer", "ServerProcess",
    "SyntheticGateway", "add_node", "assert_error", "auth", "db_fetch", "expected_text", "make_key", "new_api_key",
    "register", "registration_body", "serve_in_thread", "sql", "swarm_registration", "wait_for_final_session",
]
