"""Process instances: start, list, inspect, history, cancel, retry."""

from __future__ import annotations

import uuid

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import String, cast, exists, func, literal, select

from atrium.clients import CLIENT_KEY_PREFIX, check_client_business_key
from atrium.errors import InvalidInput, NotFound
from atrium.i18n import translate
from atrium.record_processes import STARTED_BY_RECORDS
from engine.waits import instance_waits
from storage.clients import Client
from storage.history import HistoryEntry
from storage.instances import ProcessInstance
from storage.step_writes import InstanceRow, load_instance
from storage.tasks import Task, open_task_rows
from storage.translations import PROCESS, translation

from .body_limits import limits_body
from .choices import reference_checks_for_caller
from .clients import owners_visible_to_caller, process_data_shown_to_caller
from .docs import errors
from .idempotency import idempotent
from .locale import request_locale
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import has_permission, requires
from .schema_base import Schema
from .tasks import TaskSchema, localized_task

blp = Blueprint("instances", __name__, url_prefix="/api/process-instances", description="Process instances")
STATUSES = ("active", "completed", "cancelled", "error")


class StartSchema(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    version = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    variables = fields.Dict(keys=fields.String(), load_default=dict)
    business_key = fields.String(validate=validate.Length(max=200), allow_none=True)


class InstanceSchema(Schema):
    id = fields.UUID()
    process_key = fields.String()
    business_key = fields.String(allow_none=True)
    status = fields.String()
    started_by = fields.String(allow_none=True)
    started_at = fields.DateTime()
    updated_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


# Read from the class: instantiating a schema per request is measurable work.
_INSTANCE_FIELDS = tuple(InstanceSchema._declared_fields)


class IncidentSchema(Schema):
    id = fields.Integer()
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    message = fields.String()
    attempts = fields.Integer()
    created_at = fields.DateTime()


class WaitingTaskSchema(Schema):
    id = fields.UUID()
    element_id = fields.String()
    name = fields.String(metadata={"description": "in the request's language"})
    assignee = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String(), metadata={"description": "roles and groups it is offered to"})
    candidate_users = fields.List(fields.String())
    due = fields.DateTime(attribute="due_at", allow_none=True)


class TimerCycleSchema(Schema):
    remaining = fields.Integer(allow_none=True, metadata={"description": "firings left; null: unbounded"})
    interval_seconds = fields.Float(allow_none=True)


class WaitingTimerSchema(Schema):
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True, metadata={"description": "in the request's language"})
    kind = fields.String(
        allow_none=True,
        metadata={
            "description": (
                "`date`, `duration` or `cycle` (the BPMN timer), or `retry`: a failed service task's next attempt"
            )
        },
    )
    due = fields.DateTime()
    expression = fields.String(allow_none=True, metadata={"description": "the timer's BPMN expression"})
    cycle = fields.Nested(TimerCycleSchema, allow_none=True, metadata={"description": "a cycle timer's repetitions"})
    recurs = fields.Boolean(
        metadata={
            "description": (
                "the process comes back to this timer after it fires (a recurring round such as the follow-up cycle's)"
            )
        }
    )
    attempt = fields.Integer(allow_none=True, metadata={"description": "a retry's attempt number"})


class WaitingMessageSchema(Schema):
    element_id = fields.String()
    element_name = fields.String(allow_none=True, metadata={"description": "in the request's language"})
    message_name = fields.String()
    correlation_keys = fields.Dict(
        metadata={
            "description": (
                "what a message's `correlation_keys` must match to reach this instance (POST /api/messages): its "
                "`business_key`, and the variables the catch event's correlation properties name with the values the "
                "instance holds (null when the caller may not see the instance's data)"
            )
        }
    )


class WaitingIncidentSchema(Schema):
    id = fields.Integer()
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True, metadata={"description": "in the request's language"})
    error = fields.String(attribute="message")
    since = fields.DateTime(attribute="created_at")
    attempts = fields.Integer()


class WaitsSchema(Schema):
    tasks = fields.List(fields.Nested(WaitingTaskSchema), metadata={"description": "open user tasks"})
    timers = fields.List(fields.Nested(WaitingTimerSchema), metadata={"description": "pending timers, soonest first"})
    messages = fields.List(fields.Nested(WaitingMessageSchema), metadata={"description": "message subscriptions"})
    incidents = fields.List(
        fields.Nested(WaitingIncidentSchema),
        metadata={"description": ("open incidents: the instance waits for someone to fix the cause and retry")},
    )


class InstanceDetailSchema(InstanceSchema):
    version = fields.Integer()
    current_activities = fields.List(fields.String())
    variables = fields.Dict(allow_none=True, metadata={"description": "null when the caller may not see them"})
    open_tasks = fields.List(fields.Nested(TaskSchema))
    incidents = fields.List(fields.Nested(IncidentSchema))
    waiting_for = fields.Nested(
        WaitsSchema,
        metadata={
            "description": (
                "what the instance waits for: open tasks, timers, messages and incidents (empty once it has ended)"
            )
        },
    )


class InstanceArgs(PageArgs):
    process_key = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    business_key = fields.String()
    started_by = fields.String()
    started_after = fields.AwareDateTime()
    started_before = fields.AwareDateTime()


class HistorySchema(Schema):
    id = fields.Integer()
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    element_type = fields.String(allow_none=True)
    event = fields.String()
    actor = fields.String(allow_none=True)
    at = fields.DateTime()
    detail = fields.Dict(allow_none=True)


InstancePage = page_schema(InstanceSchema, "InstancePage")


def _engine():
    return current_app.extensions["atrium.engine"]


def visible_instances_condition(session):
    """Which instances the caller may see, as a SQL condition on ProcessInstance (None: all of them).
    Roles that read all variables see every instance; others those they started, those they worked on
    (a task assigned to them or done by them: not merely offered, as a lane's tasks are offered to a
    whole role across teams), and those about a client they may see (business key `client:N`). The
    list and every single-instance view use this rule."""
    account = g.account
    if has_permission(account.roles, "instances:read_all_variables"):
        return None
    owners = owners_visible_to_caller(session)
    client_keys = select(literal(CLIENT_KEY_PREFIX) + cast(Client.id, String)).where(Client.deleted_at.is_(None))
    if owners is not None:
        client_keys = client_keys.where(Client.owner.in_(owners))
    has_my_task = exists().where(Task.instance_id == ProcessInstance.id, _worked_on(account.username))
    about_my_clients = ProcessInstance.business_key.in_(client_keys)
    return (ProcessInstance.started_by == account.username) | has_my_task | about_my_clients


def visible_instance_or_raise(session, instance_id: uuid.UUID) -> None:
    """NotFound for an instance the caller may not see, as for one that does not exist."""
    condition = visible_instances_condition(session)
    if condition is not None and not session.scalar(
        select(exists().where(ProcessInstance.id == instance_id, condition))
    ):
        raise NotFound(f"process instance {instance_id} not found")


def _worked_on(username: str):
    """Tasks (of an instance) assigned to `username` or completed by them."""
    return (Task.assignee == username) | (Task.completed_by == username)


def may_see_variables(session, instance_id: uuid.UUID, started_by: str | None) -> bool:
    """Leads and viewers see all data; others that of instances they started or have worked on."""
    account = g.account
    if has_permission(account.roles, "instances:read_all_variables") or started_by == account.username:
        return True
    return bool(session.scalar(select(exists().where(Task.instance_id == instance_id, _worked_on(account.username)))))


def instance_detail(session, instance: InstanceRow | uuid.UUID, *, just_started: bool = False) -> dict:
    """Status, version, current activities, variables (if the caller may see them), open tasks, incidents.

    `just_started`: the instance was started in this transaction, so its open tasks are the
    ones its first step opened, and need not be read back."""
    engine = _engine()
    if not isinstance(instance, InstanceRow):
        instance = engine.load_instance_or_raise(session, instance)
    variables, activities = engine.instance_view(session, instance)
    shown = (
        process_data_shown_to_caller(session, instance.process_key, variables)
        if may_see_variables(session, instance.id, instance.started_by)
        else None
    )
    tasks = [
        localized_task(t)
        for t in (instance.opened_tasks if just_started else open_task_rows(session, instance_id=instance.id))
    ]
    waits = instance_waits(engine, session, instance, tasks=tasks, variables=shown)
    return {
        **{name: getattr(instance, name) for name in _INSTANCE_FIELDS},
        "version": engine.definition_version(session, instance.definition_id),
        "current_activities": activities,
        "variables": shown,
        "open_tasks": tasks,
        "incidents": waits.incidents,
        "waiting_for": _localized_waits(session, instance, waits),
    }


def _localized_waits(session, instance: InstanceRow, waits) -> dict:
    """`waiting_for` with element names in the request's language (else as in the BPMN)."""
    texts = (
        translation(session, kind=PROCESS, name=instance.process_key, locale=request_locale())
        if waits.timers or waits.messages or waits.incidents
        else {}
    )

    def named(item: dict) -> dict:
        return {**item, "element_name": texts.get(item["element_id"] or "") or item["element_name"]}

    incidents = [
        named(
            {
                "id": i.id,
                "element_id": i.element_id,
                "element_name": i.element_name,
                "message": i.message,
                "created_at": i.created_at,
                "attempts": i.attempts,
            }
        )
        for i in waits.incidents
    ]
    return {
        "tasks": waits.tasks,
        "timers": [named(t) for t in waits.timers],
        "messages": [named(m) for m in waits.messages],
        "incidents": incidents,
    }


def refuse_record_driven_start(process_key: str) -> None:
    """InvalidInput on `process_key` for a process a record starts (atrium.record_processes), saying how it
    starts: started by hand it would lack the record it works on and fall into an incident on its first step."""
    how = STARTED_BY_RECORDS.get(process_key)
    if how is None:
        return
    locale = request_locale()
    how = translate(how, locale)
    raise InvalidInput(
        translate("problem.started_by_record", locale, process_key=process_key, how=how),
        {"process_key": [translate("problem.started_by_record.field", locale, how=how)]},
    )


@blp.route("")
class Instances(MethodView):
    @requires("instances:start")
    @idempotent  # a start retried after a lost answer (a node killed, a timeout) starts nothing twice
    @limits_body
    @blp.arguments(StartSchema)
    @blp.response(201, InstanceDetailSchema)
    @errors(blp, 404, 413, 422)
    def post(self, data):
        """Start an instance of the latest (or given) version and run it until it waits.

        `variables` may not set the process's control variables (422 naming them) other than the fields
        its start form declares, and are at most ATRIUM_MAX_DATA_BYTES of JSON. Variables that fill in
        start-form fields are checked against the form as a task's data is (422 naming
        `variables.<field>`; people and clients as in task completion); the start form's task then
        opens for the starter with them. When the process has a start form, variables it does not declare are
        refused (422 naming `variables.<name>`) and only the fields a person may fill in are written, as a
        task's completion takes only its form's fields. A business key `client:N` must name a client you may
        see. The processes a record starts (service requests, complaints, follow-ups) are not started here:
        422 on `process_key` saying how they start."""
        refuse_record_driven_start(data["process_key"])
        engine = _engine()
        with engine.transaction() as session:
            check_client_business_key(session, data.get("business_key"), owners_visible_to_caller(session))
            instance = engine.start_instance(
                session,
                process_key=data["process_key"],
                version=data.get("version"),
                variables=data["variables"],
                business_key=data.get("business_key"),
                actor=g.account.username,
                untrusted=True,
                references=reference_checks_for_caller(session),
            )
            return instance_detail(session, instance, just_started=True)

    @requires("instances:read")
    @blp.arguments(InstanceArgs, location="query")
    @blp.response(200, InstancePage)
    @errors(blp, 422)
    def get(self, args):
        """List the instances you may see, newest first, filtered by process, status, business key, starter
        and start time."""
        conditions = []
        for name in ("process_key", "status", "business_key", "started_by"):
            if args.get(name):
                conditions.append(getattr(ProcessInstance, name) == args[name])
        if args.get("started_after"):
            conditions.append(ProcessInstance.started_at >= args["started_after"])
        if args.get("started_before"):
            conditions.append(ProcessInstance.started_at < args["started_before"])
        with _engine().transaction() as session:
            visible = visible_instances_condition(session)
            if visible is not None:
                conditions.append(visible)
            rows, total = page_query(
                session,
                select(ProcessInstance)
                .where(*conditions)
                .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id),
                select(func.count()).select_from(ProcessInstance).where(*conditions),
                args,
            )
            return envelope([row[0] for row in rows], total, args)


@blp.route("/<uuid:instance_id>")
@requires("instances:read")
@blp.response(200, InstanceDetailSchema)
@errors(blp, 404)
def get_instance(instance_id):
    """An instance: status, current activities, variables you may see, open tasks and incidents."""
    with _engine().transaction() as session:
        visible_instance_or_raise(session, instance_id)
        return instance_detail(session, instance_id)


@blp.route("/<uuid:instance_id>/history")
@requires("instances:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(HistorySchema, "HistoryPage"))
@errors(blp, 404, 422)
def get_history(args, instance_id):
    """Every step of an instance: element, event, actor and time, oldest first."""
    with _engine().transaction() as session:
        instance = load_instance(session, instance_id=instance_id, with_state=False)
        if instance is None:
            raise NotFound(f"process instance {instance_id} not found")
        visible_instance_or_raise(session, instance_id)
        condition = HistoryEntry.instance_id == instance_id
        rows, total = page_query(
            session,
            select(HistoryEntry).where(condition).order_by(HistoryEntry.id),
            select(func.count()).select_from(HistoryEntry).where(condition),
            args,
        )
        # Element names in the reader's language, from the process's translation file (else as in the BPMN).
        texts = translation(session, kind=PROCESS, name=instance.process_key, locale=request_locale())
        entries = [{name: getattr(row[0], name) for name in HistorySchema._declared_fields} for row in rows]
        for entry in entries:
            entry["element_name"] = texts.get(entry["element_id"] or "") or entry["element_name"]
        return envelope(entries, total, args)


@blp.route("/<uuid:instance_id>/cancel", methods=["POST"])
@requires("instances:cancel")
@blp.response(200, InstanceDetailSchema)
@errors(blp, 404, 409)
def cancel_instance(instance_id):
    """Cancel an instance: its open tasks are cancelled and its timers dropped."""
    engine = _engine()
    with engine.transaction() as session:
        instance = engine.cancel_instance(session, instance_id=instance_id, actor=g.account.username)
        return instance_detail(session, instance)


@blp.route("/<uuid:instance_id>/retry", methods=["POST"])
@requires("instances:retry")
@blp.response(200, InstanceDetailSchema)
@errors(blp, 404, 409)
def retry_instance(instance_id):
    """Run the element of an incident again, once its cause is fixed."""
    engine = _engine()
    with engine.transaction() as session:
        instance = engine.retry_instance(session, instance_id=instance_id, actor=g.account.username)
        return instance_detail(session, instance)
