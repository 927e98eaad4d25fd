"""Integration accounts: machine clients (a finance system such as Kingdee, Yonyou, SAP or Xero) that
call the API with a key instead of a person's login, and may use only the scopes they were given.

A key is `atr_<key_id>_<secret>`: `key_id` (12 hex characters) is public, shown in lists and looked up
on every request; `secret` (32 random bytes, URL-safe base64) is shown once, when the key is made, and
only its hash is stored. Every change is audited here (`integration.create/update`,
`integration.key.create/revoke`) for the API and the CLI alike."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.errors import Conflict, InvalidInput, NotFound, Unauthorized
from storage.integration_accounts import (
    KEY_LOOKUP,
    ApiKey,
    IntegrationAccount,
    delete_expired_idempotency_keys,
    integration_by_name,
)

# What a machine client may be given. An endpoint opens to integrations only through
# api.permissions.requires_scope naming one of these; every other endpoint refuses a key (403).
SCOPES = (
    "events:read",
    "invoices:write",
    "payments:write",
    "time:write",
    "engagements:read",
    "clients:read",
)
KEY_PREFIX = "atr_"
ACTOR_PREFIX = "integration:"
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,99}$")
_KEY = re.compile(r"^atr_([0-9a-f]{12})_([A-Za-z0-9_-]{43,128})$")
# last_used_at is written at most this often per key: a busy integration costs one UPDATE a minute,
# not one per request.
LAST_USED_EVERY = timedelta(minutes=1)
KEY_REFUSED = "the API key is not valid"


class ApiKeyInvalid(Unauthorized):
    """Unknown, wrong, revoked or expired key, or a deactivated integration: all answered alike."""

    kind = "api-key-invalid"


def actor_of(name: str) -> str:
    """The audit actor (and the request's username) of an integration: `integration:<name>`."""
    return f"{ACTOR_PREFIX}{name}"


def target_of(name: str) -> str:
    return f"integration:{name}"


def hash_secret(key_id: str, secret: str) -> str:
    """The stored form of a key's secret: SHA-256 over key id and secret.

    A password needs a slow hash (argon2, atrium/accounts.py) because people choose guessable ones;
    this secret is 256 random bits, so no guessing is possible however fast the hash is, and a slow
    hash would only add ~50 ms and a CPU core to every request a finance system makes. Not keyed by
    ATRIUM_SECRET_KEY on purpose: rotating that (which logs people out) must not break every key."""
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


# Compared against when the key id is unknown, so the answer takes the same work either way.
_DUMMY_HASH = hash_secret("000000000000", "atrium-timing-equaliser")


def _new_key() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, secrets.token_urlsafe(32)


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise InvalidInput(
            f"unknown scope(s): {', '.join(unknown)}", {"scopes": [f"must be among {', '.join(SCOPES)}"]}
        )
    return sorted(set(scopes))


def _check_name(name: str) -> None:
    if not NAME.match(name or ""):
        raise InvalidInput(
            "invalid integration name",
            {
                "name": [
                    "2-100 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
                ]
            },
        )


@dataclass
class IssuedKey:
    """A key as made: `key` is the whole `atr_...` string, never stored and never shown again."""

    row: ApiKey
    key: str


def integration_or_raise(session: Session, name: str) -> IntegrationAccount:
    integration = integration_by_name(session, name=name)
    if integration is None:
        raise NotFound(f"no integration account named {name}")
    return integration


def create_integration(
    session: Session,
    *,
    name: str,
    scopes: list[str],
    actor: str | None,
    description: str | None = None,
    key_expires_at: datetime | None = None,
) -> tuple[IntegrationAccount, IssuedKey]:
    """A new active integration account and its first key, audited as `integration.create` and
    `integration.key.create`."""
    _check_name(name)
    scopes = _check_scopes(scopes)
    if integration_by_name(session, name=name) is not None:
        raise Conflict(f"an integration account named {name} already exists")
    integration = IntegrationAccount(
        name=name, description=description, scopes=scopes, active=True, created_by=actor, created_at=clock.now()
    )
    session.add(integration)
    session.flush()
    audit.record(session, "integration.create", actor=actor, target=target_of(name), detail={"scopes": scopes})
    return integration, _issue(
        session, integration, actor=actor, expires_at=key_expires_at, grace=None, field="key_expires_at"
    )


def update_integration(
    session: Session,
    *,
    name: str,
    actor: str | None,
    scopes: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> IntegrationAccount:
    """Change an integration's scopes, description or whether it is active (a deactivated one's keys
    stop working at once), audited as `integration.update`."""
    integration = integration_or_raise(session, name)
    before = audit.snapshot(integration, ("scopes", "description", "active"))
    if scopes is not None:
        integration.scopes = _check_scopes(scopes)
    if description is not None:
        integration.description = description
    if active is not None:
        integration.active = active
    audit.record(
        session,
        "integration.update",
        actor=actor,
        target=target_of(name),
        detail={"changes": audit.changes(before, audit.snapshot(integration, ("scopes", "description", "active")))},
    )
    return integration


def _issue(
    session: Session,
    integration: IntegrationAccount,
    *,
    actor: str | None,
    expires_at: datetime | None,
    grace: timedelta | None,
    field: str = "expires_at",
) -> IssuedKey:
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("the key would expire at once", {field: ["must be in the future"]})
    retiring = []
    if grace is not None:
        # A rotation: the integration's other live keys stop working after the grace period.
        until = now + grace
        for old in session.query(ApiKey).filter(
            ApiKey.integration_account_id == integration.id,
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > until),
        ):
            old.expires_at = until
            retiring.append(old.key_id)
    key_id, secret = _new_key()
    row = ApiKey(
        integration_account_id=integration.id,
        key_id=key_id,
        secret_hash=hash_secret(key_id, secret),
        created_by=actor,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    detail = {"key_id": key_id, "expires_at": expires_at.isoformat() if expires_at else None}
    if retiring:
        detail["retiring"] = {"key_ids": retiring, "expires_at": (now + grace).isoformat()}
    audit.record(session, "integration.key.create", actor=actor, target=target_of(integration.name), detail=detail)
    return IssuedKey(row, f"{KEY_PREFIX}{key_id}_{secret}")


def issue_key(
    session: Session,
    *,
    name: str,
    actor: str | None,
    expires_at: datetime | None = None,
    grace: timedelta | None = None,
) -> IssuedKey:
    """A new key for the integration (rotation). The older keys keep working until revoked, or, with
    `grace` (ATRIUM_API_KEY_ROTATION_GRACE_HOURS), until `grace` from now."""
    integration = integration_or_raise(session, name)
    return _issue(session, integration, actor=actor, expires_at=expires_at, grace=grace)


def revoke_key(session: Session, *, name: str, key_pk: int, actor: str | None) -> ApiKey:
    """Revoke one key of the integration at once (revoking it again changes nothing), audited."""
    integration = integration_or_raise(session, name)
    key = session.get(ApiKey, key_pk)
    if key is None or key.integration_account_id != integration.id:
        raise NotFound(f"no key {key_pk} of integration account {name}")
    already = key.revoked_at is not None
    if not already:
        key.revoked_at = clock.now()
    audit.record(
        session,
        "integration.key.revoke",
        actor=actor,
        target=target_of(name),
        detail={"key_id": key.key_id, "already_revoked": already},
    )
    return key


@dataclass(frozen=True)
class IntegrationCaller:
    """The integration a request's key belongs to, standing where a person's account stands
    (flask.g.account): no roles (so no permission of people), only its scopes."""

    name: str
    scopes: tuple[str, ...]
    key_pk: int
    roles: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    active: bool = True
    is_integration: bool = True
    email: None = None
    locale: None = None
    must_change_password: bool = False
    totp_enabled: bool = False

    @property
    def username(self) -> str:
        return actor_of(self.name)

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def candidate_groups(self) -> list[str]:
        return []


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)


def authenticate_key(conn, presented: str) -> IntegrationCaller:
    """The integration behind `presented` (a whole `atr_...` key), checked on `conn` (any connection),
    or ApiKeyInvalid: the same answer after the same work whichever part is wrong. Records the key's
    use at most once a minute."""
    match = _KEY.match(presented)
    key_id, secret = match.groups() if match else ("", presented)
    row = conn.execute(KEY_LOOKUP, {"key_id": key_id}).first() if match else None
    expected = row.secret_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(expected.encode(), hash_secret(key_id or "000000000000", secret).encode())
    now = clock.now()
    if (
        row is None
        or not matches
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
        or not row.active
    ):
        raise ApiKeyInvalid(KEY_REFUSED)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        table = ApiKey.__table__
        conn.execute(
            update(table)
            .where(table.c.id == row.id)
            .where(or_(table.c.last_used_at.is_(None), table.c.last_used_at <= now - LAST_USED_EVERY))
            .values(last_used_at=now)
        )
    return IntegrationCaller(name=row.name, scopes=tuple(row.scopes or ()), key_pk=row.id)


def purge_expired_idempotency_keys(engine) -> int:
    """The scheduler's job (engine/scheduler.py, hourly): forget Idempotency-Keys past their expiry
    (api/idempotency.py), so a key is remembered ATRIUM_IDEMPOTENCY_KEY_HOURS and the table stays small.
    Not audited: nothing a person or integration made changes, only the memory of their retries."""
    with engine.transaction() as session:
        return delete_expired_idempotency_keys(session, now=clock.now())
