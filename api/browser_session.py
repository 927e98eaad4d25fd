"""The web app's login: the access token in an HttpOnly, SameSite=Strict cookie, never in the page's
reach, with a CSRF token (derived from the token, see auth.TokenService.csrf_token) for changes."""

from __future__ import annotations

from flask import after_this_request, current_app, g, request
from marshmallow import fields

from .accounts import LoginSchema, MeSchema, blp, log_in, me_body, revoke_current_token
from .auth import SESSION_COOKIE, SESSION_COOKIE_PATH
from .docs import errors
from .schema_base import Schema


class SessionSchema(Schema):
    csrf_token = fields.String(
        required=True,
        metadata={
            "description": "Send it as the X-CSRF-Token header with every POST, PUT, PATCH and DELETE made with "
            "the cookie; the same for the session's whole life"
        },
    )
    expires_at = fields.DateTime(required=True, metadata={"description": "When the session ends; log in again then"})
    user = fields.Nested(MeSchema, required=True, metadata={"description": "As GET /api/me answers"})


def _session_body(claims, account) -> dict:
    return {
        "csrf_token": current_app.extensions["atrium.tokens"].csrf_token(claims),
        "expires_at": claims.expires_at,
        "user": me_body(account),
    }


def _set_cookie(token: str, max_age: int) -> None:
    @after_this_request
    def set_cookie(response):
        # HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it; Path=/api: only
        # the API sees it; Secure over https, so it never travels in clear once served so.
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=max_age,
            path=SESSION_COOKIE_PATH,
            httponly=True,
            samesite="Strict",
            secure=request.is_secure,
        )
        return response


@blp.route("/auth/session", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(LoginSchema)
@blp.response(200, SessionSchema)
@errors(blp, 401, 429, authenticated=False)
def open_session(login):
    """Log in the browser: sets the session cookie (HttpOnly, SameSite=Strict, Path=/api) and returns
    the CSRF token, the expiry and the account; the access token itself is never in the body.

    Checked, throttled and audited as POST /api/auth/token: a refusal is 401 of type
    invalid-credentials, a throttled attempt 429 of type login-throttled with Retry-After."""
    tokens = current_app.extensions["atrium.tokens"]

    def respond(account) -> dict:
        token, ttl = tokens.issue(account)
        _set_cookie(token, ttl)
        return _session_body(tokens.verify(token), account)

    return log_in(login, respond, how="session")


@blp.route("/auth/session", methods=["GET"])
@blp.response(200, SessionSchema)
@errors(blp)
def current_session():
    """The session the cookie (or bearer token) opens: its CSRF token, expiry and account. A 401 says
    why there is none: session-expired, session-revoked, account-deactivated or not-authenticated."""
    return _session_body(g.token_claims, g.account)


@blp.route("/auth/session", methods=["DELETE"])
@blp.response(204)
@errors(blp)
def close_session():
    """Log out: revoke the session's token and clear the cookie (needs the X-CSRF-Token header)."""
    revoke_current_token()

    @after_this_request
    def clear_cookie(response):
        response.delete_cookie(
            SESSION_COOKIE, path=SESSION_COOKIE_PATH, httponly=True, samesite="Strict", secure=request.is_secure
        )
        return response
