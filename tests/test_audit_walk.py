"""Every change is audited, wherever it comes from: a walk over every state-changing API endpoint, every
command of the CLI, every registered BPMN handler, and the timers and the scheduler, each called in a
realistic scenario and its audit row found (action, actor, target) among the rows that call wrote.

The lists are enumerated, not written down: an endpoint (POST/PUT/PATCH/DELETE under /api), a
command or a handler added without a case here fails `test_*_has_a_case`. Read-only ones are listed with
the reason they change nothing."""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from atrium import audit, surveys
from atrium.cli import build_parser, main
from atrium.clock import now as clock_now
from atrium.health import daily_health
from atrium.settings import PROJECT_ROOT
from atrium.surveys import start_due_nps_surveys
from engine.handlers import register_all
from engine.scheduler import fire_due_timers
from engine.services import ServiceRegistry
from reports.scheduling import fire_due_schedules, run_pending_reports
from storage.audit import AuditEntry
from storage.notifications import Notification, add_notification
from storage.surveys import Survey
from storage.tasks import open_tasks

from .api_helpers import caller, client_body, deploy_firm_processes, deploy_via_api, make_app, password_for
from .conftest import source_files

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
RECORD_KINDS = {  # api/client_records.py: URL path -> audit label, and a body to create one
    "contacts": ("contact", {"name": "Li Wei"}),
    "engagements": ("engagement", {"service_type": "audit"}),
    "follow-ups": ("follow_up", {"channel": "visit"}),
    "service-requests": ("service_request", {"title": "VAT question", "content": "Can we appeal the penalty?"}),
    "complaints": ("complaint", {"description": "Invoice sent twice"}),
    "feedback": ("feedback", {"csat": 4}),
}
RECORD_UPDATES = {
    "contacts": {"name": "Li Wei (CFO)"},
    "engagements": {"service_type": "tax"},
    "follow-ups": {"channel": "call"},
    "service-requests": {"title": "VAT penalty appeal"},
    "complaints": {"description": "Invoice sent three times"},
    "feedback": {"csat": 5},
}


def audit_rows_after(app, mark: int) -> list[dict]:
    with app.extensions["atrium.engine"].transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.id > mark).order_by(AuditEntry.id)).all()
        return [
            {"actor": r.actor, "action": r.action, "target": r.target, "outcome": r.outcome, "detail": r.detail}
            for r in rows
        ]


def audit_mark(app) -> int:
    with app.extensions["atrium.engine"].transaction() as session:
        return session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))


def _matches(row: dict, action: str, actor: str, target) -> bool:
    if row["action"] != action or row["actor"] != actor or row["outcome"] != "success":
        return False
    return target(row["target"]) if callable(target) else row["target"] == target


def record_target(client_id, path: str, record_id):
    """A client record's target: under its client (client:1/contacts/2), or its own kind (contact:2)."""
    label = RECORD_KINDS[path][0]
    return lambda target: target in (f"client:{client_id}/{path}/{record_id}", f"{label}:{record_id}")


# The API -----------------------------------------------------------------------------------


@dataclass
class Walk:
    """People to act and the calls they make, each checked for its audit row."""

    app: object
    people: dict = field(default_factory=dict)

    def __post_init__(self):
        self.client = self.app.test_client()
        for name in ("admin", "partner", "manager", "account_manager", "service_desk", "viewer"):
            self.people[name] = caller(self.client, name)

    def call(
        self,
        who: str,
        method: str,
        rule: str,
        url: str,
        *,
        action: str,
        target,
        actor: str | None = None,
        person=None,
        **kw,
    ):
        """`who` calls `url` (which must be `method rule`): it succeeds and writes a row with action, actor
        (`who` unless given) and target (a string, or a predicate)."""
        matched, _ = self.app.url_map.bind("localhost").match(url.split("?")[0], method=method, return_rule=True)
        assert matched.rule == rule, (url, matched.rule)
        mark = audit_mark(self.app)
        person = person or self.people[who]
        response = getattr(person, method.lower())(url, **kw)
        assert response.status_code < 400, (method, url, response.status_code, response.get_data(as_text=True))
        rows = audit_rows_after(self.app, mark)
        assert any(_matches(row, action, actor or who, target) for row in rows), (
            f"{method} {rule}: no audit row ({action}, {actor or who}, {target}) among {rows}"
        )
        return response

    # Scenario pieces (their own rows are not what a case checks).
    def deploy(self, *names: str):
        made = deploy_via_api(self.people["admin"], *names)
        assert made.status_code == 201, made.json
        return made.json

    def start(self, who: str, key: str, **body) -> dict:
        made = self.people[who].post("/api/process-instances", json={"process_key": key, **body})
        assert made.status_code == 201, made.json
        return made.json

    def deploy_firm(self) -> None:
        deploy_firm_processes(self.people["admin"])

    def intake_task(self) -> dict:
        """An open intake task of two_tasks, offered to the service desk."""
        self.deploy("two_tasks.bpmn", "intake-schema.json")
        return self.start("account_manager", "two_tasks", variables={"urgency": 5})["open_tasks"][0]

    def new_client(self, **fields) -> dict:
        made = self.people["partner"].post("/api/clients", json=client_body(owner="account_manager", **fields))
        assert made.status_code == 201, made.json
        return made.json

    def record(self, client_id: int, path: str) -> dict:
        made = self.people["service_desk"].post(f"/api/clients/{client_id}/{path}", json=RECORD_KINDS[path][1])
        assert made.status_code == 201, made.json
        return made.json


CASES: dict[tuple[str, str], Callable[[Walk], None]] = {}


def case(method: str, rule: str):
    def register(fn):
        CASES[(method, rule)] = fn
        return fn

    return register


# Accounts and sessions
@case("POST", "/api/accounts")
def _(w):
    w.call(
        "admin",
        "POST",
        "/api/accounts",
        "/api/accounts",
        action="account.create",
        target="account:lin",
        json={"username": "lin", "password": password_for("lin"), "roles": ["partner"], "groups": ["tax"]},
    )


@case("POST", "/api/accounts/<username>/deactivate")
def _(w):
    w.call(
        "admin",
        "POST",
        "/api/accounts/<username>/deactivate",
        "/api/accounts/viewer/deactivate",
        action="account.deactivate",
        target="account:viewer",
    )


@case("POST", "/api/accounts/<username>/password-reset")
def _(w):
    w.call(
        "admin",
        "POST",
        "/api/accounts/<username>/password-reset",
        "/api/accounts/viewer/password-reset",
        action="account.password.reset",
        target="account:viewer",
        json={},
    )


@case("PUT", "/api/accounts/<username>/roles")
def _(w):
    w.call(
        "admin",
        "PUT",
        "/api/accounts/<username>/roles",
        "/api/accounts/viewer/roles",
        action="account.roles",
        target="account:viewer",
        json={"roles": ["viewer", "service_desk"]},
    )


@case("POST", "/api/auth/token")
def _(w):
    w.call(
        "viewer",
        "POST",
        "/api/auth/token",
        "/api/auth/token",
        action="login",
        target="account:viewer",
        person=w.client,
        json={"username": "viewer", "password": password_for("viewer")},
    )


@case("POST", "/api/auth/revoke")
def _(w):
    w.call("viewer", "POST", "/api/auth/revoke", "/api/auth/revoke", action="logout", target="account:viewer")


# Integration accounts (machine clients) and their keys
def _integration(w, name: str = "kingdee") -> dict:
    made = w.people["admin"].post("/api/integration-accounts", json={"name": name, "scopes": ["events:read"]})
    assert made.status_code == 201, made.json
    return made.json


@case("POST", "/api/integration-accounts")
def _(w):
    w.call(
        "admin",
        "POST",
        "/api/integration-accounts",
        "/api/integration-accounts",
        action="integration.create",
        target="integration:kingdee",
        json={"name": "kingdee", "scopes": ["events:read", "invoices:write"]},
        headers={"Idempotency-Key": "walk-1"},
    )


@case("PATCH", "/api/integration-accounts/<name>")
def _(w):
    _integration(w)
    w.call(
        "admin",
        "PATCH",
        "/api/integration-accounts/<name>",
        "/api/integration-accounts/kingdee",
        action="integration.update",
        target="integration:kingdee",
        json={"scopes": ["events:read", "payments:write"], "active": False},
    )


@case("POST", "/api/integration-accounts/<name>/keys")
def _(w):
    _integration(w)
    w.call(
        "admin",
        "POST",
        "/api/integration-accounts/<name>/keys",
        "/api/integration-accounts/kingdee/keys",
        action="integration.key.create",
        target="integration:kingdee",
        json={},
    )


@case("DELETE", "/api/integration-accounts/<name>/keys/<id:key_id>")
def _(w):
    key = _integration(w)["key"]
    w.call(
        "admin",
        "DELETE",
        "/api/integration-accounts/<name>/keys/<id:key_id>",
        f"/api/integration-accounts/kingdee/keys/{key['id']}",
        action="integration.key.revoke",
        target="integration:kingdee",
    )


@case("POST", "/api/auth/session")
def _(w):
    w.call(
        "viewer",
        "POST",
        "/api/auth/session",
        "/api/auth/session",
        action="login",
        target="account:viewer",
        person=w.client,
        json={"username": "viewer", "password": password_for("viewer")},
    )


@case("DELETE", "/api/auth/session")
def _(w):
    opened = w.client.post("/api/auth/session", json={"username": "viewer", "password": password_for("viewer")})
    w.call(
        "viewer",
        "DELETE",
        "/api/auth/session",
        "/api/auth/session",
        action="logout",
        target="account:viewer",
        person=w.client,
        headers={"X-CSRF-Token": opened.json["csrf_token"]},
    )


@case("PATCH", "/api/me")
def _(w):
    w.call(
        "viewer",
        "PATCH",
        "/api/me",
        "/api/me",
        action="account.locale",
        target="account:viewer",
        json={"locale": "zh-CN"},
    )


@case("POST", "/api/me/password")
def _(w):
    w.call(
        "viewer",
        "POST",
        "/api/me/password",
        "/api/me/password",
        action="account.password.change",
        target="account:viewer",
        json={"current_password": password_for("viewer"), "new_password": "a-much-longer-new-passphrase-7"},
    )


def _totp_code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(int(clock_now().timestamp()) + 30 * steps)


def _enrolled(w, who: str) -> str:
    """`who` with a second factor on; its secret."""
    secret = w.people[who].post("/api/me/totp").json["secret"]
    assert w.people[who].post("/api/me/totp/confirm", json={"code": _totp_code(secret)}).status_code == 200
    return secret


@case("POST", "/api/me/totp")
def _(w):
    w.call("viewer", "POST", "/api/me/totp", "/api/me/totp", action="account.totp.enrolment", target="account:viewer")


@case("POST", "/api/me/totp/confirm")
def _(w):
    secret = w.people["viewer"].post("/api/me/totp").json["secret"]
    w.call(
        "viewer",
        "POST",
        "/api/me/totp/confirm",
        "/api/me/totp/confirm",
        action="account.totp.enable",
        target="account:viewer",
        json={"code": _totp_code(secret)},
    )


@case("DELETE", "/api/me/totp")
def _(w):
    secret = _enrolled(w, "viewer")
    w.call(
        "viewer",
        "DELETE",
        "/api/me/totp",
        "/api/me/totp",
        action="account.totp.disable",
        target="account:viewer",
        json={"password": password_for("viewer"), "code": _totp_code(secret, 1)},
    )


@case("POST", "/api/me/totp/recovery-codes")
def _(w):
    secret = _enrolled(w, "viewer")
    w.call(
        "viewer",
        "POST",
        "/api/me/totp/recovery-codes",
        "/api/me/totp/recovery-codes",
        action="account.totp.recovery_codes",
        target="account:viewer",
        json={"password": password_for("viewer"), "code": _totp_code(secret, 1)},
    )


@case("POST", "/api/accounts/<username>/totp-reset")
def _(w):
    _enrolled(w, "viewer")
    w.call(
        "admin",
        "POST",
        "/api/accounts/<username>/totp-reset",
        "/api/accounts/viewer/totp-reset",
        action="account.totp.reset",
        target="account:viewer",
    )


def _a_notification(w, recipient: str) -> int:
    with w.app.extensions["atrium.engine"].transaction() as session:
        note = add_notification(
            session,
            kind="outcome",
            recipient=recipient,
            email=None,
            subject="Your request",
            body="Approved.",
            now=clock_now(),
        )
        session.flush()
        return note.id


@case("POST", "/api/me/notifications/<id:notification_id>/read")
def _(w):
    note = _a_notification(w, "viewer")
    w.call(
        "viewer",
        "POST",
        "/api/me/notifications/<id:notification_id>/read",
        f"/api/me/notifications/{note}/read",
        action="notification.read",
        target=f"notification:{note}",
    )


@case("POST", "/api/me/notifications/read-all")
def _(w):
    _a_notification(w, "viewer")
    _a_notification(w, "viewer")
    response = w.call(
        "viewer",
        "POST",
        "/api/me/notifications/read-all",
        "/api/me/notifications/read-all",
        action="notification.read_all",
        target="account:viewer",
    )
    assert response.status_code == 204


# Processes
@case("POST", "/api/deployments")
def _(w):
    files = [(io.BytesIO(f.content), f.name) for f in source_files("two_tasks.bpmn", "intake-schema.json")]
    w.call(
        "admin",
        "POST",
        "/api/deployments",
        "/api/deployments",
        action="deployment.create",
        target=lambda t: t.startswith("deployment:") and "two_tasks.bpmn" in t,
        data={"files": files},
        content_type="multipart/form-data",
    )


@case("POST", "/api/process-instances")
def _(w):
    w.deploy("two_tasks.bpmn", "intake-schema.json")
    started = w.call(
        "account_manager",
        "POST",
        "/api/process-instances",
        "/api/process-instances",
        action="instance.start",
        target=lambda t: t.startswith("instance:"),
        json={"process_key": "two_tasks", "variables": {"urgency": 5}, "business_key": "REQ-1"},
    )
    row = [r for r in audit_rows_after(w.app, 0) if r["action"] == "instance.start"][-1]
    assert row["target"] == f"instance:{started.json['id']}"
    assert row["detail"]["process_key"] == "two_tasks" and row["detail"]["version"] == 1
    assert row["detail"]["business_key"] == "REQ-1"


@case("POST", "/api/process-instances/<uuid:instance_id>/cancel")
def _(w):
    instance = w.deploy("two_tasks.bpmn", "intake-schema.json") and w.start("manager", "two_tasks")
    w.call(
        "manager",
        "POST",
        "/api/process-instances/<uuid:instance_id>/cancel",
        f"/api/process-instances/{instance['id']}/cancel",
        action="instance.cancel",
        target=f"instance:{instance['id']}",
    )


@case("POST", "/api/process-instances/<uuid:instance_id>/retry")
def _(w):
    w.deploy("fragile.bpmn")
    engine = w.app.extensions["atrium.engine"]
    with engine.transaction() as session:
        instance = engine.start_instance(
            session, process_key="fragile_script", variables={"total": 10, "parts": 0, "spin": False}, actor="manager"
        )
        [task] = open_tasks(session, instance_id=instance.id)
    with engine.transaction() as session:
        assert engine.complete_task(session, task_id=task.id, data={}, actor="manager").status == "error"
    w.call(
        "manager",
        "POST",
        "/api/process-instances/<uuid:instance_id>/retry",
        f"/api/process-instances/{instance.id}/retry",
        action="instance.retry",
        target=f"instance:{instance.id}",
    )


@case("POST", "/api/messages")
def _(w):
    w.deploy("messages.bpmn")
    order = w.start("manager", "order_flow", business_key="ORD-1")
    w.call(
        "manager",
        "POST",
        "/api/messages",
        "/api/messages",
        action="message.send",
        target="message:payment_received",
        json={"name": "payment_received", "correlation_keys": {"business_key": "ORD-1"}, "payload": {"paid": 5}},
    )
    row = [r for r in audit_rows_after(w.app, 0) if r["action"] == "message.send"][-1]
    assert row["detail"]["reached"] == [order["id"]] and "paid" not in json.dumps(row["detail"])


@case("POST", "/api/tasks/<uuid:task_id>/claim")
def _(w):
    task = w.intake_task()
    w.call(
        "service_desk",
        "POST",
        "/api/tasks/<uuid:task_id>/claim",
        f"/api/tasks/{task['id']}/claim",
        action="task.claim",
        target=f"task:{task['id']}",
    )


@case("POST", "/api/tasks/<uuid:task_id>/unclaim")
def _(w):
    task = w.intake_task()
    assert w.people["service_desk"].post(f"/api/tasks/{task['id']}/claim").status_code == 200
    w.call(
        "service_desk",
        "POST",
        "/api/tasks/<uuid:task_id>/unclaim",
        f"/api/tasks/{task['id']}/unclaim",
        action="task.unclaim",
        target=f"task:{task['id']}",
    )


@case("POST", "/api/tasks/<uuid:task_id>/assign")
def _(w):
    task = w.intake_task()
    w.call(
        "admin",
        "POST",
        "/api/tasks/<uuid:task_id>/assign",
        f"/api/tasks/{task['id']}/assign",
        action="task.assign",
        target=f"task:{task['id']}",
        json={"username": "service_desk"},
    )


@case("POST", "/api/tasks/<uuid:task_id>/complete")
def _(w):
    task = w.intake_task()
    w.call(
        "service_desk",
        "POST",
        "/api/tasks/<uuid:task_id>/complete",
        f"/api/tasks/{task['id']}/complete",
        action="task.complete",
        target=f"task:{task['id']}",
        json={"data": {"amount": 70}},
    )
    row = [r for r in audit_rows_after(w.app, 0) if r["action"] == "task.complete"][-1]
    # The fields' names, not their values.
    assert row["detail"] == {
        "instance": task["instance_id"],
        "process_key": "two_tasks",
        "element_id": "intake",
        "fields": ["amount"],
    }


# The firm's own records
@case("POST", "/api/employees")
def _(w):
    w.call(
        "admin",
        "POST",
        "/api/employees",
        "/api/employees",
        action="employee.create",
        target=lambda t: t.startswith("employee:"),
        json={"name": "Dana Desk", "username": "service_desk", "manager": "manager", "phone": "+44 1"},
    )
    row = [r for r in audit_rows_after(w.app, 0) if r["action"] == "employee.create"][-1]
    assert row["detail"]["changes"]["phone"] == "changed" and "Dana" not in json.dumps(row["detail"])


@case("PATCH", "/api/employees/<id:employee_id>")
def _(w):
    made = w.people["admin"].post("/api/employees", json={"name": "Dana Desk", "position": "Desk"}).json
    w.call(
        "admin",
        "PATCH",
        "/api/employees/<id:employee_id>",
        f"/api/employees/{made['id']}",
        action="employee.update",
        target=f"employee:{made['id']}",
        json={"position": "Desk lead"},
    )
    row = [r for r in audit_rows_after(w.app, 0) if r["action"] == "employee.update"][-1]
    assert row["detail"]["changes"] == {"position": ["Desk", "Desk lead"]}


@case("POST", "/api/knowledge-articles")
def _(w):
    w.call(
        "service_desk",
        "POST",
        "/api/knowledge-articles",
        "/api/knowledge-articles",
        action="knowledge.create",
        target=lambda t: t.startswith("knowledge:"),
        json={"title": "VAT deadlines", "body": "When each is due."},
    )


def _article(w) -> int:
    made = w.people["service_desk"].post("/api/knowledge-articles", json={"title": "VAT", "body": "Due dates."})
    assert made.status_code == 201, made.json
    return made.json["id"]


@case("PATCH", "/api/knowledge-articles/<id:article_id>")
def _(w):
    article = _article(w)
    w.call(
        "service_desk",
        "PATCH",
        "/api/knowledge-articles/<id:article_id>",
        f"/api/knowledge-articles/{article}",
        action="knowledge.update",
        target=f"knowledge:{article}",
        json={"title": "VAT deadlines"},
    )


@case("DELETE", "/api/knowledge-articles/<id:article_id>")
def _(w):
    article = _article(w)
    w.call(
        "service_desk",
        "DELETE",
        "/api/knowledge-articles/<id:article_id>",
        f"/api/knowledge-articles/{article}",
        action="knowledge.delete",
        target=f"knowledge:{article}",
    )


@case("PUT", "/api/settings/client-custom-fields")
def _(w):
    w.call(
        "admin",
        "PUT",
        "/api/settings/client-custom-fields",
        "/api/settings/client-custom-fields",
        action="settings.client_custom_fields",
        target="settings:client_custom_fields_schema",
        json={"schema": {"type": "object", "properties": {"vat_number": {"type": "string"}}}},
    )


_SCHEDULE = {
    "report": "complaints",
    "cron": "0 7 1 * *",
    "timezone": "Asia/Shanghai",
    "period": "previous_month",
    "recipients": ["partner"],
}


@case("POST", "/api/report-schedules")
def _(w):
    w.call(
        "manager",
        "POST",
        "/api/report-schedules",
        "/api/report-schedules",
        action="report_schedule.create",
        target=lambda t: t.startswith("report_schedule:"),
        json=_SCHEDULE,
    )


@case("DELETE", "/api/report-schedules/<int:schedule_id>")
def _(w):
    made = w.people["manager"].post("/api/report-schedules", json=_SCHEDULE).json
    w.call(
        "manager",
        "DELETE",
        "/api/report-schedules/<int:schedule_id>",
        f"/api/report-schedules/{made['id']}",
        action="report_schedule.delete",
        target=f"report_schedule:{made['id']}",
    )


# Clients and their records (owned elsewhere)
@case("POST", "/api/clients")
def _(w):
    w.call(
        "partner",
        "POST",
        "/api/clients",
        "/api/clients",
        action="client.create",
        target=lambda t: re.fullmatch(r"client:\d+", t or "") is not None,
        json=client_body(owner="account_manager"),
    )


@case("PATCH", "/api/clients/<id:client_id>")
def _(w):
    made = w.new_client()
    w.call(
        "partner",
        "PATCH",
        "/api/clients/<id:client_id>",
        f"/api/clients/{made['id']}",
        action="client.update",
        target=f"client:{made['id']}",
        json={"tier": "B"},
    )


@case("DELETE", "/api/clients/<id:client_id>")
def _(w):
    made = w.new_client()
    w.call(
        "partner",
        "DELETE",
        "/api/clients/<id:client_id>",
        f"/api/clients/{made['id']}",
        action="client.delete",
        target=f"client:{made['id']}",
    )


@case("POST", "/api/clients/<id:client_id>/restore")
def _(w):
    made = w.new_client()
    assert w.people["partner"].delete(f"/api/clients/{made['id']}").status_code == 204
    w.call(
        "admin",
        "POST",
        "/api/clients/<id:client_id>/restore",
        f"/api/clients/{made['id']}/restore",
        action="client.restore",
        target=f"client:{made['id']}",
    )


ERASE_REASON = {"reason": "The client asked to be forgotten (walk)."}


def _second_admin(w):
    from .factories import make_account

    make_account(w.people["admin"], "admin2", roles=["admin"])
    return caller(w.client, "admin2")


@case("POST", "/api/clients/<id:client_id>/erase")
def _(w):
    made = w.new_client(status="prospect")
    w.call(
        "admin",
        "POST",
        "/api/clients/<id:client_id>/erase",
        f"/api/clients/{made['id']}/erase",
        action="client.erase_request",
        target=f"client:{made['id']}",
        json=ERASE_REASON,
    )


@case("POST", "/api/erasures/<id:erasure_id>/confirm")
def _(w):
    made = w.new_client(status="prospect")
    asked = w.people["admin"].post(f"/api/clients/{made['id']}/erase", json=ERASE_REASON)
    assert asked.status_code == 202, asked.json
    w.call(
        "admin2",
        "POST",
        "/api/erasures/<id:erasure_id>/confirm",
        f"/api/erasures/{asked.json['id']}/confirm",
        action="client.erase",
        target=f"client:{made['id']}",
        person=_second_admin(w),
    )


@case("POST", "/api/erasures/<id:erasure_id>/withdraw")
def _(w):
    made = w.new_client(status="prospect")
    asked = w.people["admin"].post(f"/api/clients/{made['id']}/erase", json=ERASE_REASON)
    w.call(
        "admin",
        "POST",
        "/api/erasures/<id:erasure_id>/withdraw",
        f"/api/erasures/{asked.json['id']}/withdraw",
        action="client.erase_withdraw",
        target=f"client:{made['id']}",
    )


@case("POST", "/api/clients/<id:client_id>/merge")
def _(w):
    kept = w.new_client()
    dup = w.new_client(name="HL Group", confirm_duplicate=True)
    w.call(
        "partner",
        "POST",
        "/api/clients/<id:client_id>/merge",
        f"/api/clients/{kept['id']}/merge",
        action="client.merge",
        target=f"client:{kept['id']}",
        json={"from_client_id": dup["id"]},
    )


@case("POST", "/api/clients/<id:client_id>/reveal")
def _(w):
    made = w.new_client()
    w.call(
        "viewer",
        "POST",
        "/api/clients/<id:client_id>/reveal",
        f"/api/clients/{made['id']}/reveal",
        action="client.reveal",
        target=f"client:{made['id']}",
        json={"field": "phones", "reason": "the client asked us to call back"},
    )


@case("POST", "/api/clients/import")
def _(w):
    content = "name,phones,owner\nNorthwind Architects,020 7946 0001,account_manager\n".encode()
    w.call(
        "manager",
        "POST",
        "/api/clients/import",
        "/api/clients/import",
        action="client.import",
        target=lambda t: (t or "").startswith("client"),
        data={"file": (io.BytesIO(content), "clients.csv")},
        content_type="multipart/form-data",
    )


def _record_cases(path: str) -> None:
    label, body = RECORD_KINDS[path]
    collection, item = f"/api/clients/<id:client_id>/{path}", f"/api/clients/<id:client_id>/{path}/<id:record_id>"

    @case("POST", collection)
    def create(w):
        w.deploy_firm()
        client = w.new_client()
        made = w.call(
            "service_desk",
            "POST",
            collection,
            f"/api/clients/{client['id']}/{path}",
            action=f"{label}.create",
            target=lambda t: (t or "").startswith(f"client:{client['id']}") or (t or "").startswith(f"{label}:"),
            json=body,
        )
        assert made.status_code == 201

    @case("PATCH", item)
    def update(w):
        w.deploy_firm()
        client = w.new_client()
        record = w.record(client["id"], path)
        w.call(
            "partner",
            "PATCH",
            item,
            f"/api/clients/{client['id']}/{path}/{record['id']}",
            action=f"{label}.update",
            target=record_target(client["id"], path, record["id"]),
            json=RECORD_UPDATES[path],
        )

    @case("DELETE", item)
    def delete(w):
        w.deploy_firm()
        client = w.new_client()
        record = w.record(client["id"], path)
        if record.get("instance_id"):  # a record whose process still runs is kept: its process is cancelled first
            cancelled = w.people["admin"].post(f"/api/process-instances/{record['instance_id']}/cancel")
            assert cancelled.status_code == 200, cancelled.json
        w.call(
            "admin",
            "DELETE",
            item,
            f"/api/clients/{client['id']}/{path}/{record['id']}",
            action=f"{label}.delete",
            target=record_target(client["id"], path, record["id"]),
        )


for _path in RECORD_KINDS:
    _record_cases(_path)


# Relationship care (api/care.py)
_FOUNDED = {"kind": "founding_anniversary", "calendar": "lunar", "month": 2, "day": 2, "year": 1998}


@case("POST", "/api/clients/<id:client_id>/care-dates")
def _(w):
    client = w.new_client()
    w.call(
        "account_manager",
        "POST",
        "/api/clients/<id:client_id>/care-dates",
        f"/api/clients/{client['id']}/care-dates",
        action="care_date.create",
        target=lambda t: (t or "").startswith(f"client:{client['id']}/care-dates/"),
        json=_FOUNDED,
    )


@case("DELETE", "/api/clients/<id:client_id>/care-dates/<id:care_date_id>")
def _(w):
    client = w.new_client()
    made = w.people["account_manager"].post(f"/api/clients/{client['id']}/care-dates", json=_FOUNDED)
    assert made.status_code == 201, made.json
    w.call(
        "account_manager",
        "DELETE",
        "/api/clients/<id:client_id>/care-dates/<id:care_date_id>",
        f"/api/clients/{client['id']}/care-dates/{made.json['id']}",
        action="care_date.delete",
        target=f"client:{client['id']}/care-dates/{made.json['id']}",
    )


@case("PUT", "/api/settings/care")
def _(w):
    w.deploy_firm()
    w.new_client(status="active")  # switching care on starts its care cycle
    settings = w.people["admin"].get("/api/settings/care").json
    w.call(
        "admin",
        "PUT",
        "/api/settings/care",
        "/api/settings/care",
        action="settings.care",
        target="settings:care",
        json={**settings, "enabled": True, "holidays": ["spring_festival"]},
    )
    row = [r for r in audit_rows_after(w.app, 0) if r["action"] == "settings.care"][-1]
    assert row["detail"]["care_cycles"], row


@case("POST", "/api/care-campaigns")
def _(w):
    w.deploy_firm()
    w.new_client(tier="A")
    w.call(
        "manager",
        "POST",
        "/api/care-campaigns",
        "/api/care-campaigns",
        action="care.campaign",
        target="care-campaign:New Year 2026",
        json={"name": "New Year 2026", "filter": {"tier": "A"}, "template": "spring_festival", "mode": "tasks"},
    )


# Opt-outs (api/opt_outs.py)
@case("POST", "/api/clients/<id:client_id>/opt-outs")
def _(w):
    client = w.new_client()
    w.call(
        "account_manager",
        "POST",
        "/api/clients/<id:client_id>/opt-outs",
        f"/api/clients/{client['id']}/opt-outs",
        action="opt_out.create",
        target=f"client:{client['id']}",
        json={"topic": "surveys"},
    )


@case("DELETE", "/api/clients/<id:client_id>/opt-outs/<id:opt_out_id>")
def _(w):
    client = w.new_client()
    made = w.people["account_manager"].post(f"/api/clients/{client['id']}/opt-outs", json={"topic": "care_mail"})
    assert made.status_code == 201, made.json
    w.call(
        "account_manager",
        "DELETE",
        "/api/clients/<id:client_id>/opt-outs/<id:opt_out_id>",
        f"/api/clients/{client['id']}/opt-outs/{made.json['id']}",
        action="opt_out.delete",
        target=f"client:{client['id']}",
    )


# Surveys answered through their link (api/public_surveys.py): nobody is logged in; the one acting is the
# survey's contact, `survey:{id}` (atrium.surveys.actor_of).
def _survey_link(w) -> tuple[int, int, str]:
    """An active client whose contact was mailed an NPS survey by the survey process: the client's id, the
    survey's id and the token of the link in the mail."""
    w.deploy_firm()
    client = w.new_client(status="active")
    contact = w.people["account_manager"].post(
        f"/api/clients/{client['id']}/contacts", json={"name": "Li Wei", "emails": ["li.wei@example.com"]}
    )
    assert contact.status_code == 201, contact.json
    engine = w.app.extensions["atrium.engine"]
    with engine.transaction() as session:
        assert surveys.start_survey(engine, session, client_id=client["id"], form_key=surveys.NPS_FORM, actor=None)
    with engine.transaction() as session:
        survey = session.scalars(select(Survey).where(Survey.client_id == client["id"])).one()
        mail = session.scalars(select(Notification).where(Notification.kind == "survey")).one()
        return client["id"], survey.id, re.search(r"/survey/(\S+)", mail.body).group(1)


@case("POST", "/api/public/surveys/<string:token>")
def _(w):
    client_id, survey_id, token = _survey_link(w)
    w.call(
        f"survey:{survey_id}",
        "POST",
        "/api/public/surveys/<string:token>",
        f"/api/public/surveys/{token}",
        action="survey.answer",
        target=f"client:{client_id}/surveys/{survey_id}",
        person=w.app.test_client(),
        json={"answers": {"nps": 9, "comment": "Quick and clear"}},
    )


@case("POST", "/api/public/surveys/<string:token>/opt-out")
def _(w):
    client_id, survey_id, token = _survey_link(w)
    w.call(
        f"survey:{survey_id}",
        "POST",
        "/api/public/surveys/<string:token>/opt-out",
        f"/api/public/surveys/{token}/opt-out",
        action="opt_out.create",
        target=f"client:{client_id}",
        person=w.app.test_client(),
        json={"care_mail": True},
    )


# Webhooks (api/webhooks.py) ---------------------------------------------------------------------------
_HOOK = {"url": "https://8.8.8.8/hook", "event_types": ["*"]}  # a public address: no DNS asked


def _webhook(w) -> int:
    made = w.people["admin"].post("/api/webhooks", json=_HOOK)
    assert made.status_code == 201, made.json
    return made.json["id"]


def _dead_delivery(w, subscription_id: int) -> int:
    """A delivery of the subscription, made dead by hand (the walk does not POST anywhere)."""
    from atrium import webhooks
    from storage.webhooks import WebhookDelivery

    w.new_client()
    engine = w.app.extensions["atrium.engine"]
    webhooks.fan_out(engine)
    with engine.transaction() as session:
        delivery = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        ).first()
        delivery.status = "dead"
        return delivery.id


@case("POST", "/api/webhooks")
def _(w):
    w.call(
        "admin",
        "POST",
        "/api/webhooks",
        "/api/webhooks",
        action="webhook.create",
        target=lambda t: (t or "").startswith("webhook:"),
        json=_HOOK,
    )


@case("PATCH", "/api/webhooks/<id:subscription_id>")
def _(w):
    sid = _webhook(w)
    rule = "/api/webhooks/<id:subscription_id>"
    w.call(
        "admin",
        "PATCH",
        rule,
        f"/api/webhooks/{sid}",
        action="webhook.update",
        target=f"webhook:{sid}",
        json={"active": False},
    )


@case("DELETE", "/api/webhooks/<id:subscription_id>")
def _(w):
    sid = _webhook(w)
    rule = "/api/webhooks/<id:subscription_id>"
    w.call("admin", "DELETE", rule, f"/api/webhooks/{sid}", action="webhook.delete", target=f"webhook:{sid}")


@case("POST", "/api/webhooks/<id:subscription_id>/rotate-secret")
def _(w):
    sid = _webhook(w)
    rule = "/api/webhooks/<id:subscription_id>/rotate-secret"
    w.call(
        "admin",
        "POST",
        rule,
        f"/api/webhooks/{sid}/rotate-secret",
        action="webhook.rotate_secret",
        target=f"webhook:{sid}",
    )


@case("POST", "/api/webhooks/<id:subscription_id>/deliveries/<id:delivery_id>/resend")
def _(w):
    sid = _webhook(w)
    did = _dead_delivery(w, sid)
    rule = "/api/webhooks/<id:subscription_id>/deliveries/<id:delivery_id>/resend"
    url = f"/api/webhooks/{sid}/deliveries/{did}/resend"
    w.call("admin", "POST", rule, url, action="webhook.resend", target=f"webhook:{sid}/deliveries/{did}")


@case("POST", "/api/webhooks/<id:subscription_id>/deliveries/<id:delivery_id>/skip")
def _(w):
    sid = _webhook(w)
    did = _dead_delivery(w, sid)
    rule = "/api/webhooks/<id:subscription_id>/deliveries/<id:delivery_id>/skip"
    url = f"/api/webhooks/{sid}/deliveries/{did}/skip"
    w.call("admin", "POST", rule, url, action="webhook.skip", target=f"webhook:{sid}/deliveries/{did}")


@case("POST", "/api/webhooks/<id:subscription_id>/deliveries/resend-dead")
def _(w):
    sid = _webhook(w)
    _dead_delivery(w, sid)
    rule = "/api/webhooks/<id:subscription_id>/deliveries/resend-dead"
    w.call(
        "admin",
        "POST",
        rule,
        f"/api/webhooks/{sid}/deliveries/resend-dead",
        action="webhook.resend_dead",
        target=f"webhook:{sid}",
    )


# Billing (api/billing.py)
def _engagement(w, **fields) -> dict:
    client = w.new_client()
    body = {"service_type": "Annual audit", "status": "active", "fee_basis": "hourly", "fee_amount": "500.00"}
    made = w.people["partner"].post(f"/api/clients/{client['id']}/engagements", json={**body, **fields})
    assert made.status_code == 201, made.json
    return made.json


def _time(w, engagement, hours="2.00") -> dict:
    made = w.people["account_manager"].post(
        f"/api/engagements/{engagement['id']}/time-entries", json={"work_date": "2026-01-05", "hours": hours}
    )
    assert made.status_code == 201, made.json
    return made.json


def _invoice(w, engagement, number="INV-W-1") -> dict:
    body = {
        "number": number,
        "engagement_id": engagement["id"],
        "currency": "CNY",
        "net_amount": "100.00",
        "tax_amount": "6.00",
        "total_amount": "106.00",
        "issue_date": "2026-01-05",
        "due_date": "2026-02-04",
    }
    made = w.people["admin"].post("/api/invoices", json=body)
    assert made.status_code == 201, made.json
    return made.json


@case("POST", "/api/engagements/<id:engagement_id>/time-entries")
def _(w):
    engagement = _engagement(w)
    w.call(
        "account_manager",
        "POST",
        "/api/engagements/<id:engagement_id>/time-entries",
        f"/api/engagements/{engagement['id']}/time-entries",
        action="time_entry.create",
        target=lambda t: t.startswith(f"client:{engagement['client_id']}/time-entries/"),
        json={"work_date": "2026-01-05", "hours": "1.50"},
    )


@case("DELETE", "/api/engagements/<id:engagement_id>/time-entries/<id:entry_id>")
def _(w):
    engagement = _engagement(w)
    entry = _time(w, engagement)
    w.call(
        "account_manager",
        "DELETE",
        "/api/engagements/<id:engagement_id>/time-entries/<id:entry_id>",
        f"/api/engagements/{engagement['id']}/time-entries/{entry['id']}",
        action="time_entry.void",
        target=f"client:{engagement['client_id']}/time-entries/{entry['id']}",
    )


@case("POST", "/api/engagements/<id:engagement_id>/invoice-requests")
def _(w):
    engagement = _engagement(w, responsible="partner")
    _time(w, engagement)
    w.call(
        "partner",
        "POST",
        "/api/engagements/<id:engagement_id>/invoice-requests",
        f"/api/engagements/{engagement['id']}/invoice-requests",
        action="invoice_request.create",
        target=lambda t: t.startswith(f"client:{engagement['client_id']}/invoice-requests/"),
        json={},
    )


@case("POST", "/api/invoices")
def _(w):
    engagement = _engagement(w)
    w.call(
        "admin",
        "POST",
        "/api/invoices",
        "/api/invoices",
        action="invoice.create",
        target=lambda t: t.startswith(f"client:{engagement['client_id']}/invoices/"),
        json={
            "number": "INV-W-2",
            "engagement_id": engagement["id"],
            "currency": "CNY",
            "net_amount": "100.00",
            "tax_amount": "0.00",
            "total_amount": "100.00",
            "issue_date": "2026-01-05",
            "due_date": "2026-02-04",
        },
    )


@case("POST", "/api/payments")
def _(w):
    engagement = _engagement(w)
    invoice = _invoice(w, engagement)
    w.call(
        "admin",
        "POST",
        "/api/payments",
        "/api/payments",
        action="payment.create",
        target=lambda t: t.startswith(f"client:{engagement['client_id']}/payments/"),
        json={"invoice_id": invoice["id"], "amount": "50.00", "paid_on": "2026-01-20"},
    )


@case("POST", "/api/invoices/<id:invoice_id>/follow-up")
def _(w):
    engagement = _engagement(w)
    invoice = _invoice(w, engagement)
    w.call(
        "account_manager",
        "POST",
        "/api/invoices/<id:invoice_id>/follow-up",
        f"/api/invoices/{invoice['id']}/follow-up",
        action="invoice.follow_up",
        target=f"client:{engagement['client_id']}/invoices/{invoice['id']}",
    )


def state_changing_endpoints(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api")
        for method in rule.methods & STATE_CHANGING
    }


@pytest.fixture
def walk(db, services, clock):
    services.register("ledger", lambda call: {"posted": call.params["amount"]})
    app = make_app(db, register_all(services))
    yield Walk(app)
    app.extensions["atrium.db"].dispose()


def test_every_state_changing_endpoint_has_a_case(app):
    endpoints = state_changing_endpoints(app)
    assert endpoints - CASES.keys() == set(), "add a case to tests/test_audit_walk.py for each new endpoint"
    assert CASES.keys() - endpoints == set(), "a case for an endpoint that no longer exists"


@pytest.mark.parametrize("endpoint", [pytest.param(key, id=f"{key[0]} {key[1]}") for key in sorted(CASES)])
def test_each_state_changing_endpoint_writes_its_audit_row(walk, endpoint):
    CASES[endpoint](walk)


def test_the_finance_reads_that_take_data_out_are_audited(walk):
    """The voucher export (finance.vouchers_export) and a client's billing read outside the reader's teams
    (client.read_other_team): GETs, so outside CASES, but data leaving the firm all the same."""
    walk.call(
        "partner",
        "GET",
        "/api/finance/vouchers",
        "/api/finance/vouchers?from=2026-01-01&to=2026-01-31&layout=kingdee&format=csv",
        action="finance.vouchers_export",
        target="vouchers",
    )
    client = walk.new_client()
    walk.call(
        "admin",
        "GET",
        "/api/clients/<id:client_id>/billing",
        f"/api/clients/{client['id']}/billing",
        action="client.read_other_team",
        target=f"client:{client['id']}",
    )


# Timers and the scheduler ----------------------------------------------------------------------


def test_timers_and_the_report_scheduler_write_rows_as_timer_and_scheduler(walk, clock):
    app, engine = walk.app, walk.app.extensions["atrium.engine"]
    walk.deploy("timers.bpmn", "fragile.bpmn", "start_timer.bpmn")
    waiting = walk.start("manager", "timers_demo", variables={"reminders": 0})
    mark = audit_mark(app)
    clock.advance(hours=1, minutes=1)
    assert fire_due_timers(engine) >= 2  # the hour passed; the hourly start timer's first firing
    rows = audit_rows_after(app, mark)
    assert any(_matches(r, "timer.fire", audit.TIMER, f"instance:{waiting['id']}") for r in rows), rows
    started = [r for r in rows if r["action"] == "instance.start" and r["actor"] == audit.TIMER]
    assert started and started[0]["detail"]["process_key"] == "hourly_report"

    # A failing service is retried by a timer: the retry's row is the timer's.
    walk.app.extensions["atrium.engine"].services.register(
        "ledger", lambda call: (_ for _ in ()).throw(ConnectionError("ledger down"))
    )
    failing = walk.start("manager", "fragile_service", variables={"amount": 2})
    mark = audit_mark(app)
    clock.advance(seconds=11)
    fire_due_timers(engine)
    assert any(
        _matches(r, "instance.retry", audit.TIMER, f"instance:{failing['id']}") for r in audit_rows_after(app, mark)
    )

    schedule = walk.people["manager"].post("/api/report-schedules", json=_SCHEDULE).json
    clock.set(clock.now().replace(month=2, day=1))
    mark = audit_mark(app)
    assert fire_due_schedules(engine) == 1 and run_pending_reports(engine) == 1
    rows = audit_rows_after(app, mark)
    assert any(
        _matches(r, "report_schedule.fire", audit.SCHEDULER, f"report_schedule:{schedule['id']}") for r in rows
    ), rows
    assert any(
        r["action"] == "report_run.execute" and r["actor"] == audit.SCHEDULER and r["target"].startswith("report_run:")
        for r in rows
    ), rows


def test_the_daily_health_and_nps_survey_jobs_write_rows_as_the_scheduler(walk, clock):
    """engine/scheduler.py's client health and NPS survey jobs: nobody asked, the scheduler acts."""
    app, engine = walk.app, walk.app.extensions["atrium.engine"]
    walk.deploy_firm()
    client = walk.new_client(status="active")
    contact = walk.people["account_manager"].post(
        f"/api/clients/{client['id']}/contacts", json={"name": "Li Wei", "emails": ["li.wei@example.com"]}
    )
    assert contact.status_code == 201, contact.json
    clock.advance(days=190)  # a client long enough to be asked how likely it is to recommend the firm
    mark = audit_mark(app)
    assert daily_health(engine) == 1 and start_due_nps_surveys(engine) == 1
    rows = audit_rows_after(app, mark)
    assert any(_matches(r, "health.recompute", audit.SCHEDULER, "health") for r in rows), rows
    surveys_of_client = f"client:{client['id']}/surveys/"
    assert any(
        _matches(r, "survey.send", audit.SCHEDULER, lambda t: (t or "").startswith(surveys_of_client)) for r in rows
    ), rows


def test_the_webhook_and_broker_jobs_write_rows_as_the_scheduler(walk, clock, monkeypatch):
    """atrium/webhooks.py's fan-out and delivery, atrium/amqp.py's publisher: the scheduler acts."""
    from dataclasses import replace

    from atrium import amqp, webhooks

    from .test_webhooks import Receiver

    app, engine = walk.app, walk.app.extensions["atrium.engine"]
    receiver = Receiver()
    try:
        allowing = replace(engine.settings, webhook_allow_private=True, webhook_max_attempts=2)
        monkeypatch.setattr(engine, "settings", allowing)
        monkeypatch.setitem(app.extensions, "atrium.settings", allowing)
        made = walk.people["admin"].post("/api/webhooks", json={"url": receiver.url(), "event_types": ["*"]})
        assert made.status_code == 201, made.json
        target = f"webhook:{made.json['id']}"
        walk.new_client()
        receiver.codes["/hook"] = 500
        mark = audit_mark(app)
        webhooks.webhook_job(engine)
        clock.advance(minutes=2)
        webhooks.webhook_job(engine)
        rows = audit_rows_after(app, mark)
        for action in ("webhook.fan_out", "webhook.retry", "webhook.dead"):
            assert any(_matches(r, action, audit.SCHEDULER, lambda t: (t or "").startswith(target)) for r in rows), (
                action,
                rows,
            )
        receiver.codes["/hook"] = 200
        walk.people["admin"].post(f"/api/webhooks/{made.json['id']}/deliveries/resend-dead")
        mark = audit_mark(app)
        webhooks.webhook_job(engine)
        rows = audit_rows_after(app, mark)
        assert any(
            _matches(r, "webhook.delivered", audit.SCHEDULER, lambda t: (t or "").startswith(target)) for r in rows
        ), rows
    finally:
        receiver.close()

    from .test_amqp import BROKER, _broker_up

    if not _broker_up():
        return  # tests/test_amqp.py fails under CI without a broker
    monkeypatch.setattr(
        engine, "settings", replace(engine.settings, amqp_url=BROKER, amqp_exchange="atrium.events.walk")
    )
    mark = audit_mark(app)
    assert amqp.publish_events(engine) >= 1
    rows = audit_rows_after(app, mark)
    assert any(_matches(r, "events.publish", audit.SCHEDULER, "event_publication:amqp") for r in rows), rows


def test_the_overdue_invoices_job_writes_rows_as_the_scheduler(walk, clock):
    """engine/scheduler.py's overdue invoices job (atrium/billing.py): the follow-up and the invoice's link."""
    from atrium.billing import start_overdue_follow_ups

    app, engine = walk.app, walk.app.extensions["atrium.engine"]
    engagement = _engagement(walk)
    invoice = _invoice(walk, engagement)
    clock.advance(days=40)
    mark = audit_mark(app)
    assert start_overdue_follow_ups(engine) == 1
    rows = audit_rows_after(app, mark)
    target = f"client:{engagement['client_id']}/invoices/{invoice['id']}"
    assert any(_matches(r, "invoice.follow_up", audit.SCHEDULER, target) for r in rows), rows
    assert any(_matches(r, "follow_up.create", audit.SCHEDULER, lambda t: "/follow-ups/" in (t or "")) for r in rows), (
        rows
    )


# The command line -----------------------------------------------------------------------------


def cli_commands(parser: argparse.ArgumentParser | None = None, prefix: tuple = ()) -> set[tuple[str, ...]]:
    """Every leaf command of `atrium` (("user", "create"), ("deploy",), ...)."""
    parser = parser or build_parser()
    found: set[tuple[str, ...]] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= cli_commands(sub, (*prefix, name))
            return found
    return {prefix}


READ_ONLY_COMMANDS = {
    ("serve",): "serves the API; the requests it serves write their own rows",
    ("scheduler",): "runs the scheduler's jobs (timers, reports, mail, daily jobs), each writing its own rows "
    "as in `serve` (tests/test_several_nodes.py)",
    ("validate",): "parses files without a database",
    ("audit", "verify"): "reads the audit chain (tests/test_audit_chain.py); the scheduler's daily check audits",
    ("erasure", "due"): "the retention policy's preview: lists clients, changes nothing (tests/test_erasure.py)",
}


@dataclass
class Cli:
    app: object
    tmp_path: object
    monkeypatch: object

    def run(self, *argv: str, action: str | None, target=None) -> None:
        """Run `atrium argv`: it succeeds and writes a row by the CLI's actor (with `action` and `target` if given)."""
        mark = audit_mark(self.app)
        assert main(list(argv)) == 0
        rows = audit_rows_after(self.app, mark)
        actor = audit.cli_actor()
        if action is None:
            assert any(r["actor"] == actor for r in rows), rows
        else:
            assert any(_matches(r, action, actor, target or (lambda t: True)) for r in rows), rows


def _cli_migrate(cli):
    fresh = f"sqlite:///{cli.tmp_path / 'fresh.db'}"
    cli.monkeypatch.setenv("ATRIUM_DATABASE_URL", fresh)
    assert main(["migrate"]) == 0
    from storage.db import make_engine

    engine = make_engine(fresh)
    with engine.connect() as connection:
        rows = connection.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(audit.cli_actor(), "database.migrate", "database")]


def _cli_deploy(cli):
    cli.run(
        "deploy",
        str(PROJECT_ROOT / "processes"),
        action="deployment.create",
        target=lambda t: t.startswith("deployment:"),
    )


def _cli_demo(cli):
    cli.run("demo", action="demo.seed", target="demo")
    cli.run("demo", action="demo.seed", target="demo")  # again: nothing new, and says so


def _cli_user_create(cli):
    cli.monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    cli.run(
        "user",
        "create",
        "--username",
        "lin",
        "--password-stdin",
        "--role",
        "partner",
        action="account.create",
        target="account:lin",
    )


def _cli_integration_create(cli):
    cli.run(
        "integration",
        "create",
        "kingdee",
        "--scope",
        "invoices:write",
        action="integration.create",
        target="integration:kingdee",
    )
    cli.run("integration", "create", "xero", "--scope", "events:read", action="integration.key.create")


def _cli_user_totp_reset(cli):
    cli.run("user", "totp-reset", "--username", "viewer", action="account.totp.reset", target="account:viewer")


def _cli_report_run(cli):
    cli.run(
        "report",
        "run",
        "monthly_client",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--out",
        str(cli.tmp_path / "report.json"),
        action="report.run",
        target="report:monthly_client",
    )


def _cli_follow_ups_start(cli):
    walk = Walk(cli.app)
    walk.new_client(status="active")  # before follow_up is deployed: it has no cycle yet
    deploy_firm_processes(walk.people["admin"])
    cli.run("follow-ups", "start", action=None)


def _cli_backup(cli):
    cli.run("backup", str(cli.tmp_path / "walk.tar"), action="backup.create", target="backup:walk.tar")


def _cli_restore(cli):
    # A backup of a fresh SQLite database, restored into an empty one: the row is in the restored database.
    made, restored = cli.tmp_path / "made.db", cli.tmp_path / "restored.db"
    cli.monkeypatch.setenv("ATRIUM_DATABASE_URL", f"sqlite:///{made}")
    assert main(["migrate"]) == 0 and main(["backup", str(cli.tmp_path / "fresh.tar")]) == 0
    cli.monkeypatch.setenv("ATRIUM_DATABASE_URL", f"sqlite:///{restored}")
    assert main(["restore", str(cli.tmp_path / "fresh.tar")]) == 0
    from storage.db import make_engine

    engine = make_engine(f"sqlite:///{restored}")
    with engine.connect() as connection:
        rows = connection.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)).all()
    engine.dispose()
    assert (audit.cli_actor(), "backup.restore", "backup:fresh.tar") in [tuple(r) for r in rows]


def _cli_keys_rotate(cli):
    Walk(cli.app).new_client()
    cli.run("keys", "rotate", action="keys.rotate", target="client_keys")


def _cli_erasure_run(cli):
    from atrium import clock as clock_module

    made = Walk(cli.app).new_client(status="former")
    previous = clock_module.set_clock(clock_module.FrozenClock(clock_module.now() + timedelta(days=3 * 366)))
    try:
        cli.run("erasure", "run", "--years", "2", action="client.erase", target=f"client:{made['id']}")
    finally:
        clock_module.set_clock(previous)


def _cli_health_recompute(cli):
    walk = Walk(cli.app)
    deploy_firm_processes(walk.people["admin"])  # the client_health decision table among them
    walk.new_client(status="active")
    cli.run("health", "recompute", "--mail", action="health.recompute", target="health")


CLI_CASES = {
    ("health", "recompute"): _cli_health_recompute,
    ("erasure", "run"): _cli_erasure_run,
    ("backup",): _cli_backup,
    ("restore",): _cli_restore,
    ("keys", "rotate"): _cli_keys_rotate,
    ("migrate",): _cli_migrate,
    ("deploy",): _cli_deploy,
    ("demo",): _cli_demo,
    ("user", "create"): _cli_user_create,
    ("integration", "create"): _cli_integration_create,
    ("user", "totp-reset"): _cli_user_totp_reset,
    ("report", "run"): _cli_report_run,
    ("follow-ups", "start"): _cli_follow_ups_start,
}


def test_every_command_has_a_case_or_is_read_only():
    commands = cli_commands()
    assert commands == CLI_CASES.keys() | READ_ONLY_COMMANDS.keys()
    assert not CLI_CASES.keys() & READ_ONLY_COMMANDS.keys()


@pytest.mark.parametrize("command", [pytest.param(key, id=" ".join(key)) for key in sorted(CLI_CASES)])
def test_each_command_writes_its_audit_row_as_the_cli(db, services, clock, tmp_path, monkeypatch, command):
    monkeypatch.setenv("ATRIUM_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ATRIUM_FORMS_DIR", str(PROJECT_ROOT / "forms"))
    app = make_app(db, register_all(services))
    try:
        CLI_CASES[command](Cli(app, tmp_path, monkeypatch))
    finally:
        app.extensions["atrium.db"].dispose()


# BPMN handlers -------------------------------------------------------------------------------

READ_ONLY_HANDLERS = {
    "onboarding.check_conflicts": "reads the clients like the intake's to show the partner; writes nothing",
    "requester.username": "answers who started the instance; writes nothing",
    "service_request.suggest_articles": "searches the knowledge base for the assignee; writes nothing",
    "approval.check_request": "checks the request's figures and routes it; writes nothing",
    "follow_up.plan": "computes when the client's next follow-up is due from its tier; writes nothing",
    "care.next_occasion": "works out the client's next occasion and when to prepare it; writes nothing",
    "care.open": "fills the owner's care task with the occasion and the suggested greeting; writes nothing",
    "survey.read_answer": "reads the answer from the survey's feedback row for the process to decide by; writes nothing",
}


@dataclass
class HandlerCall:
    name: str
    actor: str | None
    rows: list  # (actor, action) of the audit rows written while the handler ran


def record_handler_calls(registry: ServiceRegistry) -> list[HandlerCall]:
    """Wrap every handler of `registry` so each call notes the audit rows it wrote in the step's session."""
    calls: list[HandlerCall] = []

    def wrap(name, handler):
        def run(call):
            before = call.session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))
            result = handler(call)
            rows = call.session.execute(select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.id > before)).all()
            calls.append(HandlerCall(name, call.actor, [tuple(r) for r in rows]))
            return result

        return run

    for name in registry.names():
        registry.register(name, wrap(name, registry.get(name)))
    return calls


def _firm_people(app, *extra: tuple[str, str, list]) -> dict:
    client = app.test_client()
    admin = caller(client, "admin")
    for username, role, groups in extra:
        made = admin.post(
            "/api/accounts",
            json={"username": username, "password": f"password-of-{username}", "roles": [role], "groups": groups},
        )
        assert made.status_code == 201, made.json
    deploy_firm_processes(admin)
    return {
        name: caller(client, name)
        for name in (
            "admin",
            "partner",
            "manager",
            "account_manager",
            "service_desk",
            "viewer",
            *(u for u, _, _ in extra),
        )
    }


def _firm_app(db, services, module: str, *extra: tuple[str, str, list]):
    """The app, the watched handler calls and the people for one of `module`'s stories."""
    from .process_helpers import make_process_app

    if module == "test_process_complaint":
        from . import test_process_complaint as t

        app = t.build_app(db, services)
        calls = record_handler_calls(services)
        people = t.people_of(app)
        made = people["admin"].post(
            "/api/employees", json={"name": "Dana Desk", "username": "service_desk", "manager": "manager"}
        )
        assert made.status_code == 201, made.json
        return app, calls, people
    app = make_process_app(db, services)
    calls = record_handler_calls(services)
    return app, calls, _firm_people(app, *extra)


def story(module: str, test: str, *extra: tuple[str, str, list]):
    """Run the test `test` of tests/`module`.py (a process's story) on a fresh database, handlers watched."""

    def run(db, services, clock):
        import importlib
        import inspect

        app, calls, people = _firm_app(db, services, module, *extra)
        fn = getattr(importlib.import_module(f"tests.{module}"), test)
        given = {"people": people, "app": app, "clock": clock, "desk_reports_to_manager": None}
        fn(**{name: given[name] for name in inspect.signature(fn).parameters})
        return app, calls

    return run


SR_PEOPLE = (("sam", "service_desk", []), ("mia", "manager", []))
# Each story is a process test's own scenario, run again with every handler call watched, and the handlers
# it must reach.
HANDLER_SCENARIOS = {
    "approval-approved": (
        story("test_process_approval", "test_manager_approves_a_small_fee_and_the_requester_is_told"),
        {"approval.notify_requester", "requester.username"},
    ),
    "approval-about-a-client": (
        story(
            "test_process_approval",
            "test_a_request_about_a_client_is_on_the_clients_timeline_and_an_unknown_client_is_refused",
        ),
        {"approval.check_request"},
    ),
    "onboarding-approved": (
        story(
            "test_process_onboarding",
            "test_partner_approves_onboarding_and_the_client_is_created_then_welcomed",
            ("am_tax", "account_manager", ["tax"]),
        ),
        {
            "onboarding.check_conflicts",
            "onboarding.open_client",
            "onboarding.plan_welcome_call",
            "onboarding.record_welcome_call",
            "requester.username",
        },
    ),
    "onboarding-declined": (
        story(
            "test_process_onboarding",
            "test_partner_declines_with_a_reason_and_the_requester_is_told",
            ("am_tax", "account_manager", ["tax"]),
        ),
        {"onboarding.notify_rejection"},
    ),
    "complaint-closed": (
        story(
            "test_process_complaint", "test_complaint_acknowledged_in_time_runs_to_closure_with_its_times_on_the_record"
        ),
        {"complaint_status", "complaint_close"},
    ),
    "complaint-escalated": (
        story(
            "test_process_complaint",
            "test_a_complaint_not_acknowledged_within_24_hours_is_escalated_to_the_registrants_manager",
        ),
        {"complaint_escalate"},
    ),
    "follow_up-done": (
        story(
            "test_process_follow_up",
            "test_the_owner_follows_an_a_client_up_monthly_and_a_client_needing_action_gets_a_service_request",
        ),
        {"follow_up.plan", "follow_up.open", "follow_up.record_outcome"},
    ),
    "follow_up-overdue": (
        story(
            "test_process_follow_up",
            "test_an_overdue_follow_up_goes_to_the_owners_manager_while_the_owner_can_still_do_it",
        ),
        {"follow_up.escalate_overdue"},
    ),
    "care-spring_festival": (
        story(
            "test_care",
            "test_the_owner_prepares_spring_festival_three_days_before_each_lunar_new_year_and_the_greeting_is_mailed",
            ("am_tax", "account_manager", ["tax"]),
            ("am_audit", "account_manager", ["audit"]),
        ),
        {"care.next_occasion", "care.open", "care.record_outcome"},
    ),
    "survey-after_close": (
        story(
            "test_surveys",
            "test_closing_a_service_request_mails_a_link_that_works_once_without_login",
            ("sam", "service_desk", []),
        ),
        {"survey.send"},
    ),
    "survey-low_score": (
        story(
            "test_surveys",
            "test_a_low_score_gives_the_owner_a_follow_up_that_opens_a_complaint_and_tells_the_manager",
            ("sam", "service_desk", []),
        ),
        {"survey.read_answer", "survey.notify_low_score", "survey.record_follow_up"},
    ),
    "survey-unanswered": (
        story(
            "test_surveys",
            "test_an_unanswered_survey_is_sent_once_more_and_then_expires",
            ("sam", "service_desk", []),
        ),
        {"survey.remind", "survey.expire"},
    ),
    "time_entry-approved": (
        story("test_time_entries", "test_above_the_threshold_it_waits_for_the_responsible_partner_who_approves"),
        {"time_entry.decide"},
    ),
    "time_entry-rejected": (
        story("test_time_entries", "test_a_rejected_entry_is_audited_and_never_announced"),
        {"time_entry.decide"},
    ),
    "service_request-closed": (
        story(
            "test_process_service_request",
            "test_desk_triages_the_assignee_resolves_with_articles_at_hand_and_the_rated_request_closes",
            *SR_PEOPLE,
        ),
        {
            "service_request.triage",
            "service_request.assign",
            "service_request.suggest_articles",
            "service_request.resolve",
            "service_request.close",
        },
    ),
    "service_request-sla": (
        story(
            "test_process_service_request",
            "test_a_passed_sla_escalates_to_the_assignees_manager_while_the_work_goes_on",
            *SR_PEOPLE,
        ),
        {"service_request.escalate_sla"},
    ),
    "service_request-rejected": (
        story(
            "test_process_service_request",
            "test_the_desk_turns_down_a_request_with_a_reason_and_the_requester_hears",
            *SR_PEOPLE,
        ),
        {"service_request.reject"},
    ),
}


def test_every_registered_handler_has_a_scenario_or_is_read_only():
    names = set(register_all(ServiceRegistry()).names())
    reached = set().union(*(handlers for _, handlers in HANDLER_SCENARIOS.values()))
    assert names == reached | READ_ONLY_HANDLERS.keys(), "add each new handler to a scenario, or to READ_ONLY_HANDLERS"
    assert READ_ONLY_HANDLERS.keys() <= reached  # read-only ones are run too, and must write nothing


@pytest.mark.parametrize("story", sorted(HANDLER_SCENARIOS))
def test_each_handler_step_writes_an_audit_row_by_the_steps_actor(db, services, clock, story):
    scenario, handlers = HANDLER_SCENARIOS[story]
    app, calls = scenario(db, services, clock)
    try:
        for name in sorted(handlers):
            made = [c for c in calls if c.name == name]
            assert made, f"{name} was never called in the story {story}"
            if name in READ_ONLY_HANDLERS:
                assert all(not c.rows for c in made), (name, [c.rows for c in made])
            else:
                assert any(any(actor in (c.actor, audit.TIMER) for actor, _ in c.rows) for c in made), (
                    f"{name}: no call wrote an audit row by the step's actor: {[(c.actor, c.rows) for c in made]}"
                )
    finally:
        app.extensions["atrium.db"].dispose()
