"""The task inbox: list, count, read with its form, claim, unclaim, assign and complete."""

from __future__ import annotations

import uuid

from flask import current_app, g, jsonify
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy.orm import Session

from atrium.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.assignment import assign_task, claim_task, unclaim_task
from engine.task_metadata import refuse_excluded_performer
from engine.translations import localize_form, localized
from storage.accounts import account_by_username
from storage.clients import plan_for_each_search
from storage.step_writes import load_instance, task_with_instance
from storage.tasks import (
    OPEN,
    Task,
    candidate_condition,
    count_offered,
    offered_by_due,
    task_count,
    task_page,
    task_rows,
    visible_condition,
)
from storage.text_search import contains_condition, normalise
from storage.translations import FORM, translation

from .body_limits import limits_body
from .choices import reference_checks_for_caller
from .clients import process_data_shown_to_caller
from .docs import errors
from .locale import request_locale
from .pagination import PageArgs, envelope, page_schema
from .permissions import has_permission, requires
from .schema_base import Schema

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="The task inbox")
SORTS = ["due", "-due", "created", "-created", "priority", "-priority"]


class TaskSchema(Schema):
    id = fields.UUID()
    name = fields.String(
        metadata={"description": "the task's name in the request's language (Accept-Language), else English"}
    )
    subject = fields.String(
        metadata={
            "description": "what the task is about (its BPMN `subject` filled from the "
            "instance's data when it opened), in the request's language; "
            "the name when the task has no subject"
        }
    )
    element_id = fields.String()
    process_key = fields.String()
    process_name = fields.String(metadata={"description": "the process's name in the request's language"})
    instance_id = fields.UUID()
    assignee = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String())
    candidate_users = fields.List(fields.String())
    priority = fields.Integer()
    due = fields.DateTime(attribute="due_at", allow_none=True)
    created = fields.DateTime(attribute="created_at")
    status = fields.String()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)


class FormSchema(Schema):
    schema = fields.Dict(required=True)
    ui_schema = fields.Dict(allow_none=True)


class TaskDetailSchema(TaskSchema):
    form = fields.Nested(FormSchema, allow_none=True, metadata={"description": "null for a task with no form"})
    data = fields.Dict(metadata={"description": "the values the form starts from"})


VIEWS = ["assigned", "offered", "all"]


class TaskFilters(Schema):
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "part of the subject or name, in any language, whatever the case"},
    )
    view = fields.String(
        validate=validate.OneOf(VIEWS),
        metadata={
            "description": (
                "an inbox tab: `assigned` (assigned to you), `offered` (unclaimed, offered to you as a candidate user "
                "or through your roles and groups), `all` (every task; roles with `tasks:read_all` only, else 403); "
                "`assigned` and `offered` override `assignee` and `candidate_user`"
            )
        },
    )
    assignee = fields.String(metadata={"description": "a username, or `me`"})
    candidate_user = fields.String(metadata={"description": "`me` (or a username): unclaimed tasks offered to them"})
    candidate_group = fields.String()
    process_key = fields.String()
    instance_id = fields.UUID()
    status = fields.String(load_default=OPEN, validate=validate.OneOf(["open", "completed", "cancelled"]))
    due_before = fields.AwareDateTime()
    due_after = fields.AwareDateTime()
    priority_min = fields.Integer(validate=validate.Range(min=-1_000_000, max=1_000_000))


class TaskListArgs(TaskFilters, PageArgs):
    sort = fields.String(load_default="created", validate=validate.OneOf(SORTS))


class CountSchema(Schema):
    count = fields.Integer(required=True)


class InboxCountsSchema(Schema):
    assigned = fields.Integer(required=True, metadata={"description": "open tasks assigned to you"})
    offered = fields.Integer(required=True, metadata={"description": "open, unclaimed tasks offered to you"})
    all = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "every open task; null unless your roles have `tasks:read_all`"},
    )


class AssignSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))


class CompleteSchema(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict)


TaskPage = page_schema(TaskSchema, "TaskPage")


def _iso(moment):
    return moment.isoformat() if moment is not None else None


def localized_texts(task: dict, locale: str) -> dict:
    """name, subject and process_name of a task row in `locale` (else English; the subject falls
    back to the name). Rows from before texts were kept have only their English name."""
    texts = task.get("texts")
    name = localized(texts, "name", locale) or task["name"]
    return {
        "name": name,
        "subject": localized(texts, "subject", locale) or name,
        "process_name": localized(texts, "process_name", locale) or task["process_key"],
    }


def localized_task(task: dict) -> dict:
    """A task row with its texts in the request's language, for TaskSchema to dump."""
    return {**task, **localized_texts(task, request_locale())}


def task_document(task: dict, locale: str) -> dict:
    """What TaskSchema dumps, built directly: an inbox page of 50 tasks is the hottest response
    there is, and marshmallow would spend more time on it than the database does."""
    texts = localized_texts(task, locale)
    return {
        "id": str(task["id"]),
        "name": texts["name"],
        "subject": texts["subject"],
        "element_id": task["element_id"],
        "process_key": task["process_key"],
        "process_name": texts["process_name"],
        "instance_id": str(task["instance_id"]),
        "assignee": task["assignee"],
        "candidate_groups": task["candidate_groups"],
        "candidate_users": task["candidate_users"],
        "priority": task["priority"],
        "due": _iso(task["due_at"]),
        "created": _iso(task["created_at"]),
        "status": task["status"],
        "completed_at": _iso(task["completed_at"]),
        "completed_by": task["completed_by"],
    }


def _page_response(items: list[dict], total: int, args: dict):
    locale = request_locale()
    return jsonify(envelope([task_document(t, locale) for t in items], total, args))


def _engine():
    return current_app.extensions["atrium.engine"]


def _me(name: str | None) -> str | None:
    return g.account.username if name == "me" else name


def _candidate(session: Session, args: dict) -> tuple[str, list[str]] | None:
    """(username, groups) for a `candidate_user` filter."""
    if not args.get("candidate_user"):
        return None
    username = _me(args["candidate_user"])
    if username == g.account.username:
        return username, g.account.candidate_groups
    other = account_by_username(session, username=username)
    return username, other.candidate_groups if other else []


def _apply_view(args: dict) -> dict:
    """The inbox tab as the filters it stands for: `assigned` is `assignee=me`, `offered` is
    `candidate_user=me` (so it takes the same index-only paths), `all` adds nothing but needs read-all."""
    view = args.get("view")
    if view == "all" and not has_permission(g.account.roles, "tasks:read_all"):
        raise Forbidden(
            f"your roles ({', '.join(g.account.roles) or 'none'}) do not allow tasks:read_all, which view=all needs"
        )
    # A tab is always your own: it stands in for (and overrides) an `assignee` or `candidate_user` given too.
    for name, tab in (("assignee", "assigned"), ("candidate_user", "offered")):
        if view == tab:
            args[name] = "me"
    return args


def _conditions(session: Session, args: dict) -> list:
    account = g.account
    conditions = [Task.status == args["status"]]
    if args.get("assignee"):
        conditions.append(Task.assignee == _me(args["assignee"]))
    candidate = _candidate(session, args)
    if candidate:
        conditions += [Task.assignee.is_(None), candidate_condition(*candidate, offered_only=True)]
    if args.get("candidate_group"):
        conditions.append(candidate_condition("", [args["candidate_group"]]))
    if args.get("q") and (needle := normalise(args["q"]).strip()):
        plan_for_each_search(session)
        conditions.append(contains_condition(Task.subject_search, needle, dialect=session.get_bind().dialect.name))
    for name, column in (("process_key", Task.process_key), ("instance_id", Task.instance_id)):
        if args.get(name):
            conditions.append(column == args[name])
    if args.get("due_before"):
        conditions.append(Task.due_at < args["due_before"])
    if args.get("due_after"):
        conditions.append(Task.due_at >= args["due_after"])
    if args.get("priority_min") is not None:
        conditions.append(Task.priority >= args["priority_min"])
    # Your own tasks and those offered to you are visible by definition: no need to say so in SQL.
    own = (candidate and candidate[0] == account.username) or _me(args.get("assignee")) == account.username
    if not has_permission(account.roles, "tasks:read_all") and not own:
        conditions.append(visible_condition(account.username, account.candidate_groups))
    return conditions


# Filters besides these make the count go through the tasks table.
_INDEX_COUNTABLE = {"candidate_user", "view", "status", "sort", "page", "page_size"}


def _plain_inbox(session: Session, args: dict) -> bool:
    """`candidate_user=me` with no other filter: served from the candidate index alone."""
    candidate = _candidate(session, args)
    extra = {k for k, v in args.items() if v is not None} - _INDEX_COUNTABLE
    return bool(candidate) and candidate[0] == g.account.username and args["status"] == OPEN and not extra


def _count(session: Session, args: dict, count_query) -> int:
    if _plain_inbox(session, args):
        return count_offered(session, username=g.account.username, groups=g.account.candidate_groups)
    return session.scalar(count_query)


@blp.route("")
@requires("tasks:read")
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, TaskPage)
@errors(blp, 422)
def list_tasks(args):
    """The inbox: tasks you may see, filtered, sorted (`-` for descending) and paged."""
    size, offset = args["page_size"], (args["page"] - 1) * args["page_size"]
    args = _apply_view(args)
    with _engine().transaction() as session:
        if _plain_inbox(session, args) and args["sort"] == "due":
            me = g.account
            total = count_offered(session, username=me.username, groups=me.candidate_groups)
            items = (
                offered_by_due(session, username=me.username, groups=me.candidate_groups, limit=size, offset=offset)
                if total
                else []
            )
            return _page_response(items, total, args)
        conditions = _conditions(session, args)
        items = task_page(session, conditions, args["sort"], limit=size, offset=offset)
        # A short first page is the whole list: no need to count it.
        total = len(items) if offset == 0 and len(items) < size else _count(session, args, task_count(conditions))
        return _page_response(items, total, args)


@blp.route("/count")
@requires("tasks:read")
@blp.arguments(TaskFilters, location="query")
@blp.response(200, CountSchema)
@errors(blp, 422)
def count_tasks(args):
    """How many tasks match the same filters as the list."""
    args = _apply_view(args)
    with _engine().transaction() as session:
        return {"count": _count(session, args, task_count(_conditions(session, args)))}


@blp.route("/counts")
@requires("tasks:read")
@blp.response(200, InboxCountsSchema)
@errors(blp)
def inbox_counts():
    """The inbox tabs' counts: open tasks assigned to you, open unclaimed tasks offered to you, and (for roles
    with `tasks:read_all`, else null) every open task; the same sets as `GET /api/tasks?view=...`."""
    me = g.account
    with _engine().transaction() as session:
        return {
            "assigned": session.scalar(task_count([Task.status == OPEN, Task.assignee == me.username])),
            "offered": count_offered(session, username=me.username, groups=me.candidate_groups),
            "all": session.scalar(task_count([Task.status == OPEN]))
            if has_permission(me.roles, "tasks:read_all")
            else None,
        }


def visible_task_or_raise(session: Session, task_id: uuid.UUID) -> dict:
    """The task as the caller may see it (404 if not): the care preview asks the same question."""
    rows = task_rows(session, task_ids=[task_id])
    return _visible_or_raise(rows[0] if rows else None, task_id)


def _visible_or_raise(task: dict | None, task_id: uuid.UUID) -> dict:
    if task is None:
        raise NotFound(f"task {task_id} not found")
    account = g.account
    offered_now = task["status"] == OPEN and task["assignee"] is None and _offered_to_me(task)
    if not has_permission(account.roles, "tasks:read_all") and not (
        task["assignee"] == account.username or task["completed_by"] == account.username or offered_now
    ):
        raise NotFound(f"task {task_id} not found")  # do not reveal tasks one may not see
    return task


def _offered_to_me(task: dict) -> bool:
    return _is_candidate(task, g.account.username, g.account.candidate_groups)


def _is_candidate(task: dict, username: str, groups: list[str]) -> bool:
    return username in task["candidate_users"] or bool(set(task["candidate_groups"]) & set(groups))


def _may_work_on(task: dict) -> bool:
    """Admins may act on any task; others on theirs, or on unclaimed ones offered to them."""
    account = g.account
    if "admin" in account.roles or task["assignee"] == account.username:
        return True
    return task["assignee"] is None and _offered_to_me(task)


def _require_open(task: dict) -> None:
    if task["status"] != OPEN:
        raise Conflict(f"task {task['id']} is already {task['status']}")


@blp.route("/<uuid:task_id>")
@requires("tasks:read")
@blp.response(200, TaskDetailSchema)
@errors(blp, 404)
def get_task_detail(task_id):
    """A task with its form (JSON Schema and UI schema) and the data the form starts from."""
    engine = _engine()
    with engine.transaction() as session:
        task = visible_task_or_raise(session, task_id)
        form = engine.form(session, task["form_id"]) if task["form_id"] else None
        data = {}
        if form is not None and task["status"] == OPEN:
            instance = load_instance(session, instance_id=task["instance_id"])
            values = engine.task_data(session, instance, task_id)
            data = process_data_shown_to_caller(
                session,
                task["process_key"],
                {k: v for k, v in values.items() if k in (form.schema.get("properties") or {})},
                editable=has_permission(g.account.roles, "tasks:work"),
            )
        return {**localized_task(task), "form": localized_form(session, form), "data": data}


def localized_form(session: Session, form) -> dict | None:
    """A form's schema and UI schema in the request's language (see engine.translations.localize_form)."""
    if form is None:
        return None
    texts = translation(session, kind=FORM, name=form.name, locale=request_locale())
    schema, ui_schema = localize_form(form.schema, form.ui_schema, texts)
    return {"schema": schema, "ui_schema": ui_schema}


@blp.route("/<uuid:task_id>/claim", methods=["POST"])
@requires("tasks:work")
@blp.response(200, TaskSchema)
@errors(blp, 404, 409)
def claim(task_id):
    """Take an unclaimed task offered to you."""
    with _engine().transaction() as session:
        rows = task_rows(session, task_ids=[task_id])
        if (
            rows
            and rows[0]["status"] == OPEN
            and rows[0]["assignee"] not in (None, g.account.username)
            and _offered_to_me(rows[0])
        ):
            # A colleague took it first: say so, though the task is no longer visible to you.
            raise Conflict(f"task {task_id} is already claimed by {rows[0]['assignee']}")
        task = _visible_or_raise(rows[0] if rows else None, task_id)
        _require_open(task)
        if task["assignee"] == g.account.username:
            return localized_task(task)
        if task["assignee"] is not None:
            raise Conflict(f"task {task_id} is already claimed by {task['assignee']}")
        if not _may_work_on(task):
            raise Forbidden("this task is not offered to you")
        refuse_excluded_performer(task, g.account.username)
        claim_task(session, task_id=task_id, actor=g.account.username)
        return localized_task({**task, "assignee": g.account.username})


@blp.route("/<uuid:task_id>/unclaim", methods=["POST"])
@requires("tasks:work")
@blp.response(200, TaskSchema)
@errors(blp, 404, 409)
def unclaim(task_id):
    """Give a claimed task back to its candidates."""
    with _engine().transaction() as session:
        task = visible_task_or_raise(session, task_id)
        _require_open(task)
        if task["assignee"] is None:
            return localized_task(task)
        if task["assignee"] != g.account.username and not has_permission(g.account.roles, "tasks:assign"):
            raise Forbidden(f"task {task_id} is claimed by {task['assignee']}")
        unclaim_task(session, task_id=task_id, assignee=task["assignee"], actor=g.account.username)
        return localized_task({**task, "assignee": None})


@blp.route("/<uuid:task_id>/assign", methods=["POST"])
@requires("tasks:assign")
@blp.arguments(AssignSchema)
@blp.response(200, TaskSchema)
@errors(blp, 404, 409, 422)
def assign(data, task_id):
    """Assign a task to one of its candidates (leads; admins to anyone); they get a notification unless
    they assigned it to themselves. Never to a person the task excludes (separation of duties)."""
    with _engine().transaction() as session:
        task = visible_task_or_raise(session, task_id)
        _require_open(task)
        target = account_by_username(session, username=data["username"])
        if target is None or not target.active:
            raise InvalidInput(f"no active account named {data['username']}", {"username": ["no such active account"]})
        try:
            refuse_excluded_performer(task, target.username)
        except Forbidden as exc:
            raise InvalidInput(exc.detail, {"username": [exc.detail]}) from None
        # Only to a candidate (one of its users or groups); an admin may hand it to anyone, and the
        # audit row says so.
        override = not _is_candidate(task, target.username, target.candidate_groups)
        if override and "admin" not in g.account.roles:
            offered = ", ".join([*task["candidate_users"], *task["candidate_groups"]]) or "nobody"
            raise InvalidInput(
                f"{target.username} is not a candidate for this task (offered to: {offered})",
                {"username": [f"not a candidate for this task (offered to: {offered})"]},
            )
        assign_task(
            session,
            task={**task, "id": task_id},
            assignee=target.username,
            actor=g.account.username,
            not_a_candidate=override,
        )
        return localized_task({**task, "assignee": target.username})


@blp.route("/<uuid:task_id>/complete", methods=["POST"])
@requires("tasks:work")
@limits_body
@blp.arguments(CompleteSchema)
@blp.response(200, TaskSchema)
@errors(blp, 404, 409, 413, 422)
def complete(data, task_id):
    """Complete a task with data valid for its form; the instance moves on.

    The task takes only the fields its form lets a person fill in: other fields are refused
    (422 naming each), read-only and process-set ones are left out. A field naming a person
    (`format: atrium-user`) or a client (`format: atrium-client`) must name an active account (with
    the field's `x-atrium-role`) or a client you may see (422 naming it). At most ATRIUM_MAX_DATA_BYTES of JSON."""
    engine = _engine()
    with engine.transaction() as session:
        task, instance = task_with_instance(session, task_id=task_id) or (None, None)
        _visible_or_raise(task, task_id)
        _require_open(task)
        if not _may_work_on(task):
            raise Forbidden(
                f"task {task_id} is claimed by {task['assignee']}"
                if task["assignee"]
                else "this task is not offered to you"
            )
        instance = engine.complete_task(
            session,
            task_id=task_id,
            data=data["data"],
            actor=g.account.username,
            task_row=task,
            instance=instance,
            references=reference_checks_for_caller(session),
        )
        return localized_task(
            {**task, "status": "completed", "completed_at": instance.updated_at, "completed_by": g.account.username}
        )
