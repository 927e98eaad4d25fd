"""The client health score: the deployed decision table scores the signals the firm records, the reasons
name the rules that fired, and deploying a new version of the table changes the scores."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from atrium.errors import DefinitionInvalid
from atrium.health import SIGNALS, client_signals, recompute_health
from engine.decision_tables import compile_decision, parse_decision
from engine.definitions import SourceFile
from engine.deployments import deploy
from storage.client_records import Complaint, Engagement, Feedback, FollowUp, ServiceRequest
from storage.health import ClientHealth, ClientHealthSnapshot

from .factories import make_client

TABLE = Path(__file__).resolve().parent.parent / "processes" / "client_health.dmn"


def deploy_table(process_engine, xml: str | None = None):
    with process_engine.transaction() as session:
        return deploy(process_engine, session, [SourceFile("client_health.dmn", (xml or TABLE.read_text()).encode())])


def reweighted(**points: int) -> str:
    """The shipped table with some rules' points changed (rule id without `rule_` -> points)."""
    xml = TABLE.read_text()
    for rule, value in points.items():
        start = xml.index(f'<outputEntry id="{rule}_points"><text>')
        end = xml.index("</text>", start)
        xml = xml[: start + len(f'<outputEntry id="{rule}_points"><text>')] + str(value) + xml[end:]
    return xml


def test_compiled_table_agrees_with_spiffworkflows_dmn_engine_on_many_signal_combinations():
    decision = parse_decision(TABLE.read_text())
    compiled = compile_decision(decision)
    spiff = DMNEngine(decision.decisionTables[0])
    script_engine = PythonScriptEngine()
    # Values on and around every threshold the table uses, and random ones.
    edges = [0, 0.5, 1, 1.01, 2, 2.5, 3, 4, 4.5, 5, 6.99, 7, 9, 10, 12, -1, -1.5, -0.5]
    rng = random.Random(14)
    combinations = [dict.fromkeys(SIGNALS, value) for value in edges]
    combinations += [{name: rng.choice(edges) for name in SIGNALS} for _ in range(3000)]
    for signals in combinations:
        task = SimpleNamespace(data=dict(signals), workflow=SimpleNamespace(script_engine=script_engine))
        expected = spiff.result(task)
        fired = compiled.evaluate(tuple(signals[name] for name in compiled.inputs))
        assert [rule.outputs["points"] for rule in fired] == expected.get("points", []), signals
        assert [rule.outputs["reason"] for rule in fired] == expected.get("reason", []), signals


def test_a_cell_the_evaluator_cannot_compile_is_refused_at_deploy_naming_rule_and_cell(process_engine):
    bad = TABLE.read_text().replace(
        '<inputEntry id="csat_low_csat_avg"><text>&lt; 3</text>',
        '<inputEntry id="csat_low_csat_avg"><text>abs(?) &lt; 3</text>',
    )
    with pytest.raises(DefinitionInvalid) as refused:
        deploy_table(process_engine, bad)
    (problem,) = refused.value.problems
    assert problem.element_id == "client_health"
    assert "rule rule_csat_low" in problem.message and "input 'csat_avg'" in problem.message
    assert "abs(?) < 3" in problem.message


def test_a_deployed_table_reading_an_unknown_signal_is_refused_when_scoring(process_engine):
    deploy_table(process_engine, TABLE.read_text().replace("<text>requests_90d</text>", "<text>mood</text>"))
    with process_engine.transaction() as session, pytest.raises(DefinitionInvalid) as refused:
        recompute_health(session, process_engine.settings)
    assert "unknown input mood" in str(refused.value.problems[0])
    deploy_table(process_engine, TABLE.read_text().replace('hitPolicy="COLLECT"', 'hitPolicy="UNIQUE"'))
    with process_engine.transaction() as session, pytest.raises(DefinitionInvalid) as refused:
        recompute_health(session, process_engine.settings)
    assert "the hit policy must be COLLECT" in str(refused.value.problems[0])


def _records(session, client, *, now):
    """An unhappy client: a critical open complaint, low and falling CSAT, an SLA breach, an overdue
    follow-up, no active engagement, last contacted 70 days ago (tier A: monthly)."""
    ago = lambda days: now - timedelta(days=days)  # noqa: E731
    session.add_all(
        [
            Complaint(
                client_id=client.id,
                severity="critical",
                description="late filing",
                status="investigating",
                received_at=ago(5),
                created_at=ago(5),
                updated_at=ago(5),
            ),
            Complaint(
                client_id=client.id,
                severity="low",
                description="tone",
                status="closed",
                received_at=ago(40),
                created_at=ago(40),
                updated_at=ago(40),
            ),
            Feedback(client_id=client.id, csat=2, created_at=ago(10), updated_at=ago(10)),
            Feedback(client_id=client.id, csat=2, created_at=ago(20), updated_at=ago(20)),
            Feedback(client_id=client.id, csat=5, created_at=ago(120), updated_at=ago(120)),
            ServiceRequest(
                client_id=client.id,
                title="VAT",
                status="resolved",
                created_at=ago(70),
                updated_at=ago(60),
                sla_due_at=ago(69),
                resolved_at=ago(60),
            ),
            FollowUp(client_id=client.id, planned_at=ago(30), created_at=ago(30), updated_at=ago(30)),
            FollowUp(
                client_id=client.id, planned_at=ago(100), done_at=ago(90), created_at=ago(100), updated_at=ago(90)
            ),
            Engagement(
                client_id=client.id, service_type="audit", status="completed", created_at=ago(200), updated_at=ago(100)
            ),
        ]
    )
    session.flush()


def test_a_client_is_scored_from_its_records_with_the_rules_that_fired_as_reasons(process_engine, clock):
    deploy_table(process_engine)
    with process_engine.transaction() as session:
        unhappy = make_client(session, name="Harbour Logistics", tier="A", owner="amy")
        content = make_client(session, name="Lotus Trading", tier="C", owner="amy")
        session.add(
            Engagement(
                client_id=content.id,
                service_type="tax",
                status="active",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        _records(session, unhappy, now=clock.now())
        prospect = make_client(session, name="Not Yet Ltd", status="prospect")
        signals = client_signals(session, process_engine.settings)
        assert prospect.id not in signals
        assert signals[unhappy.id] == {
            "contact_ratio": pytest.approx(70 / 30, abs=0.1),
            "open_complaints": 1,
            "worst_severity": 4,
            "csat_ratings": 2,
            "csat_avg": 2.0,
            "csat_trend": -3.0,
            "nps_ratings": 0,
            "nps_avg": 0,
            "overdue_follow_ups": 1,
            "requests_90d": 1,
            "sla_breaches_90d": 1,
            "active_engagements": 0,
            "days_since_contact": 70.0,
        }
        assert recompute_health(session, process_engine.settings) == 2
    with process_engine.transaction() as session:
        health = session.get(ClientHealth, unhappy.id)
        assert [r["reason"] for r in health.reasons] == [
            "no_contact_long",
            "complaint_serious",
            "csat_low",
            "csat_falling",
            "follow_up_overdue",
            "sla_breached",
            "no_engagement",
        ]
        assert health.score == 0 and health.band == "at_risk" and health.table_version == 1
        good = session.get(ClientHealth, content.id)
        assert good.score == 100 and good.band == "healthy"
        assert [r["reason"] for r in good.reasons] == ["engagement_active"]
        assert session.query(ClientHealthSnapshot).count() == 2


def test_deploying_new_weights_changes_the_score_and_names_the_table_version(process_engine, clock):
    deploy_table(process_engine)
    with process_engine.transaction() as session:
        client = make_client(session, name="Harbour Logistics", tier="B", owner="amy")
        recompute_health(session, process_engine.settings)
    with process_engine.transaction() as session:
        before = session.get(ClientHealth, client.id)
        assert (before.score, before.band, before.table_version) == (90, "healthy", 1)
        assert before.reasons == [{"rule": "rule_no_engagement", "reason": "no_engagement", "points": -10}]
    # The file on disk is not what counts: only a deployment changes the score.
    deploy_table(process_engine, reweighted(no_engagement=-45))
    with process_engine.transaction() as session:
        recompute_health(session, process_engine.settings)
    with process_engine.transaction() as session:
        after = session.get(ClientHealth, client.id)
        assert (after.score, after.band, after.table_version) == (55, "watch", 2)
        assert after.reasons == [{"rule": "rule_no_engagement", "reason": "no_engagement", "points": -45}]


def test_recomputing_in_the_same_week_keeps_one_snapshot_and_a_new_week_adds_one(process_engine, clock):
    deploy_table(process_engine)
    with process_engine.transaction() as session:
        make_client(session, name="Harbour Logistics", owner="amy")
        recompute_health(session, process_engine.settings)
        recompute_health(session, process_engine.settings)
        assert session.query(ClientHealthSnapshot).count() == 1
    clock.advance(timedelta(days=7))
    with process_engine.transaction() as session:
        recompute_health(session, process_engine.settings)
        assert session.query(ClientHealthSnapshot).count() == 2
        assert session.query(ClientHealth).count() == 1


def test_clients_beyond_the_thresholds_fall_in_each_band(process_engine, clock):
    deploy_table(process_engine)
    with process_engine.transaction() as session:
        ids = [make_client(session, name=f"Client {n}", owner="amy").id for n in range(3)]
        for client_id, complaints in zip(ids, (0, 1, 3), strict=True):
            for _ in range(complaints):
                session.add(
                    Complaint(
                        client_id=client_id,
                        severity="high",
                        description="x",
                        status="registered",
                        received_at=clock.now(),
                        created_at=clock.now(),
                        updated_at=clock.now(),
                    )
                )
        recompute_health(session, process_engine.settings)
    with process_engine.transaction() as session:
        scores = {c: (session.get(ClientHealth, c).score, session.get(ClientHealth, c).band) for c in ids}
    # 100 - 10 (no engagement); - 25 (serious); - 25 - 10 (three or more)
    assert scores == {ids[0]: (90, "healthy"), ids[1]: (65, "watch"), ids[2]: (55, "watch")}


def _at_risk(session, client, *, now):
    """Enough trouble for a score below 40: two critical complaints, no contact for long, no engagement."""
    for _ in range(3):
        session.add(
            Complaint(
                client_id=client.id,
                severity="critical",
                description="missed deadline",
                status="registered",
                received_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    session.flush()


def test_each_owner_is_mailed_once_a_week_exactly_their_at_risk_clients_in_their_language(process_engine, clock):
    from atrium.health import daily_health
    from storage.notifications import Notification

    from .factories import make_account

    deploy_table(process_engine)
    clock.advance(timedelta(days=400))  # the clients' creation is long ago: no contact since
    with process_engine.transaction() as session:
        make_account(session, "amy", roles=("account_manager",))
        make_account(session, "li", roles=("account_manager",), locale="zh-CN")
        amys = [
            make_client(session, name=n, owner="amy", created_at=clock.now() - timedelta(days=300))
            for n in ("Harbour Logistics", "Pearl Imports", "Quiet Ltd")
        ]
        lis = make_client(session, name="Lotus Trading", owner="li", created_at=clock.now() - timedelta(days=300))
        _at_risk(session, amys[0], now=clock.now())
        _at_risk(session, amys[1], now=clock.now())
        _at_risk(session, lis, now=clock.now())
        # Quiet Ltd: an active engagement and a recent follow-up keep it healthy.
        session.add(
            Engagement(
                client_id=amys[2].id,
                service_type="tax",
                status="active",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    assert daily_health(process_engine) == 4
    assert daily_health(process_engine) is None  # once a day
    with process_engine.transaction() as session:
        mails = {n.recipient: n for n in session.query(Notification).filter_by(kind="health_at_risk")}
    assert set(mails) == {"amy", "li"}
    amy, li = mails["amy"].body, mails["li"].body
    assert "Harbour Logistics" in amy and "Pearl Imports" in amy
    assert "Quiet Ltd" not in amy and "Lotus Trading" not in amy
    assert "Lotus Trading" in li and "Harbour Logistics" not in li
    assert mails["amy"].subject.startswith("2 of your clients at risk")
    assert "位客户存在风险" in mails["li"].subject and "健康评分低于40" in li
    # Later in the same ISO week the day's recompute mails nobody again; the next week mails both again.
    if clock.now().weekday() < 6:
        clock.advance(timedelta(days=1))
        assert daily_health(process_engine) == 4
    with process_engine.transaction() as session:
        assert session.query(Notification).filter_by(kind="health_at_risk").count() == 2
    clock.advance(timedelta(days=7))
    assert daily_health(process_engine) == 4
    with process_engine.transaction() as session:
        assert session.query(Notification).filter_by(kind="health_at_risk").count() == 4


def test_the_cli_deploys_the_table_and_recomputes(tmp_path, monkeypatch, clock, capsys):
    from atrium.cli import main

    monkeypatch.setenv("ATRIUM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ATRIUM_FORMS_DIR", str(tmp_path / "forms"))
    assert main(["migrate"]) == 0
    assert main(["health", "recompute"]) == 1
    assert "no decision table client_health is deployed" in capsys.readouterr().err
    assert main(["deploy", str(TABLE)]) == 0
    assert "Deployed decision client_health version 1." in capsys.readouterr().out
    assert main(["health", "recompute", "--mail"]) == 0
    out = capsys.readouterr().out
    assert "Scored the health of 0 active client(s)." in out and "Mailed 0 owner(s)" in out
