"""Logging in and out, and managing accounts (admins)."""
from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from atrium import accounts as account_service
from atrium.errors import Unauthorized
from storage.accounts import ROLES, Account, RevokedToken

from . import audit
from .docs import errors
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import requires
from .schema_base import Schema

blp = Blueprint("accounts", __name__, url_prefix="/api", description="Authentication and accounts")


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000), load_only=True)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class AccountSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.String()
    email = fields.Email(allow_none=True)
    active = fields.Boolean(dump_only=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    groups = fields.List(fields.String(validate=validate.Length(min=1, max=200)))
    created_at = fields.DateTime(dump_only=True)


class NewAccountSchema(AccountSchema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{2,100}$"))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=1000))


class RolesSchema(Schema):
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    groups = fields.List(fields.String(validate=validate.Length(min=1, max=200)))


AccountPage = page_schema(AccountSchema, "AccountPage")


def _engine():
    return current_app.extensions["atrium.engine"]


@blp.route("/auth/token", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@errors(blp, 401, authenticated=False)
def issue_token(login):
    """Exchange a username and password for a signed, expiring access token."""
    settings = current_app.extensions["atrium.settings"]
    failure = None
    with _engine().transaction() as session:
        try:
            account = account_service.authenticate(session, username=login["username"], password=login["password"],
                                                   settings=settings)
        except Unauthorized as exc:
            failure = exc
            audit.record(session, "login", target=login["username"], outcome="denied", actor=login["username"],
                         detail={"reason": exc.detail})
        else:
            token, expires_in = current_app.extensions["atrium.tokens"].issue(account)
            audit.record(session, "login", target=account.username, actor=account.username)
    if failure is not None:
        raise failure
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


@blp.route("/auth/revoke", methods=["POST"])
@blp.response(204)
@errors(blp)
def revoke_token():
    """Revoke the token this request carries (log out)."""
    claims = g.token_claims
    with _engine().transaction() as session:
        session.merge(RevokedToken(token_id=claims.token_id, expires_at=claims.expires_at))
        audit.record(session, "logout", target=g.account.username)


@blp.route("/me")
@blp.response(200, AccountSchema)
@errors(blp)
def me():
    """The account the token belongs to."""
    return g.account


@blp.route("/accounts")
class Accounts(MethodView):
    @requires("accounts:manage")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, AccountPage)
    @errors(blp, 422)
    def get(self, args):
        """List accounts."""
        with _engine().transaction() as session:
            rows, total = page_query(session, select(Account).order_by(Account.username),
                                     select(func.count()).select_from(Account), args)
            return envelope([row[0] for row in rows], total, args)

    @requires("accounts:manage")
    @blp.arguments(NewAccountSchema)
    @blp.response(201, AccountSchema)
    @errors(blp, 409, 422)
    def post(self, data):
        """Create an account."""
        with _engine().transaction() as session:
            account = account_service.create_account(session, **data)
            audit.record(session, "account.create", target=account.username, detail={"roles": account.roles})
            return account


@blp.route("/accounts/<username>/deactivate", methods=["POST"])
@requires("accounts:manage")
@blp.response(200, AccountSchema)
@errors(blp, 404)
def deactivate_account(username):
    """Deactivate an account: its tokens stop working at once."""
    with _engine().transaction() as session:
        account = account_service.deactivate(session, username=username)
        audit.record(session, "account.deactivate", target=username)
        return account


@blp.route("/accounts/<username>/roles", methods=["PUT"])
@requires("accounts:manage")
@blp.arguments(RolesSchema)
@blp.response(200, AccountSchema)
@errors(blp, 404, 422)
def change_roles(data, username):
    """Replace an account's roles (and groups, if given)."""
    with _engine().transaction() as session:
        account = account_service.set_roles(session, username=username, roles=data["roles"], groups=data.get("groups"))
        audit.record(session, "account.roles", target=username, detail={"roles": data["roles"]})
        return account
