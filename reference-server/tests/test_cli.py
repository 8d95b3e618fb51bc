"""`farlabs-server` commands against a real database."""

from __future__ import annotations

import os
import subprocess
import sys

from farlabs_devtools.testing import sql


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POSTGRES_URL": database_url, "LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "farlabs_server.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_keys_create_list_revoke(database_url: str) -> None:
    created = cli(database_url, "keys", "create", "ci-app", "--rate-limit-rpm", "60")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("fl_") and len(key) > 40
    assert key not in created.stderr  # printed once, on stdout only

    listed = cli(database_url, "keys", "list")
    assert key[:11] in listed.stdout and key not in listed.stdout and "ci-app" in listed.stdout

    revoked = cli(database_url, "keys", "revoke", key[:11])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    [row] = sql(database_url, "SELECT revoked_at, rate_limit_rpm FROM far_api_keys WHERE key_prefix = $1", key[:11])
    assert row["revoked_at"] is not None and row["rate_limit_rpm"] == 60
    assert key[:11] not in cli(database_url, "keys", "list").stdout
    assert key[:11] in cli(database_url, "keys", "list", "--all").stdout


def test_admin_key_and_migrate(database_url: str) -> None:
    assert cli(database_url, "keys", "create", "root", "--admin").returncode == 0
    assert sql(database_url, "SELECT role FROM far_api_keys")[0]["role"] == "admin"
    migrated = cli(database_url, "migrate")
    assert migrated.returncode == 0 and "schema at version" in migrated.stdout


def test_revoking_an_unknown_key_fails_cleanly(database_url: str) -> None:
    result = cli(database_url, "keys", "revoke", "fl_nothere00")
    assert result.returncode == 1 and result.stderr.strip() == "error: No API key 'fl_nothere00'."
