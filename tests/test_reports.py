"""Reports over HTTP, schedules fired by moving the clock, the CLI (the statistics' figures are checked in
test_report_statistics.py, rendering in test_report_render.py)."""

from __future__ import annotations

import io
import json
import threading
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from atrium import clock as clock_module
from atrium.mailer import send_queued_notifications
from reports import catalogue
from reports.catalogue import Report
from reports.scheduling import fire_due_schedules, next_fire_time, run_pending_reports
from reports.statistics import clients
from storage.client_records import Complaint, Feedback, FollowUp, ServiceRequest
from storage.definitions import ProcessDefinition
from storage.instances import ProcessInstance
from storage.notifications import Notification
from storage.reports import ReportRun
from storage.tasks import Task, TaskCandidate

from .api_helpers import caller, make_app
from .conftest import make_process_engine
from .factories import make_client
from .test_notification_mail import mailbox, smtp_settings  # noqa: F401 -- mailbox is a fixture

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


@pytest.fixture
def app(app_factory, clock):
    clock.set(datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc))
    return app_factory(firm_email_domains=("firm.example",))


@pytest.fixture
def engine(app):
    return app.extensions["atrium.engine"]


def _client(session, name, *, owner, tier="A", status="active", created=T0, updated=None, industry="law"):
    return make_client(
        session,
        name=name,
        owner=owner,
        tier=tier,
        status=status,
        created_at=created,
        updated_at=updated or created,
        industry=industry,
    )


@pytest.fixture
def seeded(engine):
    """Three clients (two of alice's, one of bob's), instances, tasks, feedback, requests, complaints."""
    h = timedelta(hours=1)
    with engine.transaction() as s:
        acme = _client(s, "Acme Ltd", owner="alice")
        zhang = _client(s, "张三贸易有限公司", owner="alice", tier="B", status="dormant", updated=T0 + 5 * 24 * h)
        bolt = _client(
            s,
            "Bolt LLP",
            owner="bob",
            tier="A",
            status="former",
            created=T0 - timedelta(days=40),
            updated=T0 + 40 * 24 * h,
        )
        _client(s, "Gone Ltd", owner="bob", created=T0).deleted_at = T0  # deleted: never counted
        definition = ProcessDefinition(
            process_key="approval",
            version=1,
            content_hash="x",
            source_name="approval.bpmn",
            bpmn_xml="<x/>",
            spec_json="{}",
            start_events=[],
            form_ids={},
            deployed_at=T0,
        )
        s.add(definition)
        s.flush()
        # Completed instances of acme (2 h, 4 h, 10 h) and one of bob's client (30 h): median 4, p90 10 for alice.
        for client, hours in ((acme, 2), (acme, 4), (acme, 10), (bolt, 30)):
            s.add(
                ProcessInstance(
                    id=uuid.uuid4(),
                    definition_id=definition.id,
                    process_key="approval",
                    business_key=f"client:{client.id}",
                    status="completed",
                    state=b"x",
                    lock_version=1,
                    started_at=T0,
                    updated_at=T0,
                    ended_at=T0 + hours * h,
                )
            )
        running = ProcessInstance(
            id=uuid.uuid4(),
            definition_id=definition.id,
            process_key="approval",
            business_key=f"client:{acme.id}",
            status="active",
            state=b"x",
            lock_version=1,
            started_at=T0,
            updated_at=T0,
        )
        s.add(running)
        s.flush()
        now = clock_module.now()
        for age_days, assignee in ((0.5, "alice"), (2, None), (10, None), (45, "alice")):
            task = Task(
                id=uuid.uuid4(),
                instance_id=running.id,
                process_key="approval",
                element_id="approve",
                name="Approve",
                assignee=assignee,
                priority=50,
                status="open",
                created_at=now - timedelta(days=age_days),
            )
            s.add(task)
            s.flush()
            if assignee is None:
                s.add(TaskCandidate(task_id=task.id, kind="group", name="manager", offered=True))
        # Feedback in October: csat 5, 4, 4 and nps 10, 8, 3 on alice's; csat 1 / nps 0 on bob's.
        for client, csat, nps in ((acme, 5, 10), (acme, 4, 8), (zhang, 4, 3), (bolt, 1, 0)):
            s.add(Feedback(client_id=client.id, csat=csat, nps=nps, created_at=T0 + h, updated_at=T0 + h))
        s.add(Feedback(client_id=acme.id, csat=1, nps=0, created_at=T0 - h, updated_at=T0))  # September: outside
        # Service requests resolved in October: one within SLA, one late (both alice's).
        for resolved, due in ((T0 + 2 * h, T0 + 3 * h), (T0 + 5 * h, T0 + 3 * h)):
            s.add(
                ServiceRequest(
                    client_id=acme.id,
                    type="tax",
                    title="Q",
                    priority="normal",
                    status="resolved",
                    source="staff",
                    sla_due_at=due,
                    resolved_at=resolved,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        # Complaints: acknowledged after 2 h (met) and 30 h (missed); resolved after 10 h and 20 h.
        for ack, resolved in ((2, 10), (30, 20)):
            s.add(
                Complaint(
                    client_id=acme.id,
                    severity="high",
                    description="late",
                    status="resolved",
                    received_at=T0,
                    acknowledged_at=T0 + ack * h,
                    resolved_at=T0 + resolved * h,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        s.add(
            FollowUp(
                client_id=zhang.id, planned_at=now - timedelta(days=3), channel="call", created_at=T0, updated_at=T0
            )
        )
        s.add(
            FollowUp(
                client_id=zhang.id, planned_at=now + timedelta(days=3), channel="call", created_at=T0, updated_at=T0
            )
        )
    return engine


def test_reports_over_http_in_every_format_and_account_managers_see_their_own_clients(app, seeded):
    http = app.test_client()
    partner, am = caller(http, "partner"), caller(http, "account_manager")
    assert [r["name"] for r in partner.get("/api/reports").json] == list(catalogue.REPORTS)
    query = "from=2026-10-01&to=2026-10-31"
    as_json = partner.get(f"/api/reports/monthly_client?{query}").json
    tiers = next(t for t in as_json["tables"] if t["name"] == "clients_by_tier")
    assert tiers["rows"] == [{"key": "A", "clients": 2}, {"key": "B", "clients": 1}]
    assert partner.get(f"/api/reports/monthly_client?{query}&owner=bob").json["tables"][0]["rows"] == [
        {"key": "A", "clients": 1}
    ]
    # The account manager (owner of no seeded client) sees an empty book, and may not ask for others'.
    own = am.get(f"/api/reports/monthly_client?{query}").json
    assert own["filters"] == {"Owner": "account_manager"} and own["tables"][0]["rows"] == []
    assert am.get(f"/api/reports/monthly_client?{query}&owner=alice").status_code == 403
    xlsx = partner.get(f"/api/reports/complaints?{query}&format=xlsx")
    assert xlsx.status_code == 200 and "complaints_by_severity" in load_workbook(io.BytesIO(xlsx.data)).sheetnames
    html = partner.get(f"/api/reports/satisfaction?{query}&format=html")
    assert html.status_code == 200 and "<svg" in html.text and "CSAT" in html.text
    bad = partner.get("/api/reports/monthly_client?from=2026-10-31&to=2026-10-01")
    assert bad.status_code == 422 and "to" in bad.json["errors"]
    assert partner.get(f"/api/reports/nope?{query}").status_code == 404
    assert caller(http, "service_desk").get("/api/reports").status_code == 403


def test_a_schedule_fires_once_per_firing_keeps_the_pdf_and_mails_it(app, seeded, clock):
    http = app.test_client()
    manager = caller(http, "manager")
    created = manager.post(
        "/api/report-schedules",
        json={
            "report": "complaints",
            "cron": "0 7 1 * *",
            "timezone": "Asia/Shanghai",
            "period": "previous_month",
            "recipients": ["partner", "cfo@firm.example"],
        },
    )
    assert created.status_code == 201, created.json
    # 07:00 in Shanghai on 1 December is 23:00 UTC on 30 November.
    assert created.json["next_run_at"].startswith("2026-11-30T23:00:00")
    assert manager.post(
        "/api/report-schedules", json={"report": "complaints", "cron": "not a cron", "recipients": ["partner"]}
    ).json["errors"].keys() == {"cron"}
    clock.set(datetime(2026, 11, 30, 23, 0, 30, tzinfo=timezone.utc))
    assert fire_due_schedules(seeded) == 1
    assert fire_due_schedules(seeded) == 0  # the firing is taken: its next one is January's
    assert run_pending_reports(seeded) == 1
    manager = caller(http, "manager")  # a new token: the clock moved past the first one's expiry
    runs = manager.get("/api/report-runs")
    assert runs.status_code == 200, runs.json
    [run] = runs.json["items"]
    assert run["status"] == "succeeded" and (run["period_from"], run["period_to"]) == ("2026-11-01", "2026-12-01")
    assert run["attempts"] == 1 and run["error"] is None and run["pdf_size"] > 1000
    file = manager.get(f"/api/report-runs/{run['id']}/pdf")
    assert file.status_code == 200 and file.data.startswith(b"%PDF")
    with seeded.transaction() as session:
        mails = session.query(Notification).filter_by(report_run_id=run["id"]).all()
        assert {(m.recipient, m.email) for m in mails} == {(None, "cfo@firm.example"), ("partner", None)}
    schedule = manager.get(f"/api/report-schedules/{created.json['id']}").json
    assert schedule["next_run_at"].startswith("2026-12-31T23:00:00")
    assert manager.delete(f"/api/report-schedules/{created.json['id']}").status_code == 204
    assert manager.get(f"/api/report-runs/{run['id']}").json["status"] == "succeeded"  # runs outlive their schedule


def test_a_failing_report_is_recorded_with_its_error_and_retried(app, seeded, clock, monkeypatch):
    broken = Report(
        "broken", "Broken", "a template that does not exist", (clients.clients_by_tier,), template="missing.html"
    )
    monkeypatch.setitem(catalogue.REPORTS, "broken", broken)
    manager = caller(app.test_client(), "manager")
    created = manager.post(
        "/api/report-schedules",
        json={"report": "broken", "cron": "5 9 * * *", "period": "previous_day", "recipients": ["partner"]},
    )
    assert created.status_code == 201, created.json
    clock.advance(minutes=5)
    fire_due_schedules(seeded)
    assert run_pending_reports(seeded) == 1
    [run] = manager.get("/api/report-runs?status=failed").json["items"]
    assert "missing.html" in run["error"] and run["attempts"] == 1 and run["retry_at"] is not None
    assert run_pending_reports(seeded) == 0  # not before its retry time
    clock.advance(seconds=seeded.settings.report_retry_seconds + 1)
    monkeypatch.setitem(catalogue.REPORTS, "broken", Report("broken", "Fixed", "", (clients.clients_by_tier,)))
    fire_due_schedules(seeded)
    run_pending_reports(seeded)
    retried = manager.get(f"/api/report-runs/{run['id']}").json
    assert retried["status"] == "succeeded" and retried["attempts"] == 2


def test_cron_times_follow_the_time_zone_across_daylight_saving():
    before = datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc)
    # 08:00 in London: GMT (08:00 UTC) on Saturday 28 March, BST (07:00 UTC) from Sunday 29 March.
    assert next_fire_time("0 8 * * *", "Europe/London", before) == datetime(2026, 3, 29, 7, 0, tzinfo=timezone.utc)


def test_the_cli_writes_a_report_file(seeded, tmp_path, monkeypatch, db):
    from atrium.cli import main

    monkeypatch.setenv("ATRIUM_DATABASE_URL", db.url.render_as_string(hide_password=False))
    out = tmp_path / "complaints.json"
    assert main(["report", "run", "complaints", "--from", "2026-10-01", "--to", "2026-10-31", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["tables"][0]["rows"][0]["received"] == 2


def test_a_report_that_cannot_be_rendered_is_a_clear_503(app, seeded, monkeypatch):
    broken = Report(
        "broken", "Broken", "a template that does not exist", (clients.clients_by_tier,), template="missing.html"
    )
    monkeypatch.setitem(catalogue.REPORTS, "broken", broken)
    partner = caller(app.test_client(), "partner")
    response = partner.get("/api/reports/broken?from=2026-10-01&to=2026-10-31&format=pdf")
    assert response.status_code == 503 and response.content_type == "application/problem+json"
    assert "missing.html" in response.json["detail"]
    assert partner.get("/api/reports/broken?from=2026-10-01&to=2026-10-31").status_code == 200  # JSON needs no template


def _schedule_complaints(app, recipients) -> dict:
    manager = caller(app.test_client(), "manager")
    created = manager.post(
        "/api/report-schedules",
        json={"report": "complaints", "cron": "0 7 * * *", "period": "previous_day", "recipients": recipients},
    )
    assert created.status_code == 201, created.json
    return created.json


def test_two_workers_polling_at_once_make_one_run_per_firing(pg, services, clock):
    """Each `atrium serve` worker has its own scheduler; the row lock makes the firing one run."""
    clock.set(datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc))
    app = make_app(pg, services)
    try:
        _schedule_complaints(app, ["partner"])
        clock.set(datetime(2026, 11, 2, 7, 0, 1, tzinfo=timezone.utc))
        engines = [app.extensions["atrium.engine"], make_process_engine(pg, services)]  # a second worker
        barrier, made = threading.Barrier(2), []

        def poll(engine):
            barrier.wait()
            made.append((fire_due_schedules(engine), run_pending_reports(engine)))

        threads = [threading.Thread(target=poll, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(queued for queued, _ in made) == 1 and sum(ran for _, ran in made) == 1
        with engines[0].transaction() as session:
            assert session.query(ReportRun).count() == 1
    finally:
        app.extensions["atrium.db"].dispose()


def test_a_schedule_survives_a_restart(db, services, clock):
    clock.set(datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc))
    first = make_app(db, services)
    _schedule_complaints(first, ["partner"])
    first.extensions["atrium.db"].dispose()  # the server stops before the firing
    clock.set(datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc))  # and comes back after two firings were due
    restarted = make_process_engine(db, services)  # nothing in memory: only what the database kept
    assert fire_due_schedules(restarted) == 1  # the two missed firings coalesce into one run
    assert run_pending_reports(restarted) == 1
    with restarted.transaction() as session:
        [run] = session.query(ReportRun).all()
        assert run.status == "succeeded" and run.period_from == date(2026, 11, 2)


def test_a_report_run_is_mailed_with_its_pdf_attached(db, services, clock, mailbox):
    clock.set(datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc))
    app = make_app(db, services, firm_email_domains=("firm.example",), **smtp_settings(mailbox.port))
    try:
        _schedule_complaints(app, ["cfo@firm.example"])
        clock.set(datetime(2026, 11, 2, 7, 0, 1, tzinfo=timezone.utc))
        engine = app.extensions["atrium.engine"]
        fire_due_schedules(engine)
        run_pending_reports(engine)
        assert send_queued_notifications(engine) == 1
        [message] = mailbox.to("cfo@firm.example")
        assert message["Subject"] == "Complaints, 2026-11-01 – 2026-11-01"
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == "complaints-2026-11-01.pdf"
        assert attachment.get_content().startswith(b"%PDF")
    finally:
        app.extensions["atrium.db"].dispose()
