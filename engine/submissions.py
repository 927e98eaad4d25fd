"""What data from outside may write into a process: task forms' fields, never its control variables, within a size.

A person writes process data three ways: completing a task, starting an instance (`variables`)
and sending a message (`payload`). None of them may set the variables a process routes work
and finds records by (its control variables): a service desk completing an acknowledgement
must not become the `manager` who approves it, nor point `complaint_id` at another client's
complaint. The one exception is the starter's own input: the fields the process's start form
declares (approval's optional `client_id`) may come in the start variables, and from the
starter when they complete a task with that form.
"""

from __future__ import annotations

import json

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

from atrium.errors import InvalidInput

# Variables the firm's processes (processes/*.bpmn) assign, route and find records by: assignee
# and candidate expressions, due dates, gateway conditions and service handlers read them. Any
# name ending in `_id` (complaint_id, client_id, request_id) is one as well.
CONTROL_VARIABLES = frozenset(
    {
        "manager",
        "requester",
        "approver_group",  # assignees and candidate groups (approval, complaint, onboarding)
        "request_check",  # approval: sends the request back when its check found a problem
        "acknowledge_by",  # complaint: the acknowledgement's due date and the escalation timer
        "complaint_state",  # complaint: who proposed the resolution, whom its approval excludes
        "plan",
        "current",
        "escalation",  # follow-up: cycle timer, the follow-up record, owner and manager
        "conflicts",
        "onboarded",
        "welcome_follow_up",  # onboarding: findings for the reviewer, the client and follow-up
        "sla",
        "assignment",  # service request: due date and inbox priority, the assignment check
    }
)
_RECORD_ID_SUFFIX = "_id"

# What a field that a submission may not set is told.
NOT_IN_FORM = "not a field of this task's form"
NO_FORM = "this task has no form, so it takes no data"
SET_BY_PROCESS = "set by the process, not by a submission"


def is_control_variable(name: str) -> bool:
    return name in CONTROL_VARIABLES or name.endswith(_RECORD_ID_SUFFIX)


def writable_fields(schema: dict) -> frozenset[str]:
    """The top-level properties a form lets a person fill in: all but its `readOnly` ones."""
    properties = schema.get("properties") or {}
    return frozenset(name for name, prop in properties.items() if not (isinstance(prop, dict) and prop.get("readOnly")))


def start_tasks(spec) -> list[str]:
    """The user tasks a process reaches first from its start events (before any other user task):
    theirs is the start form, filled in by the starter (approval's `submit`). Boundary events are
    not followed: what they lead to happens later, if at all."""
    found, seen, stack = [], set(), list(spec.start.outputs)
    while stack:
        task_spec = stack.pop()
        if task_spec.name in seen or isinstance(task_spec, BoundaryEvent):
            continue
        seen.add(task_spec.name)
        if isinstance(task_spec, UserTask):
            found.append(task_spec.bpmn_id)
        else:
            stack.extend(task_spec.outputs)
    return sorted(found)


def json_size(value) -> int:
    """Bytes of `value` as compact UTF-8 JSON: what the limits on submitted data count."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode())


# Deepest nesting of lists and objects submitted data may have: far beyond any form, and far below
# the depth at which SpiffWorkflow's recursive serializer runs out of stack (about 230).
MAX_DEPTH = 32


def json_depth(value) -> int:
    """How deeply lists and dicts nest in `value` (a scalar is 0), counted without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, (list, tuple)) else None
        if children is None:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_size(value, *, field: str, limit: int) -> None:
    """InvalidInput naming `field` when `value` is larger than `limit` bytes of JSON or nests lists and
    objects deeper than MAX_DEPTH."""
    if json_depth(value) > MAX_DEPTH:
        raise InvalidInput(
            f"{field} nests lists and objects too deeply (at most {MAX_DEPTH} levels)",
            {field: [f"at most {MAX_DEPTH} levels of nesting"]},
        )
    size = json_size(value)
    if size > limit:
        raise InvalidInput(
            f"{field} is too large ({size} bytes of JSON; at most {limit})", {field: [f"at most {limit} bytes of JSON"]}
        )


def check_outside_variables(values: dict, *, field: str, allowed: frozenset[str] = frozenset()) -> None:
    """Refuse control variables in start variables or a message payload, naming each (`variables.manager`);
    `allowed` are the start form's fields, which are the starter's to give."""
    refused = sorted(name for name in values if is_control_variable(name) and name not in allowed)
    if refused:
        raise InvalidInput(
            f"{', '.join(refused)} {'is' if len(refused) == 1 else 'are'} set by the process, not by the {field}",
            {f"{field}.{name}": [SET_BY_PROCESS] for name in refused},
        )


def check_declared(
    schema: dict | None, data, *, field: str = "data", form: str = "the task's form", not_in_form: str = NOT_IN_FORM
) -> None:
    """Refuse, naming each (`data.<name>`), the fields a task's form does not declare (any field, for a task
    without a form): a client that shows the form sends only its fields. `field`, `form` and `not_in_form`
    name what is checked otherwise (a process's start variables against its start form)."""
    if not isinstance(data, dict):
        raise InvalidInput("task data must be a JSON object", {"data": ["must be an object"]})
    declared = (schema or {}).get("properties") or {}
    undeclared = sorted(name for name in data if name not in declared)
    if undeclared:
        message = not_in_form if schema is not None else NO_FORM
        raise InvalidInput(
            f"{form} has no field {', '.join(undeclared)}", {f"{field}.{name}": [message] for name in undeclared}
        )


def task_submission(schema: dict | None, data: dict, *, may_set_control: bool) -> dict:
    """The part of a (declared, valid) submission the task takes: the fields its form lets a person fill in.

    Declared fields a submission may not change are left out, as a form shows them without them
    being input: `readOnly` ones, and control variables unless `may_set_control` (the starter
    completing a task with the start form)."""
    writable = writable_fields(schema) if schema is not None else frozenset()
    return {
        name: value
        for name, value in data.items()
        if name in writable and (may_set_control or not is_control_variable(name))
    }
