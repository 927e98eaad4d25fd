"""Encryption at rest of clients' personal fields: envelope keys, AES-GCM and blind indexes.

Each client has a random 256-bit data key; its phones, emails, addresses and notes, and its contacts'
phones, emails and notes, are stored as AES-GCM ciphertexts under it, with the table, the row id and the
field name as associated data, so a stored value cannot be moved to another row or field. The data key is stored wrapped (AES-GCM) by a
key-encryption key, the master key, which never enters the database (atrium.encryption loads it).
Equality lookups (duplicate phones and emails) go through keyed hashes (HMAC-SHA256) under a random
index key, stored wrapped the same way, so rotating the master key re-wraps keys and re-encrypts no value.
Small secrets of no client (accounts' TOTP secrets) are wrapped by the master key directly (seal).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime

KEY_BYTES = 32
NONCE_BYTES = 12
# A stored ciphertext: this prefix, then base64 of nonce || ciphertext || tag.
PREFIX = "v1:"


class MasterKeyError(RuntimeError):
    """The master key is missing, malformed, or not the one a stored key was wrapped with."""


class ClientKey(Base):
    """A client's data key, wrapped by the master key `kek_id` names; destroyed_at: crypto-shredded."""

    __tablename__ = "client_keys"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IndexKey(Base):
    """The key of the blind indexes (one row, id 1), wrapped by the master key `kek_id` names."""

    __tablename__ = "index_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def kek_id(kek: bytes) -> str:
    """A public fingerprint of a master key: which key wrapped a stored key, without revealing it."""
    return hashlib.sha256(b"atrium-kek-id:" + kek).hexdigest()[:16]


def decode_key(text: str, *, name: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{name} must be {KEY_BYTES} random bytes in base64 (44 characters)")
    return key


class Keyring:
    """The current master key (wraps) and older ones (only unwrap, until `atrium keys rotate` is done)."""

    def __init__(self, current: bytes, old: list[bytes] | tuple = ()):
        self.current = current
        self.current_id = kek_id(current)
        self.keks = {kek_id(k): k for k in (*old, current)}
        self._unwrapped: dict[tuple[str, bytes, bytes], bytes] = {}

    def wrap(self, key: bytes, aad: bytes) -> tuple[bytes, str]:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.current).encrypt(nonce, key, aad), self.current_id

    def unwrap(self, wrapped: bytes, wrapped_by: str, aad: bytes, *, what: str) -> bytes:
        cached = self._unwrapped.get((wrapped_by, wrapped, aad))
        if cached is not None:
            return cached
        kek = self.keks.get(wrapped_by)
        if kek is None:
            raise MasterKeyError(
                f"{what} is wrapped by master key {wrapped_by}, which is neither ATRIUM_MASTER_KEY "
                f"({self.current_id}) nor one of ATRIUM_OLD_MASTER_KEYS: wrong master key"
            )
        try:
            key = AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except InvalidTag:
            raise MasterKeyError(f"{what} does not unwrap under master key {wrapped_by}: tampered") from None
        if len(self._unwrapped) > 100_000:
            self._unwrapped.clear()
        self._unwrapped[(wrapped_by, wrapped, aad)] = key
        return key


_keyring: Keyring | None = None


def use_keyring(keyring: Keyring | None) -> None:
    """Install the process's keyring (atrium.encryption.install does, from the settings)."""
    global _keyring
    _keyring = keyring


def keyring() -> Keyring:
    if _keyring is None:
        from atrium.encryption import install

        install()
    return _keyring


def client_key_aad(client_id: int) -> bytes:
    return f"atrium:client-key:{client_id}".encode()


def value_aad(table: str, row_id: int, field: str) -> bytes:
    return f"atrium:{table}:{row_id}:{field}".encode()


def encrypt_value(key: bytes, value, aad: bytes) -> str:
    """`value` (anything JSON holds) as PREFIX + base64(nonce || AES-GCM ciphertext)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(value, ensure_ascii=False).encode(), aad)
    return PREFIX + base64.b64encode(nonce + sealed).decode()


def decrypt_value(key: bytes, stored: str, aad: bytes, *, what: str):
    if not isinstance(stored, str) or not stored.startswith(PREFIX):
        raise MasterKeyError(f"{what} is not an encrypted value (were migrations 0015 and 0018 run?)")
    raw = base64.b64decode(stored[len(PREFIX) :])
    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except InvalidTag:
        raise MasterKeyError(f"{what} does not decrypt: tampered, or moved from another row or field") from None
    return json.loads(plain)


def seal(secret: str, aad: bytes) -> tuple[str, str]:
    """A small secret (an account's TOTP secret) wrapped directly by the current master key: the stored
    text (PREFIX + base64 of nonce || ciphertext) and the id of the master key, for rotation."""
    wrapped, by = keyring().wrap(secret.encode(), aad)
    return PREFIX + base64.b64encode(wrapped).decode(), by


def unseal(stored: str, wrapped_by: str | None, aad: bytes, *, what: str) -> str:
    if not isinstance(stored, str) or not stored.startswith(PREFIX) or wrapped_by is None:
        raise MasterKeyError(f"{what} is not a wrapped secret (was migration 0019 run?)")
    return keyring().unwrap(base64.b64decode(stored[len(PREFIX) :]), wrapped_by, aad, what=what).decode()


# Keys are kept per session (a request, a command): SESSION_KEYS maps client id -> data key.
SESSION_KEYS = "atrium.client_keys"
SESSION_INDEX_KEY = "atrium.index_key"


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def index_key(session: Session) -> bytes:
    """The blind-index key, created (and wrapped) on first use in a database."""
    cached = session.info.get(SESSION_INDEX_KEY)
    if cached is not None:
        return cached
    ring = keyring()
    query = select(IndexKey.wrapped_key, IndexKey.kek_id).where(IndexKey.id == 1)
    row = session.execute(query).first()
    if row is None:  # the first use: two processes may race to make it, and one key wins
        wrapped, by = ring.wrap(new_data_key(), b"atrium:index-key")
        from atrium import clock

        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(IndexKey.__table__)
            .values(id=1, wrapped_key=wrapped, kek_id=by, created_at=clock.now())
            .on_conflict_do_nothing()
        )
        row = session.execute(query).first()
    key = ring.unwrap(row.wrapped_key, row.kek_id, b"atrium:index-key", what="the blind-index key")
    session.info[SESSION_INDEX_KEY] = key
    return key


def blind(key: bytes, kind: str, value: str, *, length: int = 64) -> str:
    """HMAC-SHA256 of kind:value in hex (truncated to `length`): equal values give equal hashes."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:length]


def load_client_keys(session: Session, client_ids) -> dict[int, bytes]:
    """Unwrap the data keys of `client_ids` (one query for those not yet in the session's cache)."""
    cache = session.info.setdefault(SESSION_KEYS, {})
    missing = [i for i in set(client_ids) if i not in cache]
    ring = keyring()
    for start in range(0, len(missing), 1000):
        rows = session.execute(
            select(ClientKey.client_id, ClientKey.wrapped_key, ClientKey.kek_id, ClientKey.destroyed_at).where(
                ClientKey.client_id.in_(missing[start : start + 1000])
            )
        ).all()
        for row in rows:
            if row.destroyed_at is not None or row.wrapped_key is None:
                cache[row.client_id] = None
                continue
            cache[row.client_id] = ring.unwrap(
                row.wrapped_key,
                row.kek_id,
                client_key_aad(row.client_id),
                what=f"the data key of client {row.client_id}",
            )
    return cache


def rotate(session: Session, *, batch: int = 500) -> int:
    """Re-wrap up to `batch` keys (and accounts' TOTP secrets) not wrapped by the current master key; how
    many were. The data keys themselves (and so every ciphertext) stay as they are: readers unwrap either
    version meanwhile."""
    ring = keyring()
    done = 0
    row = session.execute(select(IndexKey).where(IndexKey.id == 1, IndexKey.kek_id != ring.current_id)).scalar()
    if row is not None:
        key = ring.unwrap(row.wrapped_key, row.kek_id, b"atrium:index-key", what="the blind-index key")
        row.wrapped_key, row.kek_id = ring.wrap(key, b"atrium:index-key")
        done += 1
    keys = session.scalars(
        select(ClientKey)
        .where(ClientKey.kek_id != ring.current_id, ClientKey.wrapped_key.is_not(None))
        .order_by(ClientKey.client_id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for client_key in keys:
        aad = client_key_aad(client_key.client_id)
        key = ring.unwrap(
            client_key.wrapped_key, client_key.kek_id, aad, what=f"the data key of client {client_key.client_id}"
        )
        client_key.wrapped_key, client_key.kek_id = ring.wrap(key, aad)
    from .accounts import rewrap_totp_secrets  # accounts imports this module

    done += rewrap_totp_secrets(session, batch=batch)
    from .webhooks import rewrap_webhook_secrets

    done += rewrap_webhook_secrets(session, batch=batch)
    session.flush()
    return done + len(keys)
