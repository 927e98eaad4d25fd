"""Logging in and out, passwords, one's own account, and managing accounts (admins)."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from atrium import accounts as account_service
from atrium import login_throttle, second_factor
from atrium.errors import TooManyRequests
from storage.accounts import LOCALES, ROLES, Account, RevokedToken

from . import audit
from .docs import errors
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import permissions_of, requires
from .schema_base import Schema

blp = Blueprint("accounts", __name__, url_prefix="/api", description="Authentication and accounts")


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000), load_only=True)
    otp = fields.String(
        load_only=True,
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={
            "description": "The second factor's 6-digit code, or a recovery code, for an account that has one: "
            "without it such a login is a 401 of type otp-required, with a wrong or already used one a 401 "
            "of type otp-invalid (throttled as a wrong password)"
        },
    )


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    password_change_required = fields.Boolean(
        required=True,
        metadata={
            "description": "True after an admin's reset: the token then opens only "
            "POST /api/me/password (which returns a full token), GET /api/me "
            "and POST /api/auth/revoke; anything else is a 403 problem of "
            "type password-change-required"
        },
    )
    totp_enrolment_required = fields.Boolean(
        required=True,
        metadata={
            "description": "True when the account's role requires a second factor it has not enrolled: the token "
            "then opens only the enrolment (POST /api/me/totp, POST /api/me/totp/confirm), GET/PATCH /api/me "
            "and logging out; anything else is a 403 problem of type totp-enrolment-required"
        },
    )


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1000))
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=1000))


class PasswordResetSchema(Schema):
    password = fields.String(
        load_only=True,
        validate=validate.Length(min=10, max=1000),
        metadata={"description": "The temporary password; a random one when left out"},
    )


class PasswordResetDoneSchema(Schema):
    username = fields.String(required=True)
    temporary_password = fields.String(
        required=True, metadata={"description": "Give it to the person; they must change it at their next login"}
    )


class AccountSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.String()
    email = fields.Email(allow_none=True)
    active = fields.Boolean(dump_only=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    groups = fields.List(fields.String(validate=validate.Length(min=1, max=200)))
    created_at = fields.DateTime(dump_only=True)


class MeSchema(AccountSchema):
    locale = fields.String(
        allow_none=True,
        validate=validate.OneOf(LOCALES),
        metadata={"description": "The language chosen for the web app; null until chosen (the browser's then)"},
    )
    permissions = fields.List(
        fields.String(),
        dump_only=True,
        metadata={"description": "Every permission the account's roles grant, sorted (see the README's matrix)"},
    )
    password_change_required = fields.Boolean(
        dump_only=True,
        metadata={
            "description": "True after an admin's reset: only changing the password (and GET/PATCH /api/me, "
            "logging out) is open until then"
        },
    )
    totp_required = fields.Boolean(
        dump_only=True,
        metadata={"description": "Whether a role of the account requires a second factor (ATRIUM_REQUIRE_TOTP_ROLES)"},
    )
    totp_enabled = fields.Boolean(dump_only=True, metadata={"description": "Whether the account has a second factor"})


class TotpEnrolmentSchema(Schema):
    secret = fields.String(
        required=True, metadata={"description": "The base32 secret, for typing into an authenticator app: shown once"}
    )
    otpauth_uri = fields.String(required=True, metadata={"description": "The same as an otpauth:// URI (a QR code)"})


class TotpCodeSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=100))


class RecoveryCodesSchema(Schema):
    recovery_codes = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Single-use codes for logging in without the device: shown this once"},
    )


class TotpDisableSchema(Schema):
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1000))
    code = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A current code or a recovery code"},
    )


class RecoveryCodesRequestSchema(Schema):
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1000))
    code = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A current code from the authenticator app (not a recovery code)"},
    )


class MeUpdateSchema(Schema):
    locale = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(LOCALES),
        metadata={"description": "en or zh-CN; null forgets the choice"},
    )


class NewAccountSchema(AccountSchema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{2,100}$"))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=1000))


class RolesSchema(Schema):
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    groups = fields.List(fields.String(validate=validate.Length(min=1, max=200)))


AccountPage = page_schema(AccountSchema, "AccountPage")


def _engine():
    return current_app.extensions["atrium.engine"]


def _client_address() -> str:
    # The audit column and the throttle key hold 64 characters; a proxy-given address is not trusted blindly.
    return (request.remote_addr or "unknown")[:64]


def _reserve_attempt(username: str, action: str) -> None:
    """Count a password check before making it, committed at once (see atrium.login_throttle);
    a throttled attempt is audited and answered 429 without its password being looked at."""
    settings = current_app.extensions["atrium.settings"]
    refusal = None
    with _engine().transaction() as session:
        try:
            login_throttle.reserve_attempt(session, username=username, address=_client_address(), settings=settings)
        except TooManyRequests as exc:
            refusal = exc
            audit.record(
                session,
                action,
                target=account_service.account_target(username),
                outcome="denied",
                actor=username,
                detail={"reason": "throttled", "retry_after": exc.retry_after},
            )
    if refusal is not None:
        raise refusal


def me_body(account) -> dict:
    """GET /api/me's answer for `account` (a stored Account or the request's TokenAccount)."""
    return {
        "username": account.username,
        "display_name": account.display_name,
        "email": account.email,
        "active": account.active,
        "roles": account.roles,
        "groups": account.groups,
        "created_at": account.created_at,
        "locale": account.locale,
        "permissions": permissions_of(account.roles),
        "password_change_required": bool(account.must_change_password),
        "totp_required": second_factor.required_for(account.roles, _settings()),
        "totp_enabled": bool(account.totp_enabled),
    }


def _settings():
    return current_app.extensions["atrium.settings"]


def _totp_enrolment_required(account) -> bool:
    return not account.totp_enabled and second_factor.required_for(account.roles, _settings())


def log_in(login: dict, respond: Callable[[Account], dict], *, how: str) -> dict:
    """Check a username and password, throttled and audited; `respond` builds the answer from the
    account in the same transaction. Every refusal (unknown, wrong, deactivated) is the same 401
    (invalid-credentials) after the same work; repeated failures are throttled with growing delays
    (429 login-throttled with Retry-After), per username and address."""
    settings = current_app.extensions["atrium.settings"]
    username = login["username"]
    _reserve_attempt(username, "login")
    failure = None
    with _engine().transaction() as session:
        try:
            account = account_service.authenticate(
                session,
                username=username,
                password=login["password"],
                otp=login.get("otp"),
                address=_client_address(),
                settings=settings,
            )
        except account_service.LoginRefused as exc:
            failure = exc
            audit.record(
                session,
                "login",
                target=account_service.account_target(username),
                outcome="denied",
                actor=username,
                detail={"reason": exc.reason, "how": how},
            )
        else:
            body = respond(account)
            detail = {"how": how}
            if account.must_change_password:
                detail["password_change_required"] = True
            if account.totp_enabled:
                detail["second_factor"] = True
            elif _totp_enrolment_required(account):
                detail["totp_enrolment_required"] = True
            audit.record(
                session,
                "login",
                target=account_service.account_target(account.username),
                actor=account.username,
                detail=detail,
            )
    if failure is not None:
        raise failure
    return body


def revoke_current_token() -> None:
    """Revoke the token the request carries (log out), audited."""
    claims = g.token_claims
    with _engine().transaction() as session:
        session.merge(RevokedToken(token_id=claims.token_id, expires_at=claims.expires_at))
        audit.record(session, "logout", target=account_service.account_target(g.account.username))


def _token_body(account) -> dict:
    token, expires_in = current_app.extensions["atrium.tokens"].issue(account)
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "password_change_required": bool(account.must_change_password),
        "totp_enrolment_required": _totp_enrolment_required(account),
    }


@blp.route("/auth/token", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@errors(blp, 401, 429, authenticated=False)
def issue_token(login):
    """Exchange a username and password for a signed, expiring access token.

    Every refusal (unknown, wrong, deactivated) is the same 401 (type invalid-credentials) after the
    same work; repeated failures are throttled with growing delays (429 of type login-throttled, with
    Retry-After), per username and address."""
    return log_in(login, _token_body, how="token")


@blp.route("/me/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(200, TokenSchema)
@errors(blp, 422, 429)
def change_password(data):
    """Change one's own password, giving the current one: all one's tokens are revoked and a new one returned."""
    settings = current_app.extensions["atrium.settings"]
    username = g.account.username
    _reserve_attempt(username, "account.password.change")
    with _engine().transaction() as session:
        account = account_service.change_own_password(
            session, username=username, current_password=data["current_password"], new_password=data["new_password"]
        )
        login_throttle.forgive_attempt(session, username=username, address=_client_address(), settings=settings)
        return _token_body(account)


@blp.route("/me/totp")
class MyTotp(MethodView):
    @blp.response(201, TotpEnrolmentSchema)
    @errors(blp, 409)
    def post(self):
        """Start adding a second factor: a new secret, kept pending until confirmed, and its otpauth:// URI.

        Shown this once; starting again replaces a pending one. 409 when one is already active."""
        with _engine().transaction() as session:
            return second_factor.start_enrolment(session, username=g.account.username)

    @blp.arguments(TotpDisableSchema)
    @blp.response(204)
    @errors(blp, 409, 422, 429)
    def delete(self, data):
        """Turn one's second factor off, giving the password and a code (or a recovery code).

        403 (type totp-required) when a role of the account requires one; throttled as a login."""
        username = g.account.username
        _reserve_attempt(username, "account.totp.disable")
        with _engine().transaction() as session:
            second_factor.disable(
                session, username=username, password=data["password"], code=data["code"], settings=_settings()
            )
            login_throttle.forgive_attempt(session, username=username, address=_client_address(), settings=_settings())


@blp.route("/me/totp/confirm", methods=["POST"])
@blp.arguments(TotpCodeSchema)
@blp.response(200, RecoveryCodesSchema)
@errors(blp, 409, 422)
def confirm_totp(data):
    """Activate the pending second factor with a first code from the app; returns the recovery codes,
    shown this once (each logs in once instead of a code). From then on every login needs a code."""
    with _engine().transaction() as session:
        codes = second_factor.confirm_enrolment(session, username=g.account.username, code=data["code"])
        return {"recovery_codes": codes}


@blp.route("/me/totp/recovery-codes", methods=["POST"])
@blp.arguments(RecoveryCodesRequestSchema)
@blp.response(200, RecoveryCodesSchema)
@errors(blp, 409, 422, 429)
def replace_recovery_codes(data):
    """New recovery codes for one's second factor, giving the password and a current code from the app
    (not a recovery code): shown this once, and the old ones stop working. Throttled as a login."""
    username = g.account.username
    _reserve_attempt(username, "account.totp.recovery_codes")
    with _engine().transaction() as session:
        codes = second_factor.replace_recovery_codes(
            session, username=username, password=data["password"], code=data["code"]
        )
        login_throttle.forgive_attempt(session, username=username, address=_client_address(), settings=_settings())
        return {"recovery_codes": codes}


@blp.route("/auth/revoke", methods=["POST"])
@blp.response(204)
@errors(blp)
def revoke_token():
    """Revoke the token this request carries (log out)."""
    revoke_current_token()


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @errors(blp)
    def get(self):
        """The account the token belongs to, with its language and the permissions its roles grant."""
        return me_body(g.account)

    @blp.arguments(MeUpdateSchema)
    @blp.response(200, MeSchema)
    @errors(blp, 422)
    def patch(self, data):
        """Choose one's language for the web app (en or zh-CN; null forgets the choice)."""
        with _engine().transaction() as session:
            account = account_service.set_locale(session, username=g.account.username, locale=data["locale"])
            return me_body(account)


@blp.route("/accounts")
class Accounts(MethodView):
    @requires("accounts:manage")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, AccountPage)
    @errors(blp, 422)
    def get(self, args):
        """List accounts."""
        with _engine().transaction() as session:
            rows, total = page_query(
                session, select(Account).order_by(Account.username), select(func.count()).select_from(Account), args
            )
            return envelope([row[0] for row in rows], total, args)

    @requires("accounts:manage")
    @blp.arguments(NewAccountSchema)
    @blp.response(201, AccountSchema)
    @errors(blp, 409, 422)
    def post(self, data):
        """Create an account."""
        with _engine().transaction() as session:
            account = account_service.create_account(session, **data, actor=g.account.username)
            return account


@blp.route("/accounts/<username>/deactivate", methods=["POST"])
@requires("accounts:manage")
@blp.response(200, AccountSchema)
@errors(blp, 404)
def deactivate_account(username):
    """Deactivate an account: its tokens stop working at once."""
    with _engine().transaction() as session:
        account = account_service.deactivate(session, username=username, actor=g.account.username)
        return account


@blp.route("/accounts/<username>/password-reset", methods=["POST"])
@requires("accounts:manage")
@blp.arguments(PasswordResetSchema)
@blp.response(200, PasswordResetDoneSchema)
@errors(blp, 404, 422)
def reset_password(data, username):
    """Set a temporary password (given, or random) that its owner must change at the next login;
    all their tokens are revoked."""
    with _engine().transaction() as session:
        account, password = account_service.reset_password(
            session, username=username, new_password=data.get("password"), actor=g.account.username
        )
        return {"username": account.username, "temporary_password": password}


@blp.route("/accounts/<username>/roles", methods=["PUT"])
@requires("accounts:manage")
@blp.arguments(RolesSchema)
@blp.response(200, AccountSchema)
@errors(blp, 404, 422)
def change_roles(data, username):
    """Replace an account's roles (and groups, if given)."""
    with _engine().transaction() as session:
        account = account_service.set_roles(
            session, username=username, roles=data["roles"], groups=data.get("groups"), actor=g.account.username
        )
        return account


@blp.route("/accounts/<username>/totp-reset", methods=["POST"])
@requires("accounts:manage")
@blp.response(200, AccountSchema)
@errors(blp, 404)
def reset_totp(username):
    """Remove a person's second factor (a lost device): they log in with the password alone, and enrol
    again first if their role requires one."""
    with _engine().transaction() as session:
        return second_factor.reset(session, username=username, actor=g.account.username)
