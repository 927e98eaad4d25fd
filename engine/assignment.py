"""Who holds a user task: claiming, giving back and assigning, each with its audit row in the same
transaction. Whether the person may do it (offered to them, a lead, not excluded) is the caller's check;
these change the task only if it still has the assignee the caller saw (else Conflict)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.errors import Conflict
from storage.notifications import add_notification_rows, task_assigned_row
from storage.tasks import set_assignee

from .runtime import task_target


def claim_task(session: Session, *, task_id: uuid.UUID, actor: str) -> None:
    """`actor` takes the unclaimed task."""
    if not set_assignee(session, task_id=task_id, username=actor, expected=None):
        raise Conflict(f"task {task_id} was just claimed by someone else")
    audit.record(session, "task.claim", actor=actor, target=task_target(task_id))


def unclaim_task(session: Session, *, task_id: uuid.UUID, assignee: str, actor: str) -> None:
    """The task goes back to its candidates from `assignee` (by them, or by a lead)."""
    if not set_assignee(session, task_id=task_id, username=None, expected=assignee):
        raise Conflict(f"task {task_id} changed hands meanwhile; reload it")
    audit.record(
        session,
        "task.unclaim",
        actor=actor,
        target=task_target(task_id),
        detail={"from": assignee} if assignee != actor else None,
    )


def assign_task(session: Session, *, task: dict, assignee: str, actor: str, not_a_candidate: bool = False) -> None:
    """`task` (an inbox row) goes to `assignee`, who is told unless they assigned it to themselves or
    already held it. `not_a_candidate`: an admin gave it to someone it was not offered to (the row says so)."""
    if not set_assignee(session, task_id=task["id"], username=assignee, expected=task["assignee"]):
        raise Conflict(f"task {task['id']} changed hands meanwhile; reload it")
    if assignee != actor and assignee != task["assignee"]:
        add_notification_rows(
            session,
            [
                task_assigned_row(
                    task_id=task["id"],
                    task_name=task["name"],
                    process_key=task["process_key"],
                    instance_id=task["instance_id"],
                    assignee=assignee,
                    now=clock.now(),
                )
            ],
        )
    audit.record(
        session,
        "task.assign",
        actor=actor,
        target=task_target(task["id"]),
        detail={
            "assignee": assignee,
            **({"from": task["assignee"]} if task["assignee"] else {}),
            **({"not_a_candidate": True} if not_a_candidate else {}),
        },
    )
