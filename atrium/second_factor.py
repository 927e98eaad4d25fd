"""The second factor: time-based one-time passwords (TOTP, RFC 6238) per account, with single-use
recovery codes, optional for everyone and required for the roles in ATRIUM_REQUIRE_TOTP_ROLES.

Enrolment: `start_enrolment` keeps a new secret pending (returned that once, for the authenticator
app); `confirm_enrolment` activates it given a first code and returns the recovery codes, that once
too (only their argon2 hashes are kept). A login of an account with a second factor needs a code
(`check_login_code`): a 6-digit code of the current time step (or one either side, for clock drift)
not older than the last one accepted, or an unused recovery code. `replace_recovery_codes` gives new
ones (the old ones stop working). Time comes from atrium.clock. The secrets are stored wrapped by the
master key (storage.accounts, storage.crypto.seal)."""

from __future__ import annotations

import hmac
import re
import secrets

import pyotp
from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.accounts import LoginRefused, account_or_raise, account_target, hash_password, verify_password
from atrium.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from atrium.settings import Settings
from storage.accounts import Account, seal_totp_secrets

ISSUER = "Atrium"
RECOVERY_CODES = 10
# Ten characters of the RFC 4648 base32 alphabet (50 bits), shown as xxxxx-xxxxx.
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_RECOVERY_LENGTH = 10
_SIX_DIGITS = re.compile(r"^\d{6}$")
# Codes of the time step before and after the current one are accepted too (clocks drift).
DRIFT_STEPS = 1


class OtpRequired(LoginRefused):
    """The password was right but the account has a second factor and no code was sent: ask for it."""

    kind = "otp-required"

    def __init__(self):
        Unauthorized.__init__(self, "this account has a second factor: send its code (or a recovery code) as otp")
        self.reason = "otp missing"


class OtpInvalid(LoginRefused):
    kind = "otp-invalid"

    def __init__(self, reason: str):
        Unauthorized.__init__(self, "the one-time code is wrong or already used")
        self.reason = reason


class TotpEnrolmentRequired(Forbidden):
    kind = "totp-enrolment-required"


class TotpRequired(Forbidden):
    """The account's role requires a second factor: it cannot be turned off."""

    kind = "totp-required"


def required_for(roles, settings: Settings) -> bool:
    """Whether an account with `roles` must have a second factor."""
    return any(role in settings.require_totp_roles for role in roles or ())


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _matching_counter(secret: str, code: str) -> int | None:
    """The time step (counter) whose code `code` is, among the current one and DRIFT_STEPS either side."""
    totp = _totp(secret)
    current = totp.timecode(int(clock.now().timestamp()))
    found = None
    for counter in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate is compared (no early exit), in constant time.
        if hmac.compare_digest(totp.generate_otp(counter).encode(), code.encode()):
            found = counter
    return found


def _normalised_recovery_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _issue_recovery_codes(account: Account) -> list[str]:
    """New recovery codes for `account`, replacing any it had: the codes, to show once; only their argon2
    hashes are kept."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    account.totp_recovery_hashes = [hash_password(_normalised_recovery_code(c)) for c in codes]
    return codes


def _use_code(session: Session, account: Account, code: str) -> str | None:
    """Accept `code` for `account` (whose row the caller holds locked): a time code advances the last
    used counter, a recovery code is struck off (audited). The reason it is refused, else None."""
    code = (code or "").strip()
    if _SIX_DIGITS.match(code):
        counter = _matching_counter(account.totp_secret, code)
        if counter is None:
            return "wrong otp"
        if account.totp_last_counter is not None and counter <= account.totp_last_counter:
            return "otp replayed"
        account.totp_last_counter = counter
        return None
    normalised = _normalised_recovery_code(code)
    if len(normalised) != _RECOVERY_LENGTH or any(c not in _RECOVERY_ALPHABET for c in normalised):
        return "wrong otp"
    hashes = list(account.totp_recovery_hashes or [])
    for stored in hashes:
        if verify_password(stored, normalised):
            hashes.remove(stored)
            account.totp_recovery_hashes = hashes
            audit.record(
                session,
                "account.totp.recovery_used",
                actor=account.username,
                target=account_target(account.username),
                detail={"remaining": len(hashes)},
            )
            return None
    return "wrong recovery code"


def _locked(session: Session, account: Account) -> Account:
    """The account's row locked until the transaction ends: two logins with one code take turns, so
    the second sees the code used."""
    session.refresh(account, with_for_update=True)
    return account


def check_login_code(session: Session, account: Account, otp: str | None) -> None:
    """After the right password: nothing when the account has no second factor, else the code must be
    good (OtpRequired when none is given, OtpInvalid when it is wrong or already used)."""
    if not account.totp_enabled:
        return
    if not otp:
        raise OtpRequired()
    _locked(session, account)
    refusal = _use_code(session, account, otp)
    if refusal is not None:
        raise OtpInvalid(refusal)


def start_enrolment(session: Session, *, username: str) -> dict:
    """A new secret kept pending for the owner, and its otpauth:// URI for an authenticator app: shown
    this once. Starting again replaces a pending one; with a second factor active, disable it first."""
    account = account_or_raise(session, username)
    if account.totp_enabled:
        raise Conflict("a second factor is already active: disable it first (DELETE /api/me/totp)")
    secret = pyotp.random_base32()
    account.totp_pending_secret = secret
    audit.record(session, "account.totp.enrolment", actor=username, target=account_target(username))
    uri = _totp(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    return {"secret": secret, "otpauth_uri": uri}


def confirm_enrolment(session: Session, *, username: str, code: str) -> list[str]:
    """Activate the pending secret given one of its codes; returns the recovery codes (shown once)."""
    account = _locked(session, account_or_raise(session, username))
    if account.totp_enabled:
        raise Conflict("a second factor is already active")
    if account.totp_pending_secret is None:
        raise Conflict("no enrolment started: POST /api/me/totp first")
    counter = _matching_counter(account.totp_pending_secret, (code or "").strip())
    if counter is None:
        raise InvalidInput("the code does not match", {"code": ["wrong code: check the authenticator app's clock"]})
    seal_totp_secrets(account, {"totp_secret": account.totp_pending_secret, "totp_pending_secret": None})
    account.totp_last_counter = counter
    codes = _issue_recovery_codes(account)
    audit.record(
        session,
        "account.totp.enable",
        actor=username,
        target=account_target(username),
        detail={"recovery_codes": len(codes)},
    )
    return codes


def _clear(account: Account) -> None:
    # Nothing to unwrap: a reset works even for a secret no master key at hand opens.
    seal_totp_secrets(account, {"totp_secret": None, "totp_pending_secret": None})
    account.totp_last_counter = None
    account.totp_recovery_hashes = None


def disable(session: Session, *, username: str, password: str, code: str, settings: Settings) -> Account:
    """The owner turns the second factor off, giving the password and a code (or a recovery code);
    not while a role of theirs requires one. The caller reserves the attempt first (login_throttle)."""
    account = _locked(session, account_or_raise(session, username))
    if required_for(account.roles, settings):
        raise TotpRequired("a role of this account requires a second factor: it cannot be turned off")
    if not account.totp_enabled:
        raise Conflict("this account has no second factor")
    if not verify_password(account.password_hash, password):
        raise InvalidInput("the password is wrong", {"password": ["wrong password"]})
    if _use_code(session, account, code) is not None:
        raise InvalidInput("the code is wrong or already used", {"code": ["wrong or already used code"]})
    _clear(account)
    audit.record(session, "account.totp.disable", actor=username, target=account_target(username))
    return account


def replace_recovery_codes(session: Session, *, username: str, password: str, code: str) -> list[str]:
    """The owner gets new recovery codes (shown once), giving the password and a current code from the
    app (not a recovery code: whoever asks for new ones must still hold the device); the old ones stop
    working. The caller reserves the attempt first (login_throttle)."""
    account = _locked(session, account_or_raise(session, username))
    if not account.totp_enabled:
        raise Conflict("this account has no second factor")
    if not verify_password(account.password_hash, password):
        raise InvalidInput("the password is wrong", {"password": ["wrong password"]})
    code = (code or "").strip()
    if not _SIX_DIGITS.match(code):
        raise InvalidInput(
            "a current code is needed", {"code": ["the 6-digit code the app shows, not a recovery code"]}
        )
    if _use_code(session, account, code) is not None:
        raise InvalidInput("the code is wrong or already used", {"code": ["wrong or already used code"]})
    codes = _issue_recovery_codes(account)
    audit.record(
        session,
        "account.totp.recovery_codes",
        actor=username,
        target=account_target(username),
        detail={"recovery_codes": len(codes)},
    )
    return codes


def reset(session: Session, *, username: str, actor: str | None) -> Account:
    """An admin removes a person's second factor (a lost device): they log in with the password alone
    and, if their role requires one, enrol again first."""
    account = _locked(session, account_or_raise(session, username))
    had = account.totp_enabled
    _clear(account)
    audit.record(
        session, "account.totp.reset", actor=actor, target=account_target(username), detail={"was_enabled": had}
    )
    return account
