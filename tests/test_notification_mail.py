"""Notifications: a task given to someone tells them, and the outbox is mailed through a real SMTP
server (aiosmtpd, started here) when one is configured; otherwise it waits, listed, in the outbox."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from atrium.mailer import send_queued_notifications
from engine.scheduler import start_scheduler
from storage.notifications import Notification, add_notification, claim_sendable

from .api_helpers import caller, deploy_via_api
from .conftest import make_process_engine
from .factories import make_account


class Mailbox:
    """What the SMTP server received; addresses in `refuse` are rejected at RCPT."""

    def __init__(self):
        self.messages = []
        self.refuse: set[str] = set()
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_smtp_server(mailbox: Mailbox, **kwargs) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = start_smtp_server(box)
    box.port = controller.port
    yield box
    controller.stop()


def smtp_settings(port: int, **extra) -> dict:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_from": "atrium@firm.example",
        "smtp_timeout_seconds": 5,
        "mail_max_attempts": 3,
        "mail_retry_seconds": 60,
        **extra,
    }


def outbox(engine) -> list[Notification]:
    with engine.transaction() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def queue(engine, clock, *recipients: str, email: str | None = None) -> None:
    with engine.transaction() as session:
        for recipient in recipients:
            add_notification(
                session,
                kind="escalation",
                recipient=recipient,
                email=email,
                subject=f"For {recipient}",
                body="Please look at this.",
                now=clock.now(),
            )


def add_account(engine, clock, username: str, email: str | None) -> None:
    with engine.transaction() as session:
        make_account(
            session,
            username,
            roles=["manager"],
            display_name=username,
            email=email,
            password_hash="x",
            created_at=clock.now(),
        )


@pytest.fixture
def app_with_mail(app_factory, mailbox):
    return app_factory(**smtp_settings(mailbox.port))


def test_a_task_assigned_by_a_lead_is_mailed_to_the_assignee(app_with_mail, mailbox, clock):
    app = app_with_mail
    client = app.test_client()
    admin, manager = caller(client, "admin"), caller(client, "manager")
    assert (
        admin.post(
            "/api/employees", json={"name": "Sam Desk", "username": "service_desk", "email": "sam@firm.example"}
        ).status_code
        == 201
    )
    assert deploy_via_api(admin, "two_tasks.bpmn", "intake-schema.json").status_code == 201
    started = manager.post(
        "/api/process-instances", json={"process_key": "two_tasks", "variables": {"urgency": 60}}
    ).json
    intake = manager.get(f"/api/tasks?instance_id={started['id']}").json["items"][0]
    assert caller(client, "service_desk").get("/api/notifications").json["total"] == 0  # offered, not assigned

    assigned = manager.post(f"/api/tasks/{intake['id']}/assign", json={"username": "service_desk"})
    assert assigned.status_code == 200, assigned.json
    desk = caller(client, "service_desk")
    [note] = desk.get("/api/notifications").json["items"]
    assert (note["kind"], note["status"], note["subject"]) == (
        "task_assigned",
        "queued",
        f"Task assigned to you: {intake['name']}",
    )
    assert mailbox.messages == []  # nothing is mailed inside the request

    assert send_queued_notifications(app.extensions["atrium.engine"]) == 1
    [mail] = mailbox.to("sam@firm.example")
    assert mail["From"] == "atrium@firm.example" and mail["Subject"] == note["subject"]
    assert f"/api/tasks/{intake['id']}" in mail.get_content()
    [note] = desk.get("/api/notifications").json["items"]
    assert (note["status"], note["email"], note["sent_at"], note["attempts"]) == (
        "sent",
        "sam@firm.example",
        clock.now().isoformat(),
        1,
    )
    assert send_queued_notifications(app.extensions["atrium.engine"]) == 0  # mailed once

    # Taking a task yourself, or assigning it to yourself, tells nobody (only an admin may assign this
    # service-desk task to themselves: they are not a candidate).
    manager.post(f"/api/tasks/{intake['id']}/unclaim")
    assert admin.post(f"/api/tasks/{intake['id']}/assign", json={"username": "admin"}).status_code == 200
    assert admin.get("/api/notifications?recipient=admin").json["total"] == 0


def test_a_task_the_engine_opens_with_an_assignee_tells_them_unless_they_opened_it(app_with_mail, mailbox, clock):
    app = app_with_mail
    client = app.test_client()
    admin, am, partner = caller(client, "admin"), caller(client, "account_manager"), caller(client, "partner")
    assert deploy_via_api(admin, "assigned.bpmn").status_code == 201
    started = am.post(
        "/api/process-instances",
        json={"process_key": "assigned_report", "variables": {"preparer": "account_manager", "checker": "partner"}},
    )
    assert started.status_code == 201, started.json
    assert am.get("/api/notifications").json["total"] == 0  # they started it: they know
    [prepare] = am.get(f"/api/tasks?instance_id={started.json['id']}").json["items"]
    assert am.post(f"/api/tasks/{prepare['id']}/complete", json={"data": {}}).status_code == 200

    [note] = partner.get("/api/notifications").json["items"]
    assert note["subject"] == "Task assigned to you: Check the report"
    assert note["instance_id"] == started.json["id"] and note["email"] is None and note["status"] == "queued"
    [check] = partner.get(f"/api/tasks?instance_id={started.json['id']}").json["items"]
    assert check["assignee"] == "partner" and f"/api/tasks/{check['id']}" in note["body"]

    # The partner has no email address anywhere: the mailer says so in the outbox, and does not retry.
    assert send_queued_notifications(app.extensions["atrium.engine"]) == 0
    [note] = partner.get("/api/notifications").json["items"]
    assert (note["status"], note["error"], note["attempts"], note["next_attempt_at"]) == (
        "failed",
        "no email address for partner",
        1,
        None,
    )
    assert mailbox.messages == []


def test_without_smtp_settings_notifications_wait_in_the_outbox(db, services, clock):
    engine = make_process_engine(db, services)
    assert not engine.settings.smtp_configured
    add_account(engine, clock, "lin", "lin@firm.example")
    queue(engine, clock, "lin")
    assert send_queued_notifications(engine) == 0
    assert [(n.status, n.attempts, n.error) for n in outbox(engine)] == [("queued", 0, None)]
    scheduler = start_scheduler(engine)
    try:
        assert sorted(job.id for job in scheduler.get_jobs()) == [
            "audit_daily_check",
            "daily_health",
            "fire_due_timers",
            "idempotency_cleanup",
            "overdue_invoices",
            "report_jobs",
            "survey_nps",
            "webhook_job",
        ]
    finally:
        scheduler.shutdown(wait=False)


def test_the_scheduler_mails_the_outbox_when_smtp_is_configured(db, services, clock, mailbox):
    engine = make_process_engine(db, services, **smtp_settings(mailbox.port))
    scheduler = start_scheduler(engine)
    try:
        jobs = sorted(job.id for job in scheduler.get_jobs())
        assert jobs == [
            "audit_daily_check",
            "daily_health",
            "fire_due_timers",
            "idempotency_cleanup",
            "overdue_invoices",
            "report_jobs",
            "send_queued_notifications",
            "survey_nps",
            "webhook_job",
        ]
    finally:
        scheduler.shutdown(wait=False)


def test_the_scheduler_publishes_events_to_the_broker_when_a_broker_is_configured(db, services, clock):
    engine = make_process_engine(db, services, amqp_url="amqp://guest:guest@127.0.0.1:5672/")
    scheduler = start_scheduler(engine)
    try:
        assert "publish_events" in {job.id for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)


def test_failed_mail_is_retried_with_backoff_a_bounded_number_of_times(db, services, clock, mailbox):
    down = free_port()  # nothing listens here
    engine = make_process_engine(db, services, **smtp_settings(down))
    queue(engine, clock, "lin", email="lin@firm.example")
    first = clock.now()
    assert send_queued_notifications(engine) == 0
    [note] = outbox(engine)
    assert (note.status, note.attempts, note.next_attempt_at) == ("queued", 1, first + timedelta(seconds=60))
    assert note.error.startswith("SMTP connection failed")

    clock.advance(seconds=59)
    assert send_queued_notifications(engine) == 0 and outbox(engine)[0].attempts == 1  # not due yet
    clock.advance(seconds=1)
    send_queued_notifications(engine)
    note = outbox(engine)[0]
    assert (note.status, note.attempts, note.next_attempt_at) == ("queued", 2, clock.now() + timedelta(seconds=120))
    clock.advance(seconds=120)
    send_queued_notifications(engine)
    note = outbox(engine)[0]
    assert (note.status, note.attempts, note.next_attempt_at) == ("failed", 3, None)  # mail_max_attempts = 3

    # A failed row stays failed and listed, even once the server is back.
    working = make_process_engine(db, services, **smtp_settings(mailbox.port))
    clock.advance(days=1)
    assert send_queued_notifications(working) == 0 and mailbox.messages == []


def test_one_refused_recipient_does_not_hold_up_the_others(db, services, clock, mailbox):
    engine = make_process_engine(db, services, **smtp_settings(mailbox.port))
    add_account(engine, clock, "lin", "lin@firm.example")
    add_account(engine, clock, "gone", "gone@firm.example")
    mailbox.refuse.add("gone@firm.example")
    queue(engine, clock, "gone", "lin")
    assert send_queued_notifications(engine) == 1
    gone, lin = outbox(engine)
    assert (lin.status, lin.email) == ("sent", "lin@firm.example") and len(mailbox.to("lin@firm.example")) == 1
    assert (gone.status, gone.attempts) == ("queued", 1) and "mailbox unavailable" in gone.error


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_mail_goes_through_a_server_that_requires_login(db, services, clock):
    box = Mailbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"atrium", b"s3cret")
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself

    # Plain-text AUTH is fine on loopback in a test; a real server would want STARTTLS first.
    controller = start_smtp_server(box, authenticator=authenticator, auth_required=True, auth_require_tls=False)
    try:
        wrong = make_process_engine(
            db, services, **smtp_settings(controller.port, smtp_user="atrium", smtp_password="guess")
        )
        queue(wrong, clock, "lin", email="lin@firm.example")
        assert send_queued_notifications(wrong) == 0
        note = outbox(wrong)[0]
        assert note.status == "queued" and "535" in note.error

        right = make_process_engine(
            db, services, **smtp_settings(controller.port, smtp_user="atrium", smtp_password="s3cret")
        )
        clock.advance(minutes=1)
        assert send_queued_notifications(right) == 1
        assert [m["To"] for m in box.messages] == ["lin@firm.example"]
        assert outbox(right)[0].status == "sent"
    finally:
        controller.stop()


def test_two_workers_never_mail_one_notification_twice(pg, services, clock, mailbox):
    engine = make_process_engine(pg, services, **smtp_settings(mailbox.port))
    queue(engine, clock, *(f"person{i}" for i in range(5)), email="team@firm.example")
    # One worker holds three rows (as while mailing them); another skips those and mails the rest.
    with engine.transaction() as held:
        locked = claim_sendable(held, now=clock.now(), limit=3)
        assert send_queued_notifications(engine) == 2
    assert sorted(m["X-Atrium-Notification"] for m in mailbox.messages) == [str(n.id) for n in outbox(engine)][3:]
    assert send_queued_notifications(engine) == 3  # the holder let go without sending them
    assert len(locked) == 3

    # Many workers at once over a larger outbox: each row is mailed exactly once.
    queue(engine, clock, *(f"crowd{i}" for i in range(60)), email="crowd@firm.example")
    workers = [
        threading.Thread(target=send_queued_notifications, args=(engine,), kwargs={"batch_size": 4}) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    counts = Counter(m["X-Atrium-Notification"] for m in mailbox.messages)
    assert len(counts) == 65 and set(counts.values()) == {1}
    assert {n.status for n in outbox(engine)} == {"sent"}
