"""Relationship care over HTTP: a client's care dates (`/api/clients/{id}/care-dates`, visibility as the
client's), its coming occasions and the greeting mail's preview, the preview of an open care task's
greeting, the firm's care settings (`/api/settings/care`) and campaigns (`/api/care-campaigns`)."""

from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate, validates_schema

from atrium import care, care_campaigns, care_dates
from atrium.care_calendar import HOLIDAYS, valid_yearly_date
from atrium.care_settings import CARE_KINDS, OCCASIONS, TIERS, care_settings, set_care_settings
from atrium.errors import NotFound
from storage.care import CALENDARS, CARE_DATE_KINDS
from storage.step_writes import load_instance

from .clients import ClientArgs, process_engine, visible_client
from .docs import errors
from .permissions import requires
from .schema_base import Schema
from .tasks import visible_task_or_raise

blp = Blueprint("care", __name__, url_prefix="/api", description="Relationship care")


class CareDateSchema(Schema):
    id = fields.Integer(dump_only=True)
    client_id = fields.Integer(dump_only=True)
    contact_id = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=2**62),
        metadata={"description": "the contact whose date it is; none for the client's own"},
    )
    kind = fields.String(required=True, validate=validate.OneOf(CARE_DATE_KINDS))
    label = fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "what a custom date is"}
    )
    calendar = fields.String(validate=validate.OneOf(CALENDARS), load_default="gregorian")
    month = fields.Integer(required=True, validate=validate.Range(min=1, max=12))
    day = fields.Integer(required=True, validate=validate.Range(min=1, max=31))
    year = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1800, max=2200),
        metadata={"description": "the year it began (born, founded), for the anniversary's count"},
    )
    created_by = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _a_real_date(self, data, **kwargs):
        if "month" in data and "day" in data:
            why = valid_yearly_date(data.get("calendar", "gregorian"), data["month"], data["day"])
            if why:
                raise ValidationError({"day": [why]})


class CareDateList(Schema):
    items = fields.List(fields.Nested(CareDateSchema), required=True)


class OccasionSchema(Schema):
    key = fields.String(required=True, metadata={"description": "care_date:{id}, holiday:{name}, ..."})
    kind = fields.String(required=True)
    holiday = fields.String(allow_none=True)
    label = fields.String(allow_none=True)
    date = fields.String(required=True, metadata={"format": "date"})
    contact_id = fields.Integer(allow_none=True)
    years = fields.Integer(allow_none=True)


class OccasionList(Schema):
    items = fields.List(fields.Nested(OccasionSchema), required=True)


class PreviewArgs(Schema):
    occasion = fields.String(
        required=True,
        validate=validate.Length(min=1, max=60),
        metadata={"description": "an occasion's key from the client's care-occasions"},
    )
    template = fields.String(validate=validate.OneOf(care.TEMPLATES))


class GreetingPreviewSchema(Schema):
    locale = fields.String(required=True)
    template = fields.String(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)
    recipient = fields.String(required=True, metadata={"description": "whom the greeting addresses"})
    email = fields.String(allow_none=True, metadata={"description": "where it goes; none when it will not be sent"})
    contact_id = fields.Integer(allow_none=True)
    will_send = fields.Boolean(required=True)
    not_sent_reason = fields.String(
        allow_none=True, metadata={"description": "opted_out (care mail) or no_email, when it will not be sent"}
    )


@blp.route("/clients/<id:client_id>/care-dates")
class CareDates(MethodView):
    @requires("clients:read")
    @blp.response(200, CareDateList)
    @errors(blp, 404)
    def get(self, client_id):
        """A client's care dates (birthdays, anniversaries, custom dates; Gregorian or lunar)."""
        with process_engine().transaction() as session:
            visible_client(session, client_id)
            return {"items": care_dates.care_dates_of(session, client_id)}

    @requires("records:write")
    @blp.arguments(CareDateSchema)
    @blp.response(201, CareDateSchema)
    @errors(blp, 404, 422)
    def post(self, data, client_id):
        """Add a care date to a client (a contact's when `contact_id` names one of its contacts). A lunar
        date is the lunar month and day; its Gregorian date is worked out each year."""
        engine = process_engine()
        with engine.transaction() as session:
            client = visible_client(session, client_id)
            return care_dates.record_care_date(engine, session, client, data, actor=g.account.username)


@blp.route("/clients/<id:client_id>/care-dates/<id:care_date_id>", methods=["DELETE"])
@requires("records:write")
@blp.response(204)
@errors(blp, 404)
def delete_care_date(client_id, care_date_id):
    """Delete one of a client's care dates."""
    engine = process_engine()
    with engine.transaction() as session:
        client = visible_client(session, client_id)
        row = care_dates.care_date_or_raise(session, client_id, care_date_id)
        care_dates.delete_care_date(engine, session, client, row, actor=g.account.username)


def _occasion_or_raise(session, client, key: str) -> dict:
    today = care.clock.now().date()
    found = next((o for o in care.occasions(session, client, on_or_after=today, every=True) if o["key"] == key), None)
    if found is None:
        raise NotFound(f"client {client.id} has no care occasion {key}")
    return found


@blp.route("/clients/<id:client_id>/care-occasions", methods=["GET"])
@requires("clients:read")
@blp.response(200, OccasionList)
@errors(blp, 404)
def care_occasions(client_id):
    """The client's coming occasions its tier gets care for (care settings), soonest first."""
    with process_engine().transaction() as session:
        client = visible_client(session, client_id)
        return {"items": care.occasions(session, client, on_or_after=care.clock.now().date())}


@blp.route("/clients/<id:client_id>/care-preview", methods=["GET"])
@requires("clients:read")
@blp.arguments(PreviewArgs, location="query")
@blp.response(200, GreetingPreviewSchema)
@errors(blp, 404, 422)
def care_preview(args, client_id):
    """The greeting mail for one of the client's occasions as it would go out (subject, body, recipient),
    or why it will not be sent (opted out of care mail, no email). Nothing is written."""
    with process_engine().transaction() as session:
        client = visible_client(session, client_id)
        occasion = _occasion_or_raise(session, client, args["occasion"])
        return care.preview(session, client, occasion, template=args.get("template"))


@blp.route("/tasks/<uuid:task_id>/care-preview", methods=["GET"])
@requires("tasks:read")
@blp.response(200, GreetingPreviewSchema)
@errors(blp, 404)
def care_task_preview(task_id: uuid.UUID):
    """The greeting mail an open care task would send if completed with the greeting mail (the task's
    suggested or edited greeting), or why it would not be sent."""
    engine = process_engine()
    with engine.transaction() as session:
        task = visible_task_or_raise(session, task_id)
        if task["process_key"] != "care":
            raise NotFound(f"task {task_id} is no care task")
        instance = load_instance(session, instance_id=task["instance_id"])
        data = engine.task_data(session, instance, task_id)
        client = visible_client(session, int(data["client_id"]))
        mail = care.preview(session, client, data["occasion"])
        if data.get("greeting_subject"):
            mail["subject"] = data["greeting_subject"]
        if data.get("greeting_body"):
            mail["body"] = data["greeting_body"]
        return mail


# --- settings -------------------------------------------------------------------------------------


class TierCareSchema(Schema):
    occasions = fields.List(fields.String(validate=validate.OneOf(OCCASIONS)), required=True)
    care = fields.String(required=True, validate=validate.OneOf(CARE_KINDS))
    days_before = fields.Integer(required=True, validate=validate.Range(min=0, max=60))


class TiersSchema(Schema):
    A = fields.Nested(TierCareSchema, required=True)
    B = fields.Nested(TierCareSchema, required=True)
    C = fields.Nested(TierCareSchema, required=True)


class CareSettingsSchema(Schema):
    enabled = fields.Boolean(
        required=True, metadata={"description": "switching it on starts every active client's care cycle"}
    )
    holidays = fields.List(
        fields.String(validate=validate.OneOf(HOLIDAYS)),
        required=True,
        metadata={"description": "the holidays the firm observes (lunar ones computed each year)"},
    )
    default_locale = fields.String(
        required=True,
        validate=validate.OneOf(["en", "zh-CN"]),
        metadata={"description": "the greeting's language for a client without one"},
    )
    tiers = fields.Nested(TiersSchema, required=True, metadata={"description": f"per tier ({', '.join(TIERS)})"})


@blp.route("/settings/care", methods=["GET"])
@requires("clients:read")
@blp.response(200, CareSettingsSchema)
@errors(blp)
def get_care_settings():
    """The firm's care settings: holidays observed, and per tier which occasions get what care, how
    many days before."""
    with process_engine().transaction() as session:
        return care_settings(session)


@blp.route("/settings/care", methods=["PUT"])
@requires("settings:manage")
@blp.arguments(CareSettingsSchema)
@blp.response(200, CareSettingsSchema)
@errors(blp, 422)
def put_care_settings(data):
    """Replace the care settings (audited). Switching care on starts every active client's care cycle;
    off cancels them."""
    engine = process_engine()
    with engine.transaction() as session:
        return set_care_settings(engine, session, data, actor=g.account.username)


# --- campaigns ------------------------------------------------------------------------------------


class CampaignSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    filter = fields.Nested(
        ClientArgs(exclude=("page", "page_size", "sort", "deleted")),
        load_default=dict,
        metadata={"description": "the client list's query parameters (q, tier, status, owner, tag, ...)"},
    )
    template = fields.String(required=True, validate=validate.OneOf(care.TEMPLATES))
    mode = fields.String(
        required=True,
        validate=validate.OneOf(care_campaigns.MODES),
        metadata={"description": "tasks: one care task per client for its owner; mail: the greeting mailed now"},
    )


class CampaignResultSchema(Schema):
    name = fields.String(required=True)
    mode = fields.String(required=True)
    clients = fields.Integer(required=True, metadata={"description": "clients in the filter"})
    tasks_started = fields.Integer(required=True)
    mails_queued = fields.Integer(required=True)
    skipped = fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True, metadata={"description": "reason -> count"}
    )


@blp.route("/care-campaigns", methods=["POST"])
@requires("care:campaign")
@blp.arguments(CampaignSchema)
@blp.response(201, CampaignResultSchema)
@errors(blp, 404, 422)
def post_campaign(data):
    """Start a care campaign over the clients a saved filter of the client list selects (the clients you
    see in that list): one care task per client for its owner, or the greeting mailed to each now
    (opt-outs respected, the skipped counted by reason). All or nothing; audited."""
    engine = process_engine()
    with engine.transaction() as session:
        from .clients import client_list_conditions

        conditions = client_list_conditions(session, data["filter"])
        return care_campaigns.run_campaign(
            engine,
            session,
            conditions,
            name=data["name"],
            template=data["template"],
            mode=data["mode"],
            actor=g.account.username,
        )
