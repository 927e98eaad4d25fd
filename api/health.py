"""Client health: one client's score and reasons (visible as the client is), and the at-risk list, an
account manager's own clients or, for those who see every client, the firm's."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from atrium import health as health_service
from atrium.errors import InvalidInput
from reports.statistics.relationships import health_distribution
from storage.clients import TIERS
from storage.health import AT_RISK, BANDS, WATCH

from . import clients as client_api
from .docs import errors
from .locale import request_locale
from .pagination import PageArgs, envelope, page_schema
from .permissions import has_permission, requires
from .schema_base import Schema

blp = Blueprint("health", __name__, url_prefix="/api/health", description="Client health scores")


class ReasonSchema(Schema):
    reason = fields.String(required=True, metadata={"description": "the rule's reason key"})
    text = fields.String(required=True, metadata={"description": "the reason in the caller's language"})
    points = fields.Float(required=True)


class ClientHealthSchema(Schema):
    client_id = fields.Integer(required=True)
    score = fields.Integer(required=True)
    band = fields.String(required=True, validate=validate.OneOf(BANDS))
    band_text = fields.String(required=True)
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)
    signals = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    computed_at = fields.DateTime(required=True)
    table_version = fields.Integer(required=True)


class AtRiskItemSchema(ClientHealthSchema):
    name = fields.String(required=True)
    tier = fields.String(required=True)
    owner = fields.String(allow_none=True, required=True)


class AtRiskArgs(PageArgs):
    owner = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "a username, or `me`; an account manager sees only their own clients"},
    )
    tier = fields.String(validate=validate.OneOf(TIERS))
    band = fields.String(
        load_default=AT_RISK,
        validate=validate.OneOf([AT_RISK, WATCH]),
        metadata={"description": "at_risk (default), or watch for the clients just above"},
    )


class BandCountSchema(Schema):
    band = fields.String(required=True)
    tier = fields.String(required=True)
    clients = fields.Integer(required=True)
    average_score = fields.Float(required=True)


class StatisticsSchema(Schema):
    clients = fields.Integer(required=True)
    average_score = fields.Float(allow_none=True, required=True)
    by_band = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_band_and_tier = fields.List(fields.Nested(BandCountSchema), required=True)


class OwnerArgs(Schema):
    owner = fields.String(validate=validate.Length(min=1, max=100), metadata={"description": "a username, or `me`"})


AtRiskPage = page_schema(AtRiskItemSchema, "AtRiskPage")


def health_shown(health, locale: str) -> dict:
    return {
        "client_id": health.client_id,
        "score": health.score,
        "band": health.band,
        "band_text": health_service.i18n.translate(f"health.band.{health.band}", locale),
        "reasons": health_service.translated_reasons(health.reasons, locale),
        "signals": health.signals,
        "computed_at": health.computed_at,
        "table_version": health.table_version,
    }


def _listed_owners(owner: str | None) -> tuple[set[str] | None, str | None]:
    """Whose clients the caller's list may hold and the owner asked for: an account manager (who does
    not see every client) lists their own clients only, and asks for nobody else's (422 naming `owner`)."""
    me = g.account.username
    wanted = me if owner == "me" else owner
    if has_permission(g.account.roles, "clients:read_all"):
        return None, wanted
    if wanted not in (None, me):
        raise InvalidInput("you see the health of your own clients only", {"owner": ["only `me` or your own username"]})
    return {me}, None


@client_api.blp.route("/<id:client_id>/health")
class ClientHealthItem(MethodView):
    @requires("clients:read")
    @client_api.blp.response(200, ClientHealthSchema)
    @errors(client_api.blp, 404)
    def get(self, client_id):
        """A client's health score, band and the rules that made it (reasons in your language). Visible as
        the client is: another team's client is the same 404 as one that does not exist."""
        with client_api.process_engine().transaction() as session:
            client = client_api.visible_client(session, client_id)
            client_api.client_service.record_read_other_team(
                session, client, g.account, sees_all=has_permission(g.account.roles, "clients:read_all")
            )
            return health_shown(health_service.client_health_or_raise(session, client_id=client.id), request_locale())


@blp.route("/at-risk")
class AtRisk(MethodView):
    @requires("reports:read")
    @blp.arguments(AtRiskArgs, location="query")
    @blp.response(200, AtRiskPage)
    @errors(blp, 422)
    def get(self, args):
        """Clients at risk (or on watch), lowest score first: an account manager's own, or the firm's
        for those who see every client (`owner` narrows it)."""
        owners, owner = _listed_owners(args.get("owner"))
        locale = request_locale()
        with client_api.process_engine().transaction() as session:
            rows, total = health_service.health_list(
                session,
                owners=owners,
                owner=owner,
                tier=args.get("tier"),
                bands=(args["band"],),
                limit=args["page_size"],
                offset=(args["page"] - 1) * args["page_size"],
            )
            items = [
                {**health_shown(health, locale), "name": client.name, "tier": client.tier, "owner": client.owner}
                for health, client in rows
            ]
            return envelope(items, total, args)


@blp.route("/statistics")
class Statistics(MethodView):
    @requires("reports:read")
    @blp.arguments(OwnerArgs, location="query")
    @blp.response(200, StatisticsSchema)
    @errors(blp, 422)
    def get(self, args):
        """How many scored clients fall in each band, by tier, with their average score: an account
        manager's own clients, or the firm's (`owner` narrows it)."""
        owners, owner = _listed_owners(args.get("owner"))
        if owner is not None:
            owners = {owner}
        with client_api.process_engine().read_transaction() as session:  # the replica, when one is set
            return health_distribution(session, owners=owners)
