"""Access tokens (signed, expiring, revocable) and authenticating every API request, by a bearer
token or by the browser's session cookie (which then needs a CSRF token for changes)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app, g, request
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from atrium import clock, integration_accounts
from atrium.accounts import PasswordChangeRequired
from atrium.errors import Forbidden, Unauthorized
from atrium.second_factor import TotpEnrolmentRequired, required_for
from storage.accounts import Account, account_for_token

# Paths anyone may call: health, readiness, the OpenAPI document and its docs, and login.
PUBLIC_PATHS = ("/healthz", "/readyz", "/api/openapi.json", "/api/docs", "/api/auth/token")
# Public by method: logging in to a browser session (its GET and DELETE need the session).
PUBLIC_ENDPOINTS = {("POST", "/api/auth/session")}
# Public by design, each answering only to what it is given (a survey's signed personal link, api/public_surveys.py).
PUBLIC_PREFIXES = ("/api/public/",)
# What a token opens while its account must change a password an admin reset.
PASSWORD_CHANGE_PATHS = {
    ("POST", "/api/me/password"),
    ("GET", "/api/me"),
    ("PATCH", "/api/me"),
    ("POST", "/api/auth/revoke"),
    ("GET", "/api/auth/session"),
    ("DELETE", "/api/auth/session"),
}
# What a token opens while its account's role requires a second factor it has not enrolled yet.
TOTP_ENROLMENT_PATHS = PASSWORD_CHANGE_PATHS | {("POST", "/api/me/totp"), ("POST", "/api/me/totp/confirm")}
# The browser session: the access token in an HttpOnly cookie that only same-site requests to /api carry.
SESSION_COOKIE = "atrium_session"
SESSION_COOKIE_PATH = "/api"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


# Each refusal has its own problem type, so a client can say what to do next.
class NotAuthenticated(Unauthorized):
    kind = "not-authenticated"


class TokenInvalid(Unauthorized):
    kind = "token-invalid"


class SessionExpired(Unauthorized):
    kind = "session-expired"


class SessionRevoked(Unauthorized):
    """Logged out, or every token of the account revoked by a password change or reset."""

    kind = "session-revoked"


class AccountInactive(Unauthorized):
    kind = "account-deactivated"


class IntegrationNotAllowed(Forbidden):
    """An integration's key on an endpoint that takes none (every endpoint without requires_scope)."""

    kind = "integration-not-allowed"


class CsrfTokenMissing(Forbidden):
    kind = "csrf-token-missing"


class CsrfTokenMismatch(Forbidden):
    kind = "csrf-token-mismatch"


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
        # Its own key, derived from the secret, so a CSRF token is no signature usable elsewhere.
        self._csrf_key = hmac.new(secret.encode(), b"atrium-csrf-token", hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds
        self._signed_claims = functools.lru_cache(maxsize=4096)(self._read_claims)

    def issue(self, account: Account) -> tuple[str, int]:
        token = self._serializer.dumps(
            {"sub": account.username, "jti": uuid.uuid4().hex, "gen": account.token_generation or 0}
        )
        return token, self.ttl_seconds

    def verify(self, token: str) -> TokenClaims:
        try:
            claims = self._signed_claims(token)
        except BadSignature:
            raise TokenInvalid("the access token is not valid; log in again") from None
        if clock.now() > claims.expires_at:
            raise SessionExpired("the access token has expired; log in again")
        return claims

    def csrf_token(self, claims: TokenClaims) -> str:
        """The CSRF token of a session: derived from its token's id, so nothing is stored, and
        unknowable to a page on another site (which cannot read the cookie either)."""
        return hmac.new(self._csrf_key, claims.token_id.encode(), hashlib.sha256).hexdigest()

    def _read_claims(self, token: str) -> TokenClaims:
        """The claims of a token with a valid signature: a pure function of the token, so cached
        (see __init__), as a client sends the same token with every request."""
        payload, signed_at = self._serializer.loads(token, return_timestamp=True)
        signed_at = signed_at.replace(tzinfo=timezone.utc) if signed_at.tzinfo is None else signed_at
        return TokenClaims(
            payload["sub"],
            payload["jti"],
            signed_at,
            signed_at + timedelta(seconds=self.ttl_seconds),
            payload.get("gen", 0),
        )


NO_CREDENTIALS = (
    "log in: send an access token as Authorization: Bearer <token> (POST /api/auth/token issues "
    "one), or the session cookie (POST /api/auth/session sets it)"
)


def presented_token() -> tuple[str, bool]:
    """The request's access token and whether it came in the session cookie. An Authorization
    header wins: a page on another site cannot set one, so such a request needs no CSRF token."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(NO_CREDENTIALS)
        return token.strip(), False
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise NotAuthenticated(NO_CREDENTIALS)
    return token, True


def _check_csrf_token(claims: TokenClaims) -> None:
    """A change made with the cookie must carry the session's CSRF token, which only the app's own
    pages know (GET/POST /api/auth/session return it): the browser adds the cookie to any request."""
    given = request.headers.get(CSRF_HEADER, "")
    if not given:
        raise CsrfTokenMissing(
            f"send the session's CSRF token in the {CSRF_HEADER} header (GET /api/auth/session returns it)"
        )
    if not hmac.compare_digest(given.encode(), current_app.extensions["atrium.tokens"].csrf_token(claims).encode()):
        raise CsrfTokenMismatch(f"the {CSRF_HEADER} header does not match this session; reload the page")


API_KEY_HEADER = "X-API-Key"


def presented_api_key() -> str | None:
    """An integration's key, in X-API-Key or as the bearer token (`Authorization: Bearer atr_...`)."""
    given = request.headers.get(API_KEY_HEADER, "").strip()
    if given:
        return given
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and integration_accounts.looks_like_key(token):
        return token
    return None


def view_scopes() -> tuple[str, ...] | None:
    """The scopes the request's view accepts from an integration (api.permissions.requires_scope), or
    None: a view without them refuses every key (default deny)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = request.method.lower()
        view = getattr(view_class, method, None) or (getattr(view_class, "get", None) if method == "head" else None)
    return getattr(view, "atrium_scopes", None)


def _authenticate_integration(key: str) -> None:
    """g.account becomes the key's IntegrationCaller; a view that takes no scope refuses it (403)."""
    db = current_app.extensions["atrium.db"]
    if db.dialect.name == "postgresql":
        conn = g.db_connection = db.connect()
        conn.execution_options(isolation_level="AUTOCOMMIT")  # the last-used stamp commits by itself
        try:
            caller = integration_accounts.authenticate_key(conn, key)
        finally:
            conn.rollback()
            conn.execution_options(isolation_level=conn.default_isolation_level)
    else:
        with db.connect() as conn:
            caller = integration_accounts.authenticate_key(conn, key)
            conn.commit()
    g.account = caller
    g.integration = caller
    if not view_scopes():
        raise IntegrationNotAllowed(f"integration accounts may not call {request.method} {request.path}")


def authenticate_request() -> None:
    """before_request: every path but the public ones needs a valid, unrevoked token of an active account,
    or an integration's API key (then only on views that take one of its scopes)."""
    g.account = None
    g.integration = None
    g.session_cookie = False
    if (
        request.path in PUBLIC_PATHS
        or request.path.startswith("/api/docs")
        or request.blueprint == "web_app"
        or (request.method, request.path) in PUBLIC_ENDPOINTS
        or request.path.startswith(PUBLIC_PREFIXES)
    ):
        return
    api_key = presented_api_key()
    if api_key is not None:
        _authenticate_integration(api_key)
        return
    token, from_cookie = presented_token()
    claims = current_app.extensions["atrium.tokens"].verify(token)
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
        raise SessionRevoked("the access token has been revoked (logged out, or the password changed); log in again")
    if account is None or not account.active:
        raise AccountInactive("the account behind this token is not active; ask an admin")
    if from_cookie and request.method in UNSAFE_METHODS:
        _check_csrf_token(claims)
    g.account = account
    g.token_claims = claims
    g.session_cookie = from_cookie
    if account.must_change_password and (request.method, request.path) not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired("an admin reset this password: change it first (POST /api/me/password)")
    if (
        not account.totp_enabled
        and (request.method, request.path) not in TOTP_ENROLMENT_PATHS
        and required_for(account.roles, current_app.extensions["atrium.settings"])
    ):
        raise TotpEnrolmentRequired(
            "your role requires a second factor: enrol one first (POST /api/me/totp, then POST /api/me/totp/confirm)"
        )
