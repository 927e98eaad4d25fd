"""Access tokens (signed, expiring, revocable) and authenticating every API request."""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app, g, request
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from atrium import clock
from atrium.accounts import PasswordChangeRequired
from atrium.errors import Unauthorized
from storage.accounts import Account, account_for_token

# Paths anyone may call: health, readiness, the OpenAPI document and its docs, and login.
PUBLIC_PATHS = ("/healthz", "/readyz", "/api/openapi.json", "/api/docs", "/api/auth/token")
# What a token opens while its account must change a password an admin reset.
PASSWORD_CHANGE_PATHS = {("POST", "/api/me/password"), ("GET", "/api/me"), ("POST", "/api/auth/revoke")}


@dataclass(frozen=True)
class TokenClaims:
    username: str
    token_id: str
    issued_at: datetime
    expires_at: datetime
    # The account's token generation when issued: a password change or reset raises it (revoking the token).
    generation: int


class _ClockSigner(TimestampSigner):
    """Token ages on the injectable clock, so expiry is tested without waiting."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


class TokenService:
    def __init__(self, secret: str, ttl_seconds: int):
        self._serializer = URLSafeTimedSerializer(secret, salt="atrium-access-token", signer=_ClockSigner)
        self.ttl_seconds = ttl_seconds
        self._signed_claims = functools.lru_cache(maxsize=4096)(self._read_claims)

    def issue(self, account: Account) -> tuple[str, int]:
        token = self._serializer.dumps({"sub": account.username, "jti": uuid.uuid4().hex,
                                        "gen": account.token_generation or 0})
        return token, self.ttl_seconds

    def verify(self, token: str) -> TokenClaims:
        try:
            claims = self._signed_claims(token)
        except BadSignature:
            raise Unauthorized("the access token is not valid") from None
        if clock.now() > claims.expires_at:
            raise Unauthorized("the access token has expired; request a new one")
        return claims

    def _read_claims(self, token: str) -> TokenClaims:
        """The claims of a token with a valid signature: a pure function of the token, so cached
        (see __init__), as a client sends the same token with every request."""
        payload, signed_at = self._serializer.loads(token, return_timestamp=True)
        signed_at = signed_at.replace(tzinfo=timezone.utc) if signed_at.tzinfo is None else signed_at
        return TokenClaims(payload["sub"], payload["jti"], signed_at, signed_at + timedelta(seconds=self.ttl_seconds),
                           payload.get("gen", 0))


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an access token: Authorization: Bearer <token> (POST /api/auth/token issues one)")
    return token.strip()


def authenticate_request() -> None:
    """before_request: every path but the public ones needs a valid, unrevoked token of an active account."""
    g.account = None
    if request.path in PUBLIC_PATHS or request.path.startswith("/api/docs") or request.blueprint == "web_app":
        return
    claims = current_app.extensions["atrium.tokens"].verify(bearer_token())
    db = current_app.extensions["atrium.db"]
    if db.dialect.name == "postgresql":
        # The connection is kept for the request's own transactions (released in teardown):
        # one pool checkout and pre-ping per request instead of two.
        conn = g.db_connection = db.connect()
        # One read, no transaction to open and close around it.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            account = account_for_token(conn, username=claims.username, token_id=claims.token_id)
        finally:
            conn.rollback()  # ends SQLAlchemy's autobegun transaction; nothing to send in autocommit
            conn.execution_options(isolation_level=conn.default_isolation_level)
    else:
        with db.connect() as conn:
            account = account_for_token(conn, username=claims.username, token_id=claims.token_id)
    if account is not None and (account.revoked or account.token_generation != claims.generation):
        raise Unauthorized("the access token has been revoked")
    if account is None or not account.active:
        raise Unauthorized("the account behind this token is not active")
    g.account = account
    g.token_claims = claims
    if account.must_change_password and (request.method, request.path) not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired("an admin reset this password: change it first (POST /api/me/password)")

