"""The `relationships` report on a small seeded firm: scores by band and tier, movements over the period,
and the reasons behind the falls, from the weekly health snapshots."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from atrium.health import recompute_health
from reports.statistics.relationships import health_by_band_and_tier, health_fall_reasons, health_movements
from reports.tables import Filters
from storage.client_records import Complaint, Engagement, Feedback

from .conftest import LONG_TOKENS
from .factories import make_client
from .test_health import deploy_table


def _complaint(session, client_id, now, severity="critical"):
    session.add(
        Complaint(
            client_id=client_id,
            severity=severity,
            description="late",
            status="registered",
            received_at=now,
            created_at=now,
            updated_at=now,
        )
    )


def _seed(process_engine, clock) -> dict:
    """Five clients scored on Monday 5 January 2026 and again two weeks later, after:
    Anchor (A, amy's) gains two critical complaints and poor feedback (fell, newly at risk); Birch (B, amy's)
    a low complaint (fell); Cedar (A, bob's) an engagement (improved); Delta and Elm (C, bob's) stay."""
    deploy_table(process_engine)
    start = clock.now()
    with process_engine.transaction() as session:
        ids = {}
        for name, tier, owner in (
            ("Anchor", "A", "amy"),
            ("Birch", "B", "amy"),
            ("Cedar", "A", "bob"),
            ("Delta", "C", "bob"),
            ("Elm", "C", "bob"),
        ):
            ids[name] = make_client(session, name=name, tier=tier, owner=owner).id
        for name in ("Anchor", "Birch", "Delta", "Elm"):
            session.add(
                Engagement(client_id=ids[name], service_type="tax", status="active", created_at=start, updated_at=start)
            )
        _complaint(session, ids["Anchor"], start, "low")
        recompute_health(session, process_engine.settings)
    clock.advance(timedelta(days=14))
    now = clock.now()
    with process_engine.transaction() as session:
        _complaint(session, ids["Anchor"], now)
        _complaint(session, ids["Anchor"], now)
        session.add(Feedback(client_id=ids["Anchor"], csat=1, nps=2, created_at=now, updated_at=now))
        _complaint(session, ids["Birch"], now, "low")
        session.add(
            Engagement(client_id=ids["Cedar"], service_type="audit", status="active", created_at=now, updated_at=now)
        )
        recompute_health(session, process_engine.settings)
    return ids


JANUARY = Filters(date(2026, 1, 5), date(2026, 2, 1))


def test_scores_by_band_and_tier_at_the_end_of_the_period(process_engine, clock):
    _seed(process_engine, clock)
    with process_engine.transaction() as session:
        table = health_by_band_and_tier(session, JANUARY)
        # Anchor: 100 - 25 - 10 (3 open) - 20 csat - 15 nps + 5 = 35; Birch 100 - 10 + 5 = 95;
        # Cedar, Delta, Elm 105 -> 100.
        assert [row for row in table.rows if row[2]] == [
            ("Healthy", "A", 1, 100.0),
            ("Healthy", "B", 1, 95.0),
            ("Healthy", "C", 2, 100.0),
            ("At risk", "A", 1, 35.0),
        ]
        assert len(table.rows) == 9 and ("Watch", "B", 0, None) in table.rows
        assert "2026-01-19" in table.note
        own = health_by_band_and_tier(session, Filters(JANUARY.date_from, JANUARY.date_to, owners=("amy",)))
        assert [row for row in own.rows if row[2]] == [("Healthy", "B", 1, 95.0), ("At risk", "A", 1, 35.0)]


def test_movements_count_improved_fell_unchanged_and_newly_at_risk(process_engine, clock):
    _seed(process_engine, clock)
    with process_engine.transaction() as session:
        table = health_movements(session, JANUARY)
        assert dict(table.rows) == {"Improved": 1, "Fell": 2, "Unchanged": 2, "Newly at risk": 1}
        bobs = health_movements(session, Filters(JANUARY.date_from, JANUARY.date_to, owners=("bob",)))
        assert dict(bobs.rows) == {"Improved": 1, "Fell": 0, "Unchanged": 2, "Newly at risk": 0}
        # A period with one scored week has no movements.
        first_week = health_movements(session, Filters(date(2026, 1, 5), date(2026, 1, 12)))
        assert dict(first_week.rows) == {"Improved": 0, "Fell": 0, "Unchanged": 0, "Newly at risk": 0}


def test_the_reasons_most_often_behind_a_fall(process_engine, clock):
    _seed(process_engine, clock)
    with process_engine.transaction() as session:
        table = health_fall_reasons(session, JANUARY)
    # Anchor's new reasons (its open complaint was low before); Birch's "open complaint" it had not before.
    # Each explains one fall: ties in the order of their keys.
    assert table.rows == [
        ("An open complaint", 1, -10.0),
        ("An open complaint of high or critical severity", 1, -25.0),
        ("Three or more open complaints", 1, -10.0),
        ("Satisfaction (CSAT) below 3 in the last 90 days", 1, -20.0),
        ("NPS of a detractor (0-6) in the last 90 days", 1, -15.0),
    ]


@pytest.mark.app(token_ttl_seconds=LONG_TOKENS)
def test_the_relationships_report_renders_through_the_api(app, clock, people):
    engine = app.extensions["atrium.engine"]
    _seed(engine, clock)
    response = people["partner"].get("/api/reports/relationships?from=2026-01-05&to=2026-01-31")
    assert response.status_code == 200, response.json
    names = [table["name"] for table in response.json["tables"]]
    assert names == ["health_by_band_and_tier", "health_movements", "health_fall_reasons"]
    pdf = people["partner"].get("/api/reports/relationships?from=2026-01-05&to=2026-01-31&format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
