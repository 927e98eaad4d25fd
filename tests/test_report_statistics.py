"""Every statistic against figures worked out by hand from a small seeded firm, on both backends:
filters (owners, service type, process), period boundaries (a row exactly at date_to is out) and
deleted clients (never counted)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from reports import charts
from reports.statistics import STATISTICS, clients, progress, satisfaction
from reports.tables import Filters
from storage.billing import Invoice, Payment
from storage.client_records import Complaint, Engagement, Feedback, FollowUp, ServiceRequest
from storage.clients import Client, ClientStatusChange
from storage.db import make_session_factory
from storage.definitions import ProcessDefinition
from storage.health import ClientHealthSnapshot
from storage.instances import ProcessInstance
from storage.tasks import Task, TaskCandidate

from .factories import make_client

H = timedelta(hours=1)
D = timedelta(days=1)
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
OCTOBER = Filters(date(2026, 10, 1), date(2026, 11, 1))
OCT_1, NOV_1 = datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 11, 1, tzinfo=timezone.utc)


def october(**filters) -> Filters:
    return Filters(OCTOBER.date_from, OCTOBER.date_to, **filters)


def oct_(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=timezone.utc)


def add_client(s, name, *, owner, tier, status, created, industry=None, changes=(), deleted=False) -> Client:
    """A client and its status history: created in the status its first change starts from (else `status`),
    then each (at, from, to) of `changes`."""
    first = changes[0][1] if changes else status
    client = make_client(
        s,
        name=name,
        tier=tier,
        status=status,
        owner=owner,
        industry=industry,
        created_at=created,
        deleted_at=created + H if deleted else None,
    )
    s.add(ClientStatusChange(client_id=client.id, from_status=None, to_status=first, changed_at=created))
    for at, before, after in changes:
        s.add(ClientStatusChange(client_id=client.id, from_status=before, to_status=after, changed_at=at))
    return client


def add_instance(s, definition, *, client=None, status="completed", started, hours=None) -> ProcessInstance:
    instance = ProcessInstance(
        id=uuid.uuid4(),
        definition_id=definition.id,
        process_key=definition.process_key,
        business_key=f"client:{client.id}" if client else None,
        status=status,
        state=b"x",
        lock_version=1,
        started_at=started,
        updated_at=started,
        ended_at=started + hours * H if hours is not None else None,
    )
    s.add(instance)
    s.flush()
    return instance


def add_task(
    s, instance, *, element="review", status="open", created, done_after=None, assignee=None, groups=(), users=()
) -> Task:
    task = Task(
        id=uuid.uuid4(),
        instance_id=instance.id,
        process_key=instance.process_key,
        element_id=element,
        name=element.title(),
        assignee=assignee,
        priority=50,
        status=status,
        created_at=created,
        completed_at=created + done_after if done_after is not None else None,
    )
    s.add(task)
    s.flush()
    s.add_all(
        [TaskCandidate(task_id=task.id, kind="group", name=g, offered=True) for g in groups]
        + [TaskCandidate(task_id=task.id, kind="user", name=u, offered=True) for u in users]
    )
    return task


def add_request(s, client, *, type, resolved=None, sla_due=None, assignee=None, closed=None, rating=None):
    request = ServiceRequest(
        client_id=client.id,
        type=type,
        title="Q",
        priority="normal",
        status="resolved",
        source="staff",
        sla_due_at=sla_due,
        assignee=assignee,
        resolved_at=resolved,
        closed_at=closed,
        rating=rating,
        created_at=OCT_1,
        updated_at=OCT_1,
    )
    s.add(request)
    s.flush()
    return request


def add_complaint(s, client, *, severity, received, ack_hours=None, resolved_hours=None):
    s.add(
        Complaint(
            client_id=client.id,
            severity=severity,
            description="x",
            status="registered",
            received_at=received,
            acknowledge_due_at=received + 24 * H,  # fixed at receipt (ATRIUM_COMPLAINT_ACKNOWLEDGE_HOURS 24)
            acknowledged_at=received + ack_hours * H if ack_hours is not None else None,
            resolved_at=received + resolved_hours * H if resolved_hours is not None else None,
            created_at=received,
            updated_at=received,
        )
    )


def add_feedback(s, client, *, csat, nps, at, about=None):
    s.add(
        Feedback(
            client_id=client.id,
            csat=csat,
            nps=nps,
            created_at=at,
            updated_at=at,
            subject_type="service_request" if about else None,
            subject_id=about.id if about else None,
        )
    )


@pytest.fixture
def sessions(db, clock):
    """The seeded firm. alice owns acme and birch, bob owns cedar and delta, carol owns elm; gone
    (alice's) is deleted and appears in every kind of record so each statistic shows it is left out."""
    clock.set(NOW)
    sessions = make_session_factory(db)
    with sessions.begin() as s:
        acme = add_client(s, "Acme", owner="alice", tier="A", status="active", created=oct_(3), industry="law")
        # birch went dormant, active again, dormant again in October: it became dormant once that month.
        birch = add_client(
            s,
            "Birch",
            owner="alice",
            tier="B",
            status="dormant",
            industry="tax",
            created=datetime(2026, 9, 10, tzinfo=timezone.utc),
            changes=[(oct_(15), "active", "dormant"), (oct_(16), "dormant", "active"), (oct_(17), "active", "dormant")],
        )
        # cedar: dormant in October, lost exactly at midnight on 1 November (November's, not October's).
        cedar = add_client(
            s,
            "Cedar",
            owner="bob",
            tier="A",
            status="former",
            industry="law",
            created=datetime(2026, 8, 1, tzinfo=timezone.utc),
            changes=[(oct_(20), "active", "dormant"), (NOV_1, "dormant", "former")],
        )
        add_client(s, "Delta", owner="bob", tier="C", status="prospect", created=NOV_1)  # exactly at date_to
        add_client(s, "Elm", owner="carol", tier="B", status="dormant", created=OCT_1)  # created dormant: new only
        gone = add_client(
            s,
            "Gone",
            owner="alice",
            tier="A",
            status="dormant",
            created=oct_(2),
            deleted=True,
            changes=[(oct_(5), "active", "dormant")],
        )

        approval = ProcessDefinition(
            process_key="approval",
            version=1,
            content_hash="a",
            source_name="a.bpmn",
            bpmn_xml="<x/>",
            spec_json="{}",
            start_events=[],
            form_ids={},
            deployed_at=OCT_1,
        )
        onboarding = ProcessDefinition(
            process_key="onboarding",
            version=1,
            content_hash="o",
            source_name="o.bpmn",
            bpmn_xml="<x/>",
            spec_json="{}",
            start_events=[],
            form_ids={},
            deployed_at=OCT_1,
        )
        s.add_all([approval, onboarding])
        s.flush()
        # Approvals that completed in October: 2 h, 4 h (acme), 10 h (cedar), 30 h (acme, started in September).
        first = add_instance(s, approval, client=acme, started=oct_(1), hours=2)
        add_instance(s, approval, client=acme, started=oct_(2), hours=4)
        add_instance(s, approval, client=cedar, started=oct_(3), hours=10)
        add_instance(s, approval, client=acme, started=datetime(2026, 9, 30, tzinfo=timezone.utc), hours=30)
        add_instance(s, approval, client=acme, started=oct_(31), hours=24)  # ended exactly at date_to
        add_instance(s, approval, client=acme, status="cancelled", started=oct_(5), hours=1)
        add_instance(s, approval, client=gone, started=oct_(4), hours=100)
        running = add_instance(s, approval, client=acme, status="active", started=oct_(6))
        add_instance(s, onboarding, started=oct_(10), hours=48)
        stuck = add_instance(s, onboarding, status="error", started=oct_(11))
        # Acme's health score fell in October from a new open complaint (tests/test_health_report.py has the rest).
        for week, score, reasons in ((date(2026, 9, 28), 95, []), (date(2026, 10, 26), 85, ["complaint_open"])):
            s.add(
                ClientHealthSnapshot(
                    client_id=acme.id,
                    week=week,
                    score=score,
                    band="healthy",
                    reasons=[{"rule": f"rule_{r}", "reason": r, "points": -10} for r in reasons],
                    computed_at=datetime(week.year, week.month, week.day, tzinfo=timezone.utc),
                )
            )
        # Acme was invoiced 1,130 in October and paid 500 of it (tests/test_finance_views.py has the rest).
        billed = Engagement(
            client_id=acme.id, service_type="tax", status="active", created_at=oct_(1), updated_at=oct_(1)
        )
        s.add(billed)
        s.flush()
        invoice = Invoice(
            number="INV-1",
            engagement_id=billed.id,
            client_id=acme.id,
            currency="CNY",
            net_amount=Decimal("1000.00"),
            tax_amount=Decimal("130.00"),
            total_amount=Decimal("1130.00"),
            paid_amount=Decimal("500.00"),
            issue_date=date(2026, 10, 5),
            due_date=date(2026, 11, 4),
            created_at=oct_(5),
            updated_at=oct_(5),
        )
        s.add(invoice)
        s.flush()
        s.add(
            Payment(
                invoice_id=invoice.id,
                client_id=acme.id,
                amount=Decimal("500.00"),
                paid_on=date(2026, 10, 20),
                recorded_at=oct_(20),
            )
        )

        # Open tasks, by age now: 0.5 d alice, 2 d manager+partner, 10 d manager, 45 d alice, exactly 1 d bob,
        # 5 d offered to a user only; 40 d partner (onboarding, no client); one of gone's (left out).
        add_task(s, running, created=NOW - 0.5 * D, assignee="alice")
        add_task(s, running, created=NOW - 2 * D, groups=("manager", "partner"))
        add_task(s, running, created=NOW - 10 * D, groups=("manager",))
        add_task(s, running, created=NOW - 45 * D, assignee="alice")
        add_task(s, running, created=NOW - D, assignee="bob")
        add_task(s, running, created=NOW - 5 * D, users=("carol",))
        add_task(s, stuck, created=NOW - 40 * D, groups=("partner",))
        gone_instance = s.query(ProcessInstance).filter_by(business_key=f"client:{gone.id}").one()
        add_task(s, gone_instance, created=NOW - 0.5 * D, assignee="alice")
        add_task(s, gone_instance, status="completed", created=oct_(4), done_after=H)
        # Completed in October: review after 1, 3, 5 h, sign after 2 h; review done exactly at date_to and
        # a cancelled one are out.
        for hours in (1, 3, 5):
            add_task(s, first, status="completed", created=oct_(1), done_after=hours * H)
        add_task(s, first, element="sign", status="completed", created=oct_(2), done_after=2 * H)
        add_task(s, first, status="completed", created=oct_(31, 22), done_after=2 * H)
        add_task(s, first, status="cancelled", created=oct_(3), done_after=H)

        # Service requests resolved in October with an SLA: r1 early, r2 exactly on time, r3 late; r4 has
        # none, r5 is resolved at date_to, gone's is left out. Closing ratings: tax 5, audit 3 and 2, it 4.
        r1 = add_request(
            s,
            acme,
            type="tax",
            resolved=oct_(5, 10),
            sla_due=oct_(5, 12),
            assignee="dave",
            closed=oct_(5, 12),
            rating=5,
        )
        r2 = add_request(s, acme, type="tax", resolved=oct_(6, 12), sla_due=oct_(6, 12))
        r3 = add_request(
            s, acme, type="audit", resolved=oct_(7), sla_due=oct_(6), assignee="erin", closed=oct_(8), rating=3
        )
        r4 = add_request(s, cedar, type="audit", resolved=oct_(8), assignee="erin", closed=oct_(9), rating=2)
        add_request(s, acme, type="tax", resolved=NOV_1, sla_due=oct_(31), closed=NOV_1, rating=1)
        add_request(s, acme, type="it", closed=oct_(20), rating=4)
        add_request(s, gone, type="tax", resolved=oct_(5), sla_due=oct_(6), closed=oct_(6), rating=1)

        # Complaints received in October (acknowledgement window 24 h): k1 after 2 h, k2 after exactly
        # 24 h (both met), k3 after 30 h, k4 never (both missed). Resolved: k1 after 10 h, k2 after 30 h.
        add_complaint(s, acme, severity="high", received=oct_(2), ack_hours=2, resolved_hours=10)
        add_complaint(s, acme, severity="high", received=oct_(3), ack_hours=24, resolved_hours=30)
        add_complaint(s, cedar, severity="low", received=oct_(4), ack_hours=30)
        add_complaint(s, acme, severity="medium", received=oct_(5))
        add_complaint(s, acme, severity="high", received=NOV_1, ack_hours=1, resolved_hours=2)
        add_complaint(
            s,
            acme,
            severity="medium",
            received=datetime(2026, 9, 28, tzinfo=timezone.utc),
            ack_hours=1,
            resolved_hours=100,
        )  # received in September, resolved on 2 October
        add_complaint(s, gone, severity="critical", received=oct_(5), ack_hours=1, resolved_hours=1)

        # Follow-ups overdue now: birch's 3 days ago, acme's on 1 September, cedar's 10 days ago; not:
        # birch's in 3 days, cedar's done one, gone's.
        for client, planned, done in (
            (birch, NOW - 3 * D, None),
            (birch, NOW + 3 * D, None),
            (cedar, NOW - D, NOW),
            (cedar, NOW - 10 * D, None),
            (acme, datetime(2026, 9, 1, tzinfo=timezone.utc), None),
            (gone, NOW - D, None),
        ):
            s.add(
                FollowUp(
                    client_id=client.id,
                    planned_at=planned,
                    done_at=done,
                    channel="call",
                    created_at=OCT_1,
                    updated_at=OCT_1,
                )
            )

        # Feedback in October (csat, nps): (5, 10) on r1, (4, 8) on r3, (4, 3) birch's, (1, 0) on r4,
        # (2, -) on r2, (-, 7) acme's. Out: one at date_to, one on 30 September 23:00, gone's.
        add_feedback(s, acme, csat=5, nps=10, at=oct_(6), about=r1)
        add_feedback(s, acme, csat=4, nps=8, at=oct_(9), about=r3)
        add_feedback(s, birch, csat=4, nps=3, at=oct_(10))
        add_feedback(s, cedar, csat=1, nps=0, at=oct_(11), about=r4)
        add_feedback(s, acme, csat=2, nps=None, at=oct_(12), about=r2)
        add_feedback(s, acme, csat=None, nps=7, at=oct_(13))
        add_feedback(s, acme, csat=3, nps=9, at=NOV_1, about=r1)
        add_feedback(s, acme, csat=1, nps=0, at=OCT_1 - H)
        add_feedback(s, gone, csat=5, nps=10, at=oct_(6))
    return sessions


def _rows(sessions, statistic, filters=OCTOBER, **options) -> list[tuple]:
    """The statistic's rows, floats rounded to 6 places (both backends' arithmetic agree to that)."""
    with sessions() as session:
        rows = statistic(session, filters, **options).rows
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


def test_clients_at_the_end_of_the_period_by_tier_status_industry_and_owner(sessions):
    # Counted: acme, birch, cedar, elm; delta (created at date_to) and gone (deleted) are not.
    assert _rows(sessions, clients.clients_by_tier) == [("A", 2), ("B", 2)]
    assert _rows(sessions, clients.clients_by_status) == [("dormant", 2), ("active", 1), ("former", 1)]
    assert _rows(sessions, clients.clients_by_industry) == [("law", 2), ("(none)", 1), ("tax", 1)]
    assert _rows(sessions, clients.clients_by_owner) == [("alice", 2), ("bob", 1), ("carol", 1)]
    assert _rows(sessions, clients.clients_by_tier, october(owners=("bob",))) == [("A", 1)]
    assert _rows(sessions, clients.clients_by_owner, Filters(date(2026, 10, 1), date(2026, 11, 2))) == [
        ("alice", 2),
        ("bob", 2),
        ("carol", 1),
    ]  # a day later delta is on the books


def test_client_movements_per_month_from_the_status_history(sessions):
    # October: new acme and elm (gone is deleted); became dormant birch (once) and cedar; cedar was
    # lost at date_to, in November, when delta is new. September: birch new.
    assert _rows(sessions, clients.client_movements) == [("2026-10", 2, 2, 0)]
    autumn = Filters(date(2026, 9, 1), date(2026, 12, 1))
    assert _rows(sessions, clients.client_movements, autumn) == [
        ("2026-09", 1, 0, 0),
        ("2026-10", 2, 2, 0),
        ("2026-11", 1, 0, 1),
    ]
    assert _rows(sessions, clients.client_movements, october(owners=("alice",))) == [("2026-10", 1, 1, 0)]


def test_instances_started_in_the_period_by_process_and_status(sessions):
    # Approvals started in October: four completed, the cancelled one, the running one (the one from
    # September and gone's are out). Onboardings: one completed, one stopped at an error.
    # Columns: process, started, active, completed, cancelled, error.
    assert _rows(sessions, progress.instances_by_process_status) == [
        ("approval", 6, 1, 4, 1, 0),
        ("onboarding", 2, 0, 1, 0, 1),
    ]
    assert _rows(sessions, progress.instances_by_process_status, october(process_key="onboarding")) == [
        ("onboarding", 2, 0, 1, 0, 1)
    ]
    # Bob's clients: cedar's approval; onboardings have no client.
    assert _rows(sessions, progress.instances_by_process_status, october(owners=("bob",))) == [
        ("approval", 1, 0, 1, 0, 0)
    ]


def test_open_tasks_by_age_and_by_assignee_or_group(sessions):
    # < 1 d: 0.5 d; 1-3 d: exactly 1 d and 2 d; 3-7 d: 5 d; 7-30 d: 10 d; > 30 d: 40 d and 45 d.
    assert _rows(sessions, progress.open_tasks_by_age) == [
        ("< 1 day", 1),
        ("1-3 days", 2),
        ("3-7 days", 1),
        ("7-30 days", 1),
        ("> 30 days", 2),
    ]
    assert _rows(sessions, progress.open_tasks_by_age, october(process_key="onboarding")) == [
        ("< 1 day", 0),
        ("1-3 days", 0),
        ("3-7 days", 0),
        ("7-30 days", 0),
        ("> 30 days", 1),
    ]
    # alice holds two, bob one; unclaimed: manager 2 d and 10 d, partner 2 d and the onboarding's,
    # the one offered to carol only has no group.
    assert _rows(sessions, progress.open_tasks_by_assignee) == [
        ("alice", "user", 2),
        ("manager", "group", 2),
        ("partner", "group", 2),
        ("(no group)", "group", 1),
        ("bob", "user", 1),
    ]
    assert _rows(sessions, progress.open_tasks_by_assignee, october(owners=("alice",))) == [
        ("alice", "user", 2),
        ("manager", "group", 2),
        ("(no group)", "group", 1),
        ("bob", "user", 1),
        ("partner", "group", 1),
    ]


def test_cycle_times_are_medians_and_90th_percentiles_interpolated_between_ranks(sessions):
    # Approvals ended in October: 2, 4, 10, 30 h. Median at rank 1 + 0.5 * 3 = 2.5: 4 + 0.5 * 6 = 7;
    # p90 at rank 1 + 0.9 * 3 = 3.7: 10 + 0.7 * 20 = 24. The onboarding: 48 h.
    assert _rows(sessions, progress.cycle_time_by_process) == [
        ("approval", 4, 7.0, 24.0),
        ("onboarding", 1, 48.0, 48.0),
    ]
    # alice's: 2, 4, 30 h: median 4; p90 at rank 2.8: 4 + 0.8 * 26 = 24.8.
    assert _rows(sessions, progress.cycle_time_by_process, october(owners=("alice",))) == [("approval", 3, 4.0, 24.8)]
    assert _rows(sessions, progress.cycle_time_by_process, october(process_key="onboarding")) == [
        ("onboarding", 1, 48.0, 48.0)
    ]
    # Reviews done in October: 1, 3, 5 h: median 3, p90 at rank 2.8: 3 + 0.8 * 2 = 4.6. Sign: 2 h.
    assert _rows(sessions, progress.cycle_time_by_task) == [
        ("approval", "review", "Review", 3, 3.0, 4.6),
        ("approval", "sign", "Sign", 1, 2.0, 2.0),
    ]
    assert _rows(sessions, progress.cycle_time_by_task, october(process_key="onboarding")) == []


def test_sla_compliance_of_requests_and_complaint_acknowledgement(sessions):
    # Requests: r1 early and r2 on time met, r3 late: 2 of 3. Complaints (due 24 h after receipt): k1 (2 h)
    # and k2 (exactly 24 h) met, k3 (30 h) and k4 (never) missed: 2 of 4.
    assert _rows(sessions, progress.sla_compliance) == [
        ("Service requests resolved within SLA", 3, 2, round(2 / 3, 6)),
        ("Complaints acknowledged in time", 4, 2, 0.5),
    ]
    # Tax requests: r1 and r2, both met; complaints are not about a service type.
    assert _rows(sessions, progress.sla_compliance, october(service_type="tax"))[0] == (
        "Service requests resolved within SLA",
        2,
        2,
        1.0,
    )
    assert _rows(sessions, progress.sla_compliance, october(owners=("bob",))) == [
        ("Service requests resolved within SLA", 0, 0, None),
        ("Complaints acknowledged in time", 1, 0, 0.0),
    ]
    # Each complaint is measured against its own stored due time: one received under a 48 h window
    # (k3, acknowledged after 30 h) met it.
    with sessions() as session:
        k3 = session.scalars(select(Complaint).where(Complaint.received_at == oct_(4))).one()
        k3.acknowledge_due_at = k3.received_at + 48 * H
        session.commit()
    assert _rows(sessions, progress.sla_compliance)[1] == ("Complaints acknowledged in time", 4, 3, 0.75)


def test_overdue_follow_ups_by_owner(sessions):
    assert _rows(sessions, progress.overdue_follow_ups) == [("alice", 2), ("bob", 1)]
    assert _rows(sessions, progress.overdue_follow_ups, october(owners=("bob",))) == [("bob", 1)]


def test_csat_distribution_and_nps(sessions):
    # October's CSATs: 5, 4, 4, 1, 2: average 16 / 5 = 3.2.
    with sessions() as session:
        csat = satisfaction.csat_distribution(session, OCTOBER)
    assert csat.rows == [(1, 1, 0.2), (2, 1, 0.2), (3, 0, 0.0), (4, 2, 0.4), (5, 1, 0.2)]
    assert csat.note == "5 ratings; average 3.20."
    # Tax requests' feedback: 5 (r1) and 2 (r2).
    assert [n for _, n, _ in _rows(sessions, satisfaction.csat_distribution, october(service_type="tax"))] == [
        0,
        1,
        0,
        0,
        1,
    ]
    # NPS 10, 8, 3, 0, 7: one promoter, two passives, two detractors: (1 - 2) / 5 = -20.
    with sessions() as session:
        nps = satisfaction.nps_summary(session, OCTOBER)
    assert nps.rows == [("Promoters (9-10)", 1, 0.2), ("Passives (7-8)", 2, 0.4), ("Detractors (0-6)", 2, 0.4)]
    assert nps.note.startswith("NPS -20 from 5 responses.")


def test_satisfaction_per_month(sessions):
    # October: six feedback rows; CSAT 16 / 5 = 3.2; NPS -20 (above). November: the one at date_to
    # (csat 3, nps 9: NPS 100). September: the one at 23:00 on the 30th (csat 1, nps 0: NPS -100).
    assert _rows(sessions, satisfaction.satisfaction_trend) == [("2026-10", 6, 3.2, -20.0)]
    autumn = Filters(date(2026, 9, 1), date(2026, 12, 1))
    assert _rows(sessions, satisfaction.satisfaction_trend, autumn) == [
        ("2026-09", 1, 1.0, -100.0),
        ("2026-10", 6, 3.2, -20.0),
        ("2026-11", 1, 3.0, 100.0),
    ]
    # alice's: 5, 4, 4, 2 -> 3.75; NPS 10, 8, 3, 7 -> (1 - 1) / 4 = 0.
    assert _rows(sessions, satisfaction.satisfaction_trend, october(owners=("alice",))) == [("2026-10", 5, 3.75, 0.0)]
    assert _rows(sessions, satisfaction.satisfaction_trend, Filters(date(2026, 12, 1), date(2027, 1, 1))) == [
        ("2026-12", 0, None, None)
    ]


def test_satisfaction_by_service_type_and_by_employee(sessions):
    # Feedback CSAT on requests: tax 5 (r1), 2 (r2) -> 3.5; audit 4 (r3), 1 (r4) -> 2.5. Closing ratings of
    # requests closed in October: tax 5 (r1; r5 closed at date_to), audit 3 and 2 -> 2.5, it 4.
    # Columns: type, responses, CSAT average, closing ratings, closing rating average.
    assert _rows(sessions, satisfaction.satisfaction_by_service_type) == [
        ("audit", 2, 2.5, 2, 2.5),
        ("it", 0, None, 1, 4.0),
        ("tax", 2, 3.5, 1, 5.0),
    ]
    assert _rows(sessions, satisfaction.satisfaction_by_service_type, october(service_type="tax")) == [
        ("tax", 2, 3.5, 1, 5.0)
    ]
    assert _rows(sessions, satisfaction.satisfaction_by_service_type, october(owners=("bob",))) == [
        ("audit", 1, 1.0, 1, 2.0)
    ]
    # By the request's assignee: r2 nobody's (2), dave r1 (5), erin r3 and r4 (4, 1 -> 2.5).
    assert _rows(sessions, satisfaction.satisfaction_by_employee) == [
        ("(unassigned)", 1, 2.0),
        ("dave", 1, 5.0),
        ("erin", 2, 2.5),
    ]
    assert _rows(sessions, satisfaction.satisfaction_by_employee, october(service_type="audit")) == [("erin", 2, 2.5)]


def test_complaints_by_severity_and_per_month(sessions):
    # High: k1 and k2, resolved after 10 and 30 h: median 20, p90 at rank 1.9: 10 + 0.9 * 20 = 28.
    # Medium k4 and low k3 unresolved; gone's critical one is left out.
    assert _rows(sessions, satisfaction.complaints_by_severity) == [
        ("high", 2, 2, 20.0, 28.0),
        ("medium", 1, 0, None, None),
        ("low", 1, 0, None, None),
    ]
    assert _rows(sessions, satisfaction.complaints_by_severity, october(owners=("bob",))) == [("low", 1, 0, None, None)]
    # Received and resolved per month, zero-filled: September's is resolved in October with k1 and k2;
    # November's is the one received (and resolved) at date_to.
    autumn = Filters(date(2026, 9, 1), date(2026, 12, 1))
    assert _rows(sessions, satisfaction.complaints_trend, autumn) == [
        ("2026-09", 1, 0),
        ("2026-10", 4, 3),
        ("2026-11", 1, 1),
    ]
    assert _rows(sessions, satisfaction.complaints_trend, Filters(date(2026, 8, 1), date(2026, 9, 1))) == [
        ("2026-08", 0, 0)
    ]


def test_every_statistic_is_a_table_with_a_chart_the_renderer_draws(sessions):
    with sessions() as session:
        for name, statistic in STATISTICS.items():
            table = statistic(session, Filters(date(2026, 9, 1), date(2026, 12, 1)))
            assert table.name == name and table.note and all(len(row) == len(table.columns) for row in table.rows)
            assert table.chart is not None and charts.svg(table).startswith("<svg"), name
