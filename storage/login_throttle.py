"""Failed-login counters per throttling scope (username+address, username, address), locked row by row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime


class LoginThrottle(Base):
    """One scope's recent failed (or in-flight) logins and until when it refuses further attempts."""

    __tablename__ = "login_throttles"

    scope_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


def lock_throttles(session: Session, *, keys: list[str], now: datetime) -> list[LoginThrottle]:
    """The rows of `keys`, created if missing and locked FOR UPDATE until the transaction ends, in key
    order (so two logins locking overlapping keys cannot deadlock). Concurrent logins for the same
    username therefore take their turn here, each seeing the counts the previous one committed."""
    keys = sorted(set(keys))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginThrottle)
        .values([{"scope_key": key, "failures": 0, "last_failure_at": now} for key in keys])
        .on_conflict_do_nothing()
    )
    return list(
        session.scalars(
            select(LoginThrottle)
            .where(LoginThrottle.scope_key.in_(keys))
            .order_by(LoginThrottle.scope_key)
            .with_for_update()
        )
    )


def delete_throttles(session: Session, *, keys: list[str]) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.scope_key.in_(keys)))


def delete_quiet_throttles(session: Session, *, failed_before: datetime, now: datetime, limit: int = 100) -> None:
    """Forget (up to `limit`) scopes with no failure since `failed_before` and no delay running: they
    would count from zero anyway, and made-up usernames must not pile up rows. Rows another login holds
    are skipped, not waited for: waiting could deadlock with it."""
    quiet = (
        select(LoginThrottle.scope_key)
        .where(
            LoginThrottle.last_failure_at < failed_before,
            LoginThrottle.blocked_until.is_(None) | (LoginThrottle.blocked_until <= now),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(LoginThrottle).where(LoginThrottle.scope_key.in_(quiet.scalar_subquery())))


def delete_username_throttles(session: Session, *, username_key: str, user_address_suffix: str) -> None:
    """Delete a username's own scope and its scopes from every address (keys ending in the suffix)."""
    session.execute(
        delete(LoginThrottle).where(
            (LoginThrottle.scope_key == username_key)
            | (
                func.substr(
                    LoginThrottle.scope_key, func.length(LoginThrottle.scope_key) - len(user_address_suffix) + 1
                )
                == user_address_suffix
            )
            & LoginThrottle.scope_key.startswith("user-address:", autoescape=True)
        )
    )
