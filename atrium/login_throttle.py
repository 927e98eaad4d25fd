"""Login throttling: growing delays per username+address, per username and per address, instead of a lock.

The policy, per scope (each counts failed logins in the last `login_failure_window_seconds`):
- username+address (strict): `login_max_failures` free failures, then a delay of 1 s doubling with
  every further failure, at most `login_lock_seconds`. Slows one guesser against one account.
- username (looser, any address): `login_username_max_failures` free failures, then delays of at most
  `login_username_max_delay_seconds`. Slows guessing spread over many addresses, while the owner,
  elsewhere, waits at most that long however long an outsider keeps trying.
- address (any username): `login_address_max_failures` free failures, delays up to
  `login_lock_seconds`. Slows one address spraying passwords across usernames.
While a scope's delay runs, attempts are refused (429, Retry-After) without looking at the password.
Scopes are keyed by the username as typed, so known and unknown usernames are throttled alike.

An attempt is counted BEFORE its password is checked (`reserve_attempt`, committed on its own) and
forgiven on success (`forgive_attempt`): attempts racing in parallel take turns on the scope rows and
can never check more passwords than the free failures allow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from atrium import clock
from atrium.errors import TooManyRequests
from atrium.settings import Settings
from storage.login_throttle import (
    delete_quiet_throttles,
    delete_throttles,
    delete_username_throttles,
    lock_throttles,
)

FIRST_DELAY_SECONDS = 1


class LoginThrottled(TooManyRequests):
    """A login (or a password change, which checks the current password) refused while a delay runs."""

    kind = "login-throttled"


@dataclass(frozen=True)
class Scope:
    key: str
    free_failures: int
    max_delay_seconds: int
    per_username: bool


def scopes(*, username: str, address: str, settings: Settings) -> list[Scope]:
    # The separator cannot occur in an address, so "a|b" + "c" and "a" + "b|c" stay apart.
    return [
        Scope(f"user-address:{address}|{username}", settings.login_max_failures, settings.login_lock_seconds, True),
        Scope(
            f"user:{username}", settings.login_username_max_failures, settings.login_username_max_delay_seconds, True
        ),
        Scope(f"address:{address}", settings.login_address_max_failures, settings.login_lock_seconds, False),
    ]


def delay_after(scope: Scope, failures: int) -> timedelta | None:
    """How long `scope` refuses attempts after its `failures`-th failure (None: not at all)."""
    if failures < scope.free_failures:
        return None
    # Capped before exponentiation: the count can grow large over a long attack.
    doublings = min(failures - scope.free_failures, 40)
    return timedelta(seconds=min(FIRST_DELAY_SECONDS * 2**doublings, scope.max_delay_seconds))


def reserve_attempt(session: Session, *, username: str, address: str, settings: Settings) -> None:
    """Count one login attempt as failed in every scope, or raise LoginThrottled if a scope's delay
    is running. Commit it before checking the password (see the module docstring)."""
    now = clock.now()
    window_start = now - timedelta(seconds=settings.login_failure_window_seconds)
    by_key = {scope.key: scope for scope in scopes(username=username, address=address, settings=settings)}
    rows = lock_throttles(session, keys=list(by_key), now=now)
    blocked_until = max(
        (row.blocked_until for row in rows if row.blocked_until and row.blocked_until > now), default=None
    )
    if blocked_until is not None:
        raise LoginThrottled("too many failed logins; try again later", retry_after=_seconds(blocked_until - now))
    for row in rows:
        row.failures = (row.failures if row.last_failure_at >= window_start else 0) + 1
        row.last_failure_at = now
        delay = delay_after(by_key[row.scope_key], row.failures)
        row.blocked_until = now + delay if delay else None
    delete_quiet_throttles(session, failed_before=window_start, now=now)


def forgive_attempt(session: Session, *, username: str, address: str, settings: Settings) -> None:
    """The reserved attempt succeeded: the username's scopes start again from zero, and the address
    scope takes back the one failure the attempt was counted as."""
    # Rows are locked in key order ("address:" < "user-address:" < "user:"), as reserve_attempt does,
    # so this cannot deadlock with a reservation.
    all_scopes = sorted(scopes(username=username, address=address, settings=settings), key=lambda scope: scope.key)
    for scope in all_scopes:
        if not scope.per_username:
            [row] = lock_throttles(session, keys=[scope.key], now=clock.now())
            row.failures = max(row.failures - 1, 0)
            if row.failures < scope.free_failures:
                row.blocked_until = None
    delete_throttles(session, keys=[scope.key for scope in all_scopes if scope.per_username])


def forget_username(session: Session, *, username: str) -> None:
    """An admin set a new password: its owner may log in with it at once, from anywhere."""
    delete_username_throttles(session, username_key=f"user:{username}", user_address_suffix=f"|{username}")


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))
