"""Client records over HTTP: create (with duplicate detection), read, update, list and search,
soft delete and restore, and the client's timeline. The views check access and shape the data; the
changes themselves, with their follow-up cycle and audit row, are atrium/clients.py's."""

from __future__ import annotations

from flask import current_app, g, has_request_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, post_dump, validate

from atrium import clients as client_service
from atrium import masking
from atrium.disclosure import disclosed_data, has_client_findings
from storage import timeline
from storage.accounts import LOCALES
from storage.clients import (
    KINDS,
    SORT_COLUMNS,
    STATUSES,
    TIERS,
    Client,
    plan_for_each_search,
    search_clients,
    search_condition,
    tagged_condition,
)

from .docs import errors
from .idempotency import idempotent
from .pagination import PageArgs, envelope, page_schema
from .permissions import has_permission, requires
from .schema_base import Schema

blp = Blueprint("clients", __name__, url_prefix="/api/clients", description="Client records")

SORTS = tuple(SORT_COLUMNS)


def caller_masking(session=None) -> masking.Masking:
    """How the caller sees contact data (atrium/masking.py), worked out once per request."""
    found = g.get("atrium_masking")
    if found is None:
        settings = current_app.extensions["atrium.settings"]
        if not masking.sees_masked(g.account.roles, settings):
            found = masking.FULL
        elif session is not None:
            found = masking.masking_for(session, g.account.roles, settings)
        else:
            with process_engine().transaction() as own:
                found = masking.masking_for(own, g.account.roles, settings)
        g.atrium_masking = found
    return found


class MaskedSchema(Schema):
    """A schema of a record with contact data: dumped in a request, it is masked as the caller sees it."""

    @post_dump
    def mask_for_caller(self, data, **kwargs):
        if has_request_context() and g.get("account") is not None:
            return caller_masking().client(data)
        return data


class AddressSchema(Schema):
    label = fields.String(validate=validate.Length(max=50), metadata={"description": "e.g. office, billing"})
    street = fields.String(validate=validate.Length(max=300))
    city = fields.String(validate=validate.Length(max=100))
    region = fields.String(validate=validate.Length(max=100))
    postcode = fields.String(validate=validate.Length(max=20))
    country = fields.String(validate=validate.Length(max=100))


class ClientSchema(MaskedSchema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(validate=validate.OneOf(KINDS), load_default="organisation")
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    industry = fields.String(allow_none=True, validate=validate.Length(max=100))
    tier = fields.String(
        validate=validate.OneOf(TIERS), load_default="C", metadata={"description": "classification: A (key), B, C"}
    )
    status = fields.String(validate=validate.OneOf(STATUSES), load_default="prospect")
    owner = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"description": "username of the responsible account manager"},
    )
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)), validate=validate.Length(max=50), load_default=list
    )
    phones = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)), validate=validate.Length(max=20), load_default=list
    )
    emails = fields.List(
        fields.Email(validate=validate.Length(max=320)), validate=validate.Length(max=20), load_default=list
    )
    addresses = fields.List(fields.Nested(AddressSchema), validate=validate.Length(max=20), load_default=list)
    notes = fields.String(allow_none=True, validate=validate.Length(max=20000))
    locale = fields.String(
        allow_none=True,
        validate=validate.OneOf(LOCALES),
        metadata={"description": "the language of mail to the client (surveys, greetings); null: the firm's default"},
    )
    custom_fields = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "validated against the firm's custom-field JSON Schema"},
    )
    version = fields.Integer(dump_only=True, metadata={"description": "send it back in updates to detect conflicts"})
    created_at = fields.DateTime(dump_only=True)
    created_by = fields.String(dump_only=True, allow_none=True)
    updated_at = fields.DateTime(dump_only=True)
    deleted_at = fields.DateTime(dump_only=True, allow_none=True)
    masked_fields = fields.List(
        fields.String(),
        dump_only=True,
        metadata={
            "description": "the fields shown masked to the caller (ATRIUM_MASKED_ROLES), each of which "
            "POST /api/clients/{id}/reveal shows in full: phones, emails, addresses, sensitive custom fields; "
            "empty for a caller who sees them in full"
        },
    )

    @post_dump
    def mask_for_caller(self, data, **kwargs):
        reader = caller_masking() if has_request_context() and g.get("account") is not None else masking.FULL
        return {**reader.client(data), "masked_fields": reader.masked_fields(data)}


class NewClientSchema(ClientSchema):
    confirm_duplicate = fields.Boolean(
        load_default=False, load_only=True, metadata={"description": "create even though existing clients match"}
    )


class ClientPatchSchema(ClientSchema):
    expected_version = fields.Integer(
        load_only=True,
        validate=validate.Range(min=0, max=2**31 - 1),
        metadata={"description": "refuse with 409 if the client's version differs"},
    )


class ClientArgs(PageArgs):
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "any part of name, phone, email or address, case-insensitive"},
    )
    tier = fields.String(validate=validate.OneOf(TIERS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(validate=validate.OneOf(KINDS))
    industry = fields.String(validate=validate.Length(max=100))
    owner = fields.String(validate=validate.Length(max=100), metadata={"description": "a username, or `me`"})
    tag = fields.String(validate=validate.Length(max=50))
    deleted = fields.Boolean(load_default=False, metadata={"description": "list soft-deleted clients (admins)"})
    sort = fields.String(load_default="name", validate=validate.OneOf([*SORTS, *(f"-{s}" for s in SORTS)]))


class ClientPage(page_schema(ClientSchema, "ClientPageBase")):
    total_exact = fields.Boolean(
        required=True,
        metadata={
            "description": "false when more clients match than were counted: `total` is then a lower bound (10,000)"
        },
    )


def process_engine():
    return current_app.extensions["atrium.engine"]


def owners_visible_to_caller(session) -> set[str] | None:
    return client_service.visible_owners(
        session, g.account, sees_all=has_permission(g.account.roles, "clients:read_all")
    )


def process_data_shown_to_caller(session, process_key: str, data: dict, *, editable: bool = False) -> dict:
    """A process's (or task's) data as the caller may read it: findings about clients they may not see
    are only counted; contact data (phones, emails, addresses, at any depth) is masked for a caller who
    sees it masked, unless the data is a form they may submit (`editable`: masked values sent back would
    overwrite the real ones)."""
    if has_client_findings(process_key):
        data = disclosed_data(process_key, data, owners_visible_to_caller(session))
    if not editable and caller_masking(session).masked:
        data = masking.masked_process_data(data)
    return data


def visible_client(session, client_id: int, *, include_deleted: bool = False) -> Client:
    """The client `client_id` if the caller may see it, else NotFound."""
    return client_service.visible_client_or_raise(
        session, client_id, owners_visible_to_caller(session), include_deleted=include_deleted
    )


def client_list_conditions(session, args: dict) -> list:
    """The WHERE clauses of a client list: visibility, search and filters (export uses them too).
    Statements using them later in the transaction are planned for their values."""
    conditions = client_filters(session, args)
    if args.get("q"):
        conditions.append(search_condition(args["q"], dialect=session.get_bind().dialect.name, session=session))
    return conditions


def client_filters(session, args: dict) -> list:
    """client_list_conditions but the search: live (or deleted) clients the caller sees, and the filters."""
    plan_for_each_search(session)
    dialect = session.get_bind().dialect.name
    conditions = [Client.deleted_at.is_not(None) if args.get("deleted") else Client.deleted_at.is_(None)]
    owners = owners_visible_to_caller(session)
    if owners is not None:
        conditions.append(Client.owner.in_(owners))
    for name in ("tier", "status", "kind", "industry"):
        if args.get(name):
            conditions.append(getattr(Client, name) == args[name])
    if args.get("owner"):
        conditions.append(Client.owner == (g.account.username if args["owner"] == "me" else args["owner"]))
    if args.get("tag"):
        conditions.append(tagged_condition(args["tag"], dialect=dialect))
    return conditions


@blp.route("")
class Clients(MethodView):
    @requires("clients:read")
    @blp.arguments(ClientArgs, location="query")
    @blp.response(200, ClientPage)
    @errors(blp, 422)
    def get(self, args):
        """List and search clients you may see. `total` is exact up to 10,000 matches; beyond that it
        is 10,000 and `total_exact` is false."""
        if args.get("deleted") and not has_permission(g.account.roles, "clients:restore"):
            args["deleted"] = False
        # A search reads on the read replica when one is set (ATRIUM_DATABASE_REPLICA_URL).
        with process_engine().read_transaction() as session:
            filters = client_filters(session, args)
            items, total, exact = search_clients(
                session,
                filters,
                q=args.get("q"),
                every_live_client=len(filters) == 1 and not args.get("deleted"),
                tagged=bool(args.get("tag")),
                sort=args["sort"],
                limit=args["page_size"],
                offset=(args["page"] - 1) * args["page_size"],
            )
            return {**envelope(items, total, args), "total_exact": exact}

    @requires("clients:write")
    # A create retried after a lost answer makes one client, not a duplicate warning. The stored answer keeps
    # none of what could name the client (it is not encrypted, and erasure would not find it): a replay has
    # the id and nulls there.
    @idempotent(redact=("name", "phones", "emails", "addresses", "notes", "custom_fields", "tags"))
    @blp.arguments(NewClientSchema)
    @blp.response(201, ClientSchema)
    @errors(blp, 409, 422)
    def post(self, data):
        """Create a client. One whose normalised name, phone or email matches an existing client is
        refused with 409 listing the candidates, unless `confirm_duplicate` is true. Candidates you may
        not see are only counted (`withheld`), with who can look into them."""
        confirm = data.pop("confirm_duplicate", False)
        if data.get("owner") is None and not has_permission(g.account.roles, "clients:read_all"):
            data["owner"] = g.account.username  # an account manager's new client is their own
        engine = process_engine()
        with engine.transaction() as session:
            return client_service.create_client(
                session,
                engine,
                data=data,
                actor=g.account.username,
                confirm_duplicate=confirm,
                owners=owners_visible_to_caller(session),
            )


@blp.route("/<id:client_id>")
class ClientItem(MethodView):
    @requires("clients:read")
    @blp.response(200, ClientSchema)
    @errors(blp, 404)
    def get(self, client_id):
        """One client. A read of a client owned outside the caller's teams, by a role that sees every
        client, is audited as `client.read_other_team`."""
        with process_engine().transaction() as session:
            client = visible_client(session, client_id)
            client_service.record_read_other_team(
                session, client, g.account, sees_all=has_permission(g.account.roles, "clients:read_all")
            )
            return client

    @requires("clients:write")
    @blp.arguments(ClientPatchSchema(partial=True))
    @blp.response(200, ClientSchema)
    @errors(blp, 404, 409, 422)
    def patch(self, data, client_id):
        """Change some fields of a client."""
        expected = data.pop("expected_version", None)
        engine = process_engine()
        with engine.transaction() as session:
            client = visible_client(session, client_id)
            data = masking.unmasked_input(data, client, caller_masking(session))
            return client_service.update_client(
                session, engine, client, data=data, actor=g.account.username, expected_version=expected
            )

    @requires("clients:write")
    @blp.response(204)
    @errors(blp, 404, 409)
    def delete(self, client_id):
        """Delete a client (soft: admins can restore it). Refused while it has engagements or open processes."""
        engine = process_engine()
        with engine.transaction() as session:
            client_service.delete_client(session, engine, visible_client(session, client_id), actor=g.account.username)


@blp.route("/<id:client_id>/restore", methods=["POST"])
@requires("clients:restore")
@blp.response(200, ClientSchema)
@errors(blp, 404, 409)
def restore_client(client_id):
    """Bring back a soft-deleted client."""
    engine = process_engine()
    with engine.transaction() as session:
        return client_service.restore_client(session, engine, client_id, actor=g.account.username)


class TimelineArgs(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class TimelineEventSchema(Schema):
    at = fields.DateTime(required=True)
    kind = fields.String(
        required=True,
        metadata={
            "description": "follow_up, engagement, service_request, complaint, feedback, process_instance or task"
        },
    )
    id = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)


class TimelineSchema(Schema):
    client_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(TimelineEventSchema), required=True)


@blp.route("/<id:client_id>/timeline")
@requires("clients:read")
@blp.arguments(TimelineArgs, location="query")
@blp.response(200, TimelineSchema)
@errors(blp, 404, 422)
def client_timeline(args, client_id):
    """Everything about a client, newest first: follow-ups, engagements, service requests, complaints,
    feedback, process instances and their tasks."""
    with process_engine().transaction() as session:
        visible_client(session, client_id)
        items = timeline.client_timeline(
            session,
            client_id=client_id,
            business_key=client_service.client_business_key(client_id),
            limit=args["limit"],
        )
        return {"client_id": client_id, "items": items}


class RevealSchema(Schema):
    field = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "phones, emails, addresses, or a custom field the firm's schema marks sensitive"},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(max=masking.REVEAL_REASON_MAX),
        metadata={"description": f"why you need it, at least {masking.REVEAL_REASON_MIN} characters (audited)"},
    )


class RevealedSchema(Schema):
    client_id = fields.Integer(required=True)
    field = fields.String(required=True)
    value = fields.Raw(allow_none=True, metadata={"description": "the field's full value"})


@blp.route("/<id:client_id>/reveal", methods=["POST"])
@requires("clients:read")
@blp.arguments(RevealSchema)
@blp.response(200, RevealedSchema)
@errors(blp, 404, 422)
def reveal_field(data, client_id):
    """The full value of one masked field of a client you may see, for a stated reason: audited as
    `client.reveal` (the field and the reason, not the value)."""
    with process_engine().transaction() as session:
        client = visible_client(session, client_id)
        return masking.reveal(session, client, field=data["field"], reason=data["reason"], actor=g.account.username)
