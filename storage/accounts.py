"""Accounts (users with argon2 password hashes, roles and groups) and revoked access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, bindparam, exists, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import crypto
from .base import Base, UTCDateTime

ROLES = ("admin", "partner", "manager", "account_manager", "service_desk", "viewer")
LOCALES = ("en", "zh-CN")


TOTP_SECRETS = ("totp_secret", "totp_pending_secret")


def totp_aad(account_id: int, name: str) -> bytes:
    """The associated data of an account's TOTP secret: it unwraps for no other account or field."""
    if account_id is None:
        raise ValueError("an account's TOTP secret is set once the account has an id (flush it first)")
    return crypto.value_aad("accounts", account_id, name)


def _sealed_secret(name: str):
    """An account's TOTP secret in plaintext, stored wrapped by the master key (storage.crypto.seal)."""

    def get(self) -> str | None:
        stored = getattr(self, f"{name}_sealed")
        if stored is None:
            return None
        return crypto.unseal(stored, self.totp_kek_id, totp_aad(self.id, name), what=f"account {self.id}'s {name}")

    def assign(self, value: str | None) -> None:
        # Both secrets are (re-)wrapped together: the account has one totp_kek_id.
        secrets = {other: getattr(self, other) for other in TOTP_SECRETS if other != name}
        seal_totp_secrets(self, {**secrets, name: value})

    return property(get, assign)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    roles: Mapped[list] = mapped_column(JSON, default=list)
    groups: Mapped[list] = mapped_column(JSON, default=list)
    # No longer read or written: failed logins are throttled per scope in login_throttles (storage/
    # login_throttle.py), which an outsider cannot use to lock the owner out. Kept for existing rows/tools.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by an admin's password reset: until the owner picks a new password, their tokens open nothing else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # Carried in every token; raising it (password change or reset) revokes all tokens issued before.
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    # The language the person chose in the web app (one of LOCALES); None: not chosen yet.
    locale: Mapped[str | None] = mapped_column(String(10))
    # The second factor (atrium/second_factor.py): the active TOTP secret (None: none), one being
    # enrolled (never shown again after enrolment starts), the time step of the last code accepted
    # (a code is not accepted twice) and the argon2 hashes of the unused recovery codes.
    # The secrets are stored wrapped by the master key `totp_kek_id` names (migration 0019): the columns
    # hold what crypto.seal returns, the attributes `totp_secret` and `totp_pending_secret` the secrets.
    totp_secret_sealed: Mapped[str | None] = mapped_column("totp_secret", String(200))
    totp_pending_secret_sealed: Mapped[str | None] = mapped_column("totp_pending_secret", String(200))
    totp_kek_id: Mapped[str | None] = mapped_column(String(16))
    totp_last_counter: Mapped[int | None] = mapped_column(BigInteger)
    totp_recovery_hashes: Mapped[list | None] = mapped_column(JSON)

    totp_secret = _sealed_secret("totp_secret")
    totp_pending_secret = _sealed_secret("totp_pending_secret")

    @property
    def candidate_groups(self) -> list[str]:
        """Roles are candidate groups too."""
        return list(dict.fromkeys([*self.roles, *self.groups]))

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret_sealed is not None


def seal_totp_secrets(account: Account, secrets: dict[str, str | None]) -> None:
    """Store `secrets` (each TOTP_SECRETS name -> the secret or None), all wrapped by the current master key."""
    wrapped_by = None
    for name in TOTP_SECRETS:
        secret = secrets[name]
        stored = None
        if secret is not None:
            stored, wrapped_by = crypto.seal(secret, totp_aad(account.id, name))
        setattr(account, f"{name}_sealed", stored)
    account.totp_kek_id = wrapped_by


def rewrap_totp_secrets(session: Session, *, batch: int = 500) -> int:
    """Re-wrap the TOTP secrets of up to `batch` accounts not wrapped by the current master key (`atrium
    keys rotate`); how many accounts were."""
    current = crypto.keyring().current_id
    accounts = session.scalars(
        select(Account)
        .where(Account.totp_kek_id.is_not(None), Account.totp_kek_id != current)
        .order_by(Account.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for account in accounts:
        seal_totp_secrets(account, {name: getattr(account, name) for name in TOTP_SECRETS})
    return len(accounts)


class RevokedToken(Base):
    __tablename__ = "revoked_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def account_by_username(session: Session, *, username: str) -> Account | None:
    return session.scalars(select(Account).where(Account.username == username)).first()


def active_usernames_with_role(session: Session, *, role: str) -> list[str]:
    """Usernames of active accounts holding `role`, sorted (roles are a JSON list: filtered here)."""
    rows = session.execute(select(Account.username, Account.roles).where(Account.active.is_(True)))
    return sorted(username for username, roles in rows if role in (roles or []))


def count_accounts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Account))


@dataclass(frozen=True)
class TokenAccount:
    """The account behind a request's token, as one query returns it."""

    username: str
    display_name: str
    email: str | None
    active: bool
    roles: list
    groups: list
    created_at: datetime
    revoked: bool
    must_change_password: bool
    token_generation: int
    locale: str | None
    totp_enabled: bool

    @property
    def candidate_groups(self) -> list[str]:
        return list(dict.fromkeys([*self.roles, *self.groups]))


def account_for_token(conn, *, username: str, token_id: str) -> TokenAccount | None:
    """The account and whether the token is revoked, in one round trip (runs on any connection)."""
    row = conn.execute(_ACCOUNT_FOR_TOKEN, {"username": username, "token_id": token_id}).first()
    return TokenAccount(**row._mapping) if row is not None else None


def _account_for_token_query():
    accounts, revoked = Account.__table__, RevokedToken.__table__
    return select(
        accounts.c.username,
        accounts.c.display_name,
        accounts.c.email,
        accounts.c.active,
        accounts.c.roles,
        accounts.c.groups,
        accounts.c.created_at,
        accounts.c.must_change_password,
        accounts.c.token_generation,
        accounts.c.locale,
        accounts.c.totp_secret.is_not(None).label("totp_enabled"),
        exists().where(revoked.c.token_id == bindparam("token_id")).label("revoked"),
    ).where(accounts.c.username == bindparam("username"))


# Built once: every authenticated request runs it.
_ACCOUNT_FOR_TOKEN = _account_for_token_query()
