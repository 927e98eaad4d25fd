"""The master key of encryption at rest (see storage/crypto.py): from ATRIUM_MASTER_KEY or
ATRIUM_MASTER_KEY_FILE; in development and tests, a random key generated once in var/master.key.
In production a missing master key stops the start."""

from __future__ import annotations

import base64
import os

from storage.crypto import Keyring, MasterKeyError, decode_key, use_keyring

from .settings import PROJECT_ROOT, Settings

DEV_KEY_FILE = PROJECT_ROOT / "var" / "master.key"


def keyring_from_settings(settings: Settings) -> Keyring:
    if settings.master_key:
        current = decode_key(settings.master_key, name="ATRIUM_MASTER_KEY")
    elif settings.master_key_file:
        try:
            text = settings.master_key_file.read_text()
        except OSError as error:
            raise MasterKeyError(f"ATRIUM_MASTER_KEY_FILE {settings.master_key_file}: {error.strerror}") from None
        current = decode_key(text, name=f"ATRIUM_MASTER_KEY_FILE {settings.master_key_file}")
    elif settings.is_production:
        raise MasterKeyError(
            "ATRIUM_ENV=production requires ATRIUM_MASTER_KEY or ATRIUM_MASTER_KEY_FILE (32 random bytes in base64: "
            "python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
        )
    else:
        current = _development_key()
    old = [decode_key(k, name="ATRIUM_OLD_MASTER_KEYS") for k in settings.old_master_keys]
    return Keyring(current, old)


def _development_key() -> bytes:
    if not DEV_KEY_FILE.exists():
        DEV_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(DEV_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return decode_key(DEV_KEY_FILE.read_text(), name=f"the development key file {DEV_KEY_FILE}")


def install(settings: Settings | None = None) -> Keyring:
    """Load the master keys and make them the process's keyring; MasterKeyError if they are unusable."""
    keyring = keyring_from_settings(settings or Settings.from_env())
    use_keyring(keyring)
    return keyring


def rotate(sessions, *, batch: int = 500, actor: str) -> int:
    """Re-wrap every data key (and the index key, and accounts' TOTP secrets) under the current master
    key, `batch` keys per transaction, each with its audit row; how many were re-wrapped. The service
    keeps running: until a key is re-wrapped, the old master key (ATRIUM_OLD_MASTER_KEYS) unwraps it."""
    from storage import crypto, models  # noqa: F401 - every table, for client_keys' foreign key
    from storage.db import transaction

    from . import audit

    total = 0
    while True:
        with transaction(sessions) as session:
            done = crypto.rotate(session, batch=batch)
            if done or not total:  # every batch, and a run that found nothing to re-wrap
                audit.record(
                    session,
                    "keys.rotate",
                    actor=actor,
                    target="client_keys",
                    detail={"rewrapped": done, "master_key": crypto.keyring().current_id},
                )
        total += done
        if done == 0:
            return total


def verify(sessions) -> None:
    """MasterKeyError now, at the start, if the database's keys were wrapped by another master key."""
    from storage import crypto
    from storage.db import transaction

    with transaction(sessions) as session:
        row = session.get(crypto.IndexKey, 1)
        if row is not None:
            crypto.keyring().unwrap(row.wrapped_key, row.kek_id, b"atrium:index-key", what="the blind-index key")
