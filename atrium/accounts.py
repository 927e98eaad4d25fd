"""Accounts: creating them, checking passwords (argon2) with lock-out, roles and deactivation."""
from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from atrium import clock
from atrium.errors import Conflict, InvalidInput, NotFound, Unauthorized
from atrium.settings import Settings
from storage.accounts import ROLES, Account, account_by_username

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("atrium-timing-equaliser")
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_roles(roles: list[str]) -> None:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"unknown role(s): {', '.join(unknown)}", {"roles": [f"must be among {', '.join(ROLES)}"]})


def create_account(session: Session, *, username: str, password: str, roles: list[str], groups: list[str] | None = None,
                   display_name: str | None = None, email: str | None = None) -> Account:
    _check_roles(roles)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password too short", {"password": [f"at least {MIN_PASSWORD_LENGTH} characters"]})
    if account_by_username(session, username=username) is not None:
        raise Conflict(f"an account named {username} already exists")
    account = Account(username=username, display_name=display_name or username, email=email,
                      password_hash=hash_password(password), active=True, roles=list(roles), groups=list(groups or []),
                      failed_logins=0, created_at=clock.now())
    session.add(account)
    session.flush()
    return account


def account_or_raise(session: Session, username: str) -> Account:
    account = account_by_username(session, username=username)
    if account is None:
        raise NotFound(f"no account named {username}")
    return account


def authenticate(session: Session, *, username: str, password: str, settings: Settings) -> Account:
    """The account if the password is right; counts failures and locks the account after too many."""
    account = account_by_username(session, username=username)
    if account is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise Unauthorized("wrong username or password")
    now = clock.now()
    if account.locked_until is not None and account.locked_until > now:
        raise Unauthorized(f"account locked after repeated failed logins; try again after {account.locked_until.isoformat()}")
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        account.failed_logins += 1
        if account.failed_logins >= settings.login_max_failures:
            account.locked_until = now + timedelta(seconds=settings.login_lock_seconds)
            account.failed_logins = 0
        raise Unauthorized("wrong username or password") from None
    if not account.active:
        raise Unauthorized("this account is deactivated")
    account.failed_logins = 0
    account.locked_until = None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def set_roles(session: Session, *, username: str, roles: list[str], groups: list[str] | None) -> Account:
    _check_roles(roles)
    account = account_or_raise(session, username)
    account.roles = list(roles)
    if groups is not None:
        account.groups = list(groups)
    return account


def deactivate(session: Session, *, username: str) -> Account:
    account = account_or_raise(session, username)
    account.active = False
    return account
