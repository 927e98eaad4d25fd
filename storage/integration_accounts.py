"""Integration accounts (machine clients such as a finance system), their API keys, and the
idempotency keys of their (and anyone's) retried POSTs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, BigId, UTCDateTime


class IntegrationAccount(Base):
    __tablename__ = "integration_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """One key of an integration account: `atr_<key_id>_<secret>`. Only a hash of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    integration_account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("integration_accounts.id", ondelete="CASCADE"), index=True
    )
    # Public: shown in lists (as `atr_<key_id>_…`) so people can tell keys apart; looked up on every request.
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyKey(Base):
    """A caller's Idempotency-Key: reserved (in_progress) before the request runs, then its answer (done)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("caller", "key", name="uq_idempotency_keys_caller_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    caller: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(255))
    # method + path + sha256(body): the same key with another request is refused (422).
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # in_progress, done
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def integration_by_name(session: Session, *, name: str) -> IntegrationAccount | None:
    return session.scalars(select(IntegrationAccount).where(IntegrationAccount.name == name)).first()


def _key_lookup_query():
    keys, accounts = ApiKey.__table__, IntegrationAccount.__table__
    return (
        select(
            keys.c.id,
            keys.c.secret_hash,
            keys.c.revoked_at,
            keys.c.expires_at,
            keys.c.last_used_at,
            accounts.c.name,
            accounts.c.scopes,
            accounts.c.active,
        )
        .join(accounts, accounts.c.id == keys.c.integration_account_id)
        .where(keys.c.key_id == bindparam("key_id"))
    )


# Built once: every request with an API key runs it.
KEY_LOOKUP = _key_lookup_query()


def reserve_idempotency_key(
    session: Session, *, caller: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
) -> int:
    """Insert the key as in_progress (IntegrityError when the caller already holds it); its row id."""
    table = IdempotencyKey.__table__
    return session.execute(
        insert(table)
        .values(
            caller=caller,
            key=key,
            fingerprint=fingerprint,
            status="in_progress",
            created_at=now,
            expires_at=expires_at,
        )
        .returning(table.c.id)
    ).scalar_one()


def idempotency_key(session: Session, *, caller: str, key: str) -> IdempotencyKey | None:
    return session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.caller == caller, IdempotencyKey.key == key)
    ).first()


def delete_expired_idempotency_keys(session: Session, *, now: datetime) -> int:
    """Delete the idempotency keys past their expiry; how many."""
    table = IdempotencyKey.__table__
    return session.execute(delete(table).where(table.c.expires_at <= now)).rowcount
