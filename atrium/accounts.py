"""Accounts: creating them, passwords (argon2, strength, change and reset), logging in, roles and deactivation."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from atrium import audit, clock, login_throttle
from atrium.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from atrium.settings import Settings
from storage.accounts import LOCALES, ROLES, Account, account_by_username

_hasher = PasswordHasher()
# Verifying against this keeps every refused login (unknown user, deactivated account) as slow as a
# wrong password for a known user, so the answer's timing does not tell them apart.
_DUMMY_HASH = _hasher.hash("atrium-timing-equaliser")
MIN_PASSWORD_LENGTH = 10
# zxcvbn's scale: 3 is "safely unguessable: moderate protection from offline slow-hash scenario".
MIN_PASSWORD_SCORE = 3
# zxcvbn's own advice: estimating long inputs is slow, and a long prefix decides the score anyway.
_SCORED_PREFIX = 100
LOGIN_REFUSED = "wrong username or password"


class LoginRefused(Unauthorized):
    """Every refused login says the same to the caller (unknown, wrong password or deactivated: telling
    them apart would confirm usernames and passwords); `reason` is for the audit trail only."""

    kind = "invalid-credentials"

    def __init__(self, reason: str):
        super().__init__(LOGIN_REFUSED)
        self.reason = reason


class PasswordChangeRequired(Forbidden):
    kind = "password-change-required"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """The one place a password is checked against a hash (argon2: deliberately slow)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_strength(
    password: str, *, username: str, display_name: str | None = None, email: str | None = None
) -> None:
    """Refuse short passwords and ones zxcvbn guesses quickly (common passwords, dictionary words,
    keyboard patterns, dates, or the person's own names), with zxcvbn's advice as the field's messages."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password too short", {"password": [f"at least {MIN_PASSWORD_LENGTH} characters"]})
    estimate = zxcvbn(password[:_SCORED_PREFIX], user_inputs=[part for part in (username, display_name, email) if part])
    if estimate["score"] < MIN_PASSWORD_SCORE:
        feedback = estimate.get("feedback") or {}
        advice = [message for message in [feedback.get("warning"), *(feedback.get("suggestions") or [])] if message]
        raise InvalidInput(
            "password too easy to guess",
            {"password": ["too easy to guess", *advice] if advice else ["too easy to guess"]},
        )


def _check_roles(roles: list[str]) -> None:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"unknown role(s): {', '.join(unknown)}", {"roles": [f"must be among {', '.join(ROLES)}"]})


def account_target(username: str) -> str:
    """An account as an audit row's target."""
    return f"account:{username}"


def create_account(
    session: Session,
    *,
    username: str,
    password: str,
    roles: list[str],
    actor: str | None,
    groups: list[str] | None = None,
    display_name: str | None = None,
    email: str | None = None,
) -> Account:
    """A new active account, audited as `account.create` by `actor` (an admin, the CLI, the demo seeding)."""
    _check_roles(roles)
    check_password_strength(password, username=username, display_name=display_name, email=email)
    if account_by_username(session, username=username) is not None:
        raise Conflict(f"an account named {username} already exists")
    account = Account(
        username=username,
        display_name=display_name or username,
        email=email,
        password_hash=hash_password(password),
        active=True,
        roles=list(roles),
        groups=list(groups or []),
        failed_logins=0,
        must_change_password=False,
        token_generation=0,
        created_at=clock.now(),
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        "account.create",
        actor=actor,
        target=account_target(username),
        detail={"roles": list(roles), "groups": list(groups or [])},
    )
    return account


def account_or_raise(session: Session, username: str) -> Account:
    account = account_by_username(session, username=username)
    if account is None:
        raise NotFound(f"no account named {username}")
    return account


def authenticate(
    session: Session, *, username: str, password: str, address: str, settings: Settings, otp: str | None = None
) -> Account:
    """The account if it is active, the password right and, when it has a second factor, `otp` a good
    code (atrium.second_factor), else LoginRefused after the same work (OtpRequired/OtpInvalid, kinds
    of LoginRefused, once the password is right).

    The attempt must already be reserved (login_throttle.reserve_attempt, committed): a failure
    needs no further write, and a success forgives the reservation here."""
    account = account_by_username(session, username=username)
    if account is None or not account.active:
        # Deactivated is refused before its password is looked at, so a right password is not confirmed.
        verify_password(_DUMMY_HASH, password)
        raise LoginRefused("unknown account" if account is None else "account deactivated")
    if not verify_password(account.password_hash, password):
        raise LoginRefused("wrong password")
    from atrium import second_factor  # it builds on this module

    second_factor.check_login_code(session, account, otp)
    login_throttle.forgive_attempt(session, username=username, address=address, settings=settings)
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def _set_password(account: Account, password: str, *, must_change: bool) -> None:
    account.password_hash = hash_password(password)
    account.must_change_password = must_change
    # Every token carries the generation it was issued in: raising it revokes them all. Raised in SQL
    # (SET token_generation = token_generation + 1), so a change and a reset at once both count.
    account.token_generation = Account.token_generation + 1


def change_own_password(session: Session, *, username: str, current_password: str, new_password: str) -> Account:
    """The owner's new password, given the current one; ends any forced change; revokes all their tokens.
    The caller reserves the attempt first (login_throttle), as for a login: the current password is guessable."""
    account = account_or_raise(session, username)
    if not verify_password(account.password_hash, current_password):
        raise InvalidInput("the current password is wrong", {"current_password": ["wrong password"]})
    if new_password == current_password:
        raise InvalidInput(
            "the new password is the current one", {"new_password": ["must differ from the current one"]}
        )
    try:
        check_password_strength(new_password, username=username, display_name=account.display_name, email=account.email)
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, {"new_password": exc.errors["password"]}) from None
    _set_password(account, new_password, must_change=False)
    audit.record(session, "account.password.change", actor=username, target=account_target(username))
    return account


def reset_password(
    session: Session, *, username: str, actor: str | None, new_password: str | None = None
) -> tuple[Account, str]:
    """An admin's reset: the given password (or a random one), which its owner must change at the next
    login; all their tokens are revoked. Returns the account and the temporary password."""
    account = account_or_raise(session, username)
    password = new_password or secrets.token_urlsafe(15)
    check_password_strength(password, username=username, display_name=account.display_name, email=account.email)
    _set_password(account, password, must_change=True)
    login_throttle.forget_username(session, username=username)
    audit.record(
        session,
        "account.password.reset",
        actor=actor,
        target=account_target(username),
        detail={"given": new_password is not None},
    )
    return account, password


def set_roles(
    session: Session, *, username: str, roles: list[str], groups: list[str] | None, actor: str | None
) -> Account:
    _check_roles(roles)
    account = account_or_raise(session, username)
    before = audit.snapshot(account, ("roles", "groups"))
    account.roles = list(roles)
    if groups is not None:
        account.groups = list(groups)
    audit.record(
        session,
        "account.roles",
        actor=actor,
        target=account_target(username),
        detail={
            "roles": list(account.roles),
            "changes": audit.changes(before, audit.snapshot(account, ("roles", "groups"))),
        },
    )
    return account


def deactivate(session: Session, *, username: str, actor: str | None) -> Account:
    account = account_or_raise(session, username)
    was_active = account.active
    account.active = False
    audit.record(
        session,
        "account.deactivate",
        actor=actor,
        target=account_target(username),
        detail={"active": [was_active, False]},
    )
    return account


def set_locale(session: Session, *, username: str, locale: str | None) -> Account:
    """The language the person chose for the web app (None: the browser's again); only one's own."""
    if locale is not None and locale not in LOCALES:
        raise InvalidInput(
            f"unknown language {locale!r}", {"locale": [f"must be one of {', '.join(LOCALES)}, or null"]}
        )
    account = account_or_raise(session, username)
    previous = account.locale
    account.locale = locale
    audit.record(
        session,
        "account.locale",
        actor=username,
        target=account_target(username),
        detail={"locale": locale, "changes": audit.changes({"locale": previous}, {"locale": locale})},
    )
    return account
