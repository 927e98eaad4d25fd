"""What the inbox shows for a user task: assignee, candidates, priority, due date and form.

Both modelers' conventions are read here, in one place: Camunda attributes
(`camunda:assignee`, `camunda:candidateGroups`, ...), SpiffArena properties of the same
names, and the BPMN lane, whose name is a candidate group. `${...}` values are
expressions evaluated on the task's data; anything else is a literal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from atrium import clock
from atrium.errors import Forbidden

from .dialects import value_to_python

DEFAULT_PRIORITY = 50
# Separation of duties: a user-task property naming the variable (or `${expression}`) whose person
# may not claim or complete the task, e.g. `requester` on an approval.
EXCLUDED_PERFORMER = "excludedPerformer"
# What the task is about, for the inbox: a template over the instance's data (engine.subjects).
SUBJECT = "subject"


@dataclass
class UserTaskFields:
    name: str
    lane: str | None
    assignee: str | None
    candidate_groups: list[str] = field(default_factory=list)
    candidate_users: list[str] = field(default_factory=list)
    priority: int = DEFAULT_PRIORITY
    due_at: datetime | None = None
    form: str | None = None
    properties: dict | None = None
    excluded_users: list[str] = field(default_factory=list)
    subject: str | None = None


def form_reference(task_spec) -> str | None:
    """The form a user task asks for, as written in the file; `generated:` for camunda:formData."""
    extensions = getattr(task_spec, "extensions", None) or {}
    if extensions.get("formJsonSchemaFilename"):
        return extensions["formJsonSchemaFilename"]
    if extensions.get("generatedForm"):
        return "generated:"
    return (extensions.get("camunda") or {}).get("formKey")


def _attributes(task_spec) -> dict[str, str]:
    extensions = getattr(task_spec, "extensions", None) or {}
    camunda = extensions.get("camunda") or {}
    merged = {**(extensions.get("properties") or {}), **(camunda.get("properties") or {})}
    merged.update({k: v for k, v in camunda.items() if k != "properties"})
    return merged


def user_task_property(task_spec, name: str) -> str | None:
    """A Spiff or Camunda property (or Camunda attribute) of a user task, as written."""
    return _attributes(task_spec).get(name)


def describe_user_task(task, evaluate) -> UserTaskFields:
    """Evaluate a ready user task's metadata; `evaluate(task, expr)` runs restricted expressions."""
    spec = task.task_spec
    attrs = _attributes(spec)

    def value(name):
        raw = attrs.get(name)
        if raw is None or raw == "":
            return None
        return evaluate(task, value_to_python(raw))

    groups = _as_list(value("candidateGroups"))
    if spec.lane and spec.lane not in groups:
        groups.insert(0, spec.lane)
    assignee = value("assignee")
    priority = value("priority")
    return UserTaskFields(
        name=spec.bpmn_name or spec.bpmn_id,
        lane=spec.lane,
        assignee=str(assignee) if assignee else None,
        candidate_groups=groups,
        candidate_users=_as_list(value("candidateUsers")),
        priority=int(priority) if priority not in (None, "") else DEFAULT_PRIORITY,
        due_at=_due_at(value("dueDate")),
        form=form_reference(spec),
        properties=(getattr(spec, "extensions", None) or {}).get("properties") or None,
        excluded_users=_excluded_users(task, attrs.get(EXCLUDED_PERFORMER), evaluate),
        subject=attrs.get(SUBJECT) or None,
    )


def _excluded_users(task, names: str | None, evaluate) -> list[str]:
    """The usernames held by the comma-separated variable names (or one `${expression}`) `names`;
    a variable not set excludes nobody."""
    if not names or not names.strip():
        return []
    if names.strip().startswith("${"):
        values = _as_list(evaluate(task, value_to_python(names.strip())))
    else:
        values = [value for name in _as_list(names) for value in _as_list(task.data.get(name))]
    return list(dict.fromkeys(values))


def refuse_excluded_performer(task: dict, username: str | None) -> None:
    """Separation of duties, the one check claim, assign and complete share: raise Forbidden when
    `username` is among the task row's `excluded_users`."""
    if username is not None and username in (task.get("excluded_users") or []):
        raise Forbidden(
            f"separation of duties: {username} requested or prepared what this task decides, "
            "so someone else must take it"
        )


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _due_at(value) -> datetime | None:
    """A due date from a datetime, an ISO-8601 datetime, or an ISO-8601 duration from now."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    text = str(value).strip()
    if text.upper().startswith("P"):
        start = clock.now()
        return start + TimerEventDefinition.get_timedelta_from_start(
            TimerEventDefinition.parse_iso_duration(text), start
        )
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


__all__ = [
    "UserTaskFields",
    "describe_user_task",
    "form_reference",
    "refuse_excluded_performer",
    "timedelta",
    "user_task_property",
]
