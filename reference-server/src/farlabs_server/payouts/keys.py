"""The payer's signing key: a hex private key (from the environment) or an encrypted keystore file.

The key never appears in a log line, an exception or a repr: errors say which source failed and why,
never what it held. Keystores are the standard encrypted JSON (geth/clef/`eth_account` V3 format).
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount


class PayerKeyError(ValueError):
    """No usable payer key: missing, malformed, or a keystore that does not open."""


def load_payer(
    *,
    private_key: str | None = None,
    keystore_path: Path | str | None = None,
    keystore_password: str | None = None,
) -> LocalAccount:
    """The payer account from exactly one source: `private_key` (0x-hex) or `keystore_path` + `keystore_password`.

    Pass secrets as plain strings taken out of the settings object at the last moment (e.g.
    `settings.payout_private_key.get_secret_value()`), so they stay masked everywhere else.
    """
    if private_key and keystore_path:
        raise PayerKeyError("give either a private key or a keystore file for the payer, not both")
    if private_key:
        try:
            account: LocalAccount = Account.from_key(private_key.strip())
            return account
        except Exception:  # the message of a parse error could echo the key: say nothing of it
            raise PayerKeyError("the payer private key is not a valid 32-byte hex key") from None
    if keystore_path:
        return _from_keystore(Path(keystore_path), keystore_password)
    raise PayerKeyError("no payer key: set a private key or a keystore file (with its password)")


def _from_keystore(path: Path, password: str | None) -> LocalAccount:
    if password is None:
        raise PayerKeyError(f"the keystore {path} needs a password")
    try:
        encrypted = json.loads(path.read_text("utf-8"))
    except OSError as error:
        raise PayerKeyError(f"cannot read the keystore {path}: {error.strerror}") from None
    except ValueError:
        raise PayerKeyError(f"the keystore {path} is not JSON") from None
    try:
        key = Account.decrypt(encrypted, password)
    except ValueError:
        raise PayerKeyError(f"the keystore {path} does not open with this password") from None
    except Exception:
        raise PayerKeyError(f"the keystore {path} is not a valid encrypted key file") from None
    account: LocalAccount = Account.from_key(key)
    return account
