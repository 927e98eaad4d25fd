"""Surveys through HTTP: a closed service request (or the NPS schedule) mails the client's contact a personal
link that needs no login, works once and until it expires, accepts only its form's fields, reveals nothing
else about the client, is rate-limited and lets the person unsubscribe; a low score gives the owner a
follow-up (which may open a complaint) and tells the owner's manager; a reminder and an expiry fire on time."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from atrium import surveys
from storage.audit import AuditEntry
from storage.client_records import Complaint, Feedback
from storage.clients import Contact
from storage.instances import ProcessInstance
from storage.notifications import Notification
from storage.surveys import Survey

from .factories import make_client
from .process_helpers import (
    PROCESS_APP,
    complete,
    deploy_firm_processes,
    employ,
    fire_timers,
    make_process_app,
    notifications,
    open_task,
    people_of,
)

pytestmark = PROCESS_APP

ADDRESS = "li.wei@example.com"


@pytest.fixture
def people(client):
    people = people_of(client, ("sam", "service_desk"))
    deploy_firm_processes(people["admin"])
    return people


def _engine(app):
    return app.extensions["atrium.engine"]


def new_client(person, *, with_contact: bool = True, **fields) -> int:
    body = {"name": "Harbour Logistics Ltd", "tier": "B", "status": "active", "owner": "account_manager", **fields}
    client_id = make_client(person, minimal=True, **body)["id"]
    if with_contact:
        made = person.post(f"/api/clients/{client_id}/contacts", json={"name": "Li Wei", "emails": [ADDRESS]})
        assert made.status_code == 201, made.json
    return client_id


def start(app, client_id: int, form_key: str = surveys.NPS_FORM):
    with _engine(app).transaction() as session:
        instance = surveys.start_survey(_engine(app), session, client_id=client_id, form_key=form_key, actor=None)
        return instance.id if instance is not None else None


def survey_mails(app) -> list[Notification]:
    with _engine(app).transaction() as session:
        rows = list(
            session.scalars(select(Notification).where(Notification.kind == "survey").order_by(Notification.id))
        )
        session.expunge_all()
        return rows


def link_of(mail: Notification) -> str:
    return re.search(r"/survey/(\S+)", mail.body).group(1)


def the_survey(app) -> Survey:
    with _engine(app).transaction() as session:
        [survey] = session.scalars(select(Survey)).all()
        session.expunge(survey)
        return survey


def audit_actions(app, prefix: str) -> list[str]:
    with _engine(app).transaction() as session:
        return list(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)
            )
        )


def instance_status(app, instance_id) -> str:
    with _engine(app).transaction() as session:
        return session.get(ProcessInstance, instance_id).status


def anonymous(app):
    return app.test_client()


def test_closing_a_service_request_mails_a_link_that_works_once_without_login(people, app, clock):
    desk, sam = people["service_desk"], people["sam"]
    client_id = new_client(people["account_manager"])
    made = desk.post(
        f"/api/clients/{client_id}/service-requests",
        json={"title": "Appeal of a VAT penalty", "content": "The client asks whether we can appeal."},
    )
    request = made.json
    instance = request["instance_id"]
    complete(desk, open_task(desk, instance, "triage"), decision="accept", type="tax", priority="high")
    complete(desk, open_task(desk, instance, "assign"), assignee="sam")
    complete(sam, open_task(sam, instance, "work"), resolution="Appeal lodged.")
    assert complete(desk, open_task(desk, instance, "rate"), rating=4).status_code == 200

    [mail] = survey_mails(app)
    assert mail.email == ADDRESS and mail.recipient is None and mail.client_id is None
    assert "Appeal of a VAT penalty" in mail.subject and "/survey/" in mail.body
    survey = the_survey(app)
    assert (survey.subject_type, survey.subject_id, survey.form_key) == (
        "service_request",
        request["id"],
        "survey_csat",
    )
    assert len(survey.token_digest) == 64 and link_of(mail) not in survey.token_digest  # only a digest is kept

    browser = anonymous(app)  # no login, no cookie
    opened = browser.get(f"/api/public/surveys/{link_of(mail)}")
    assert opened.status_code == 200, opened.json
    assert set(opened.json) == {"firm", "about", "locale", "schema", "ui_schema"}
    assert opened.json["about"] == "Appeal of a VAT penalty" and opened.json["locale"] == "en"
    assert set(opened.json["schema"]["properties"]) == {"csat", "comment"}
    text = opened.get_data(as_text=True)
    for secret in ("Harbour", "account_manager", ADDRESS, "Li Wei", str(survey.instance_id), "client"):
        assert secret not in text  # nothing else about the client

    answered = browser.post(f"/api/public/surveys/{link_of(mail)}", json={"answers": {"csat": 5, "comment": "Great"}})
    assert answered.status_code == 200, answered.json
    feedback = desk.get(f"/api/clients/{client_id}/feedback").json["items"]
    assert sorted((f["csat"], f["subject_type"], f["subject_id"], f["comment"]) for f in feedback) == [
        (4, "service_request", request["id"], None),  # the requester's rating on closing
        (5, "service_request", request["id"], "Great"),  # the client's own, from the survey
    ]
    assert instance_status(app, survey.instance_id) == "completed"  # not a low score: nothing to follow up
    assert audit_actions(app, "survey.") == ["survey.send", "survey.answer"]

    # Once only: the link is spent, for reading and for answering.
    again = browser.get(f"/api/public/surveys/{link_of(mail)}")
    assert again.status_code == 404 and again.json["type"].endswith("survey-unavailable")
    assert browser.post(f"/api/public/surveys/{link_of(mail)}", json={"answers": {"csat": 1}}).status_code == 404
    assert len(desk.get(f"/api/clients/{client_id}/feedback").json["items"]) == 2


def test_an_expired_changed_or_guessed_link_is_refused_alike(people, app, clock):
    client_id = new_client(people["account_manager"])
    start(app, client_id)
    token = link_of(survey_mails(app)[0])
    value, signature = token.rsplit(".", 1)
    # A character of the signature's middle (the last one's low bits may be base64 padding, decoding alike).
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    other_value = value[:-1] + ("A" if value[-1] != "A" else "B")
    browser = anonymous(app)
    refusals = [
        browser.get(f"/api/public/surveys/{candidate}")
        for candidate in (f"{value}.{flipped}", f"{other_value}.{signature}", value, "guess", f"{value}.{signature}x")
    ]
    assert {r.status_code for r in refusals} == {404}
    assert len({(r.json["type"], r.json["detail"]) for r in refusals}) == 1  # nothing tells them apart

    clock.advance(days=13, hours=23)
    assert browser.get(f"/api/public/surveys/{token}").status_code == 200
    clock.advance(hours=1)  # 14 days (ATRIUM_SURVEY_LINK_DAYS) after it was sent
    expired = browser.get(f"/api/public/surveys/{token}")
    assert expired.status_code == 404 and expired.json["detail"] == refusals[0].json["detail"]
    assert browser.post(f"/api/public/surveys/{token}", json={"answers": {"nps": 9}}).status_code == 404


def test_a_link_accepts_only_its_forms_fields_and_writes_nothing_otherwise(people, app):
    client_id = new_client(people["account_manager"])
    start(app, client_id)
    token = link_of(survey_mails(app)[0])
    browser = anonymous(app)
    for answers, field in (
        ({"nps": 9, "owner": "eve"}, "answers.owner"),
        ({"nps": 9, "client_id": 1}, "answers.client_id"),
        ({"nps": 11}, "answers.nps"),
        ({"comment": "no score"}, "answers.nps"),
    ):
        refused = browser.post(f"/api/public/surveys/{token}", json={"answers": answers})
        assert refused.status_code == 422 and field in refused.json["errors"], refused.json
    with _engine(app).transaction() as session:
        assert session.scalars(select(Feedback)).all() == []
    assert the_survey(app).answered_at is None
    assert browser.post(f"/api/public/surveys/{token}", json={"answers": {"nps": 9}}).status_code == 200


def test_the_public_endpoints_are_rate_limited_per_link_and_per_address(db, services, clock):
    app = make_process_app(db, services, survey_rate_per_link=3, survey_rate_per_address=5)
    try:
        people = people_of(app.test_client())
        deploy_firm_processes(people["admin"])
        start(app, new_client(people["account_manager"]))
        token = link_of(survey_mails(app)[0])
        browser = anonymous(app)
        assert [browser.get(f"/api/public/surveys/{token}").status_code for _ in range(4)] == [200, 200, 200, 429]
        throttled = browser.get(f"/api/public/surveys/{token}")
        assert throttled.json["type"].endswith("survey-throttled") and int(throttled.headers["Retry-After"]) > 0
        assert browser.get("/api/public/surveys/guess").status_code == 429  # the address is over its 5 now
        clock.advance(seconds=601)  # the window (ATRIUM_SURVEY_RATE_WINDOW_SECONDS) has passed
        assert browser.get(f"/api/public/surveys/{token}").status_code == 200
    finally:
        app.extensions["atrium.db"].dispose()


def test_a_contact_who_unsubscribes_through_the_link_gets_no_further_survey(people, app):
    client_id = new_client(people["account_manager"])
    start(app, client_id)
    token = link_of(survey_mails(app)[0])
    browser = anonymous(app)
    assert browser.post(f"/api/public/surveys/{token}/opt-out", json={"care_mail": True}).json["topics"] == [
        "surveys",
        "care_mail",
    ]
    assert audit_actions(app, "opt_out.") == ["opt_out.create", "opt_out.create"]
    # The next survey is not sent, nor its process started; sending directly is skipped and audited.
    assert start(app, client_id) is None
    with _engine(app).transaction() as session:
        contact_id = session.scalar(select(Contact.id).where(Contact.client_id == client_id))
        sent = surveys.send_survey(
            session, settings=_engine(app).settings, client_id=client_id, form_key="survey_nps", actor=None
        )
        assert sent is None
    assert len(survey_mails(app)) == 1 and audit_actions(app, "survey.skip") == ["survey.skip"]
    # Unsubscribing again (even with the survey still open) writes nothing new.
    assert browser.post(f"/api/public/surveys/{token}/opt-out", json={}).status_code == 200
    assert audit_actions(app, "opt_out.") == ["opt_out.create", "opt_out.create"]
    assert contact_id is not None


def test_a_low_score_gives_the_owner_a_follow_up_that_opens_a_complaint_and_tells_the_manager(people, app):
    admin, am = people["admin"], people["account_manager"]
    employ(admin, "account_manager", manager="manager")
    client_id = new_client(am)
    instance_id = start(app, client_id, surveys.CSAT_FORM)
    token = link_of(survey_mails(app)[0])
    answer = {"csat": 1, "comment": "Nobody called back. I want to file a complaint."}
    assert anonymous(app).post(f"/api/public/surveys/{token}", json={"answers": answer}).status_code == 200

    [told] = notifications(admin, "manager", "escalation")
    assert told["subject"] == "Low survey score from Harbour Logistics Ltd: CSAT 1/5" and told["client_id"] == client_id
    task = open_task(am, str(instance_id), "follow_up")
    assert task["assignee"] == "account_manager"
    assert task["data"]["answer"] == answer and task["data"]["offer_complaint"] is True
    assert "data.notes" in complete(am, task).json["errors"]
    done = complete(am, task, notes="Called Li Wei; apologised.", open_complaint=True)
    assert done.status_code == 200, done.json
    with _engine(app).transaction() as session:
        [complaint] = session.scalars(select(Complaint).where(Complaint.client_id == client_id)).all()
        assert "CSAT 1/5" in complaint.description and complaint.instance_id is not None
    assert instance_status(app, instance_id) == "completed"
    assert audit_actions(app, "survey.") == ["survey.send", "survey.answer", "survey.escalate", "survey.follow_up"]


def test_an_unanswered_survey_is_sent_once_more_and_then_expires(people, app, clock):
    client_id = new_client(people["account_manager"])
    instance_id = start(app, client_id)
    first = link_of(survey_mails(app)[0])
    clock.advance(days=3, seconds=-1)
    assert fire_timers(app) == 0
    clock.advance(seconds=2)  # P3D (ATRIUM_SURVEY_REMINDER)
    assert fire_timers(app) == 1
    mails = survey_mails(app)
    assert len(mails) == 2 and "reminder" in mails[1].subject
    second = link_of(mails[1])
    browser = anonymous(app)
    assert browser.get(f"/api/public/surveys/{first}").status_code == 404  # the new link replaces it
    assert browser.get(f"/api/public/surveys/{second}").status_code == 200

    clock.advance(days=11)  # 14 days after sending: the link expires and the process gives up
    assert fire_timers(app) == 1
    assert instance_status(app, instance_id) == "completed"
    assert browser.get(f"/api/public/surveys/{second}").status_code == 404
    assert audit_actions(app, "survey.") == ["survey.send", "survey.remind", "survey.expire"]
    assert len(survey_mails(app)) == 2  # reminded once only


def test_the_nps_schedule_asks_each_active_client_once_per_period(people, app, clock):
    am = people["account_manager"]
    asked = new_client(am, name="Asked Ltd")
    new_client(am, name="No Contact Ltd", with_contact=False)
    new_client(am, name="Prospect Ltd", status="prospect")
    assert surveys.start_due_nps_surveys(_engine(app)) == 0  # too new to ask
    clock.advance(days=190)
    assert surveys.start_due_nps_surveys(_engine(app)) == 1
    assert surveys.start_due_nps_surveys(_engine(app)) == 0  # idempotent
    survey = the_survey(app)
    assert (survey.client_id, survey.form_key, survey.subject_type) == (asked, "survey_nps", None)
    with _engine(app).transaction() as session:  # nobody asked for it: the scheduler's rows say so
        sent = session.execute(
            select(AuditEntry.action, AuditEntry.actor).where(
                AuditEntry.action.in_(("survey.send", "notification.queue"))
            )
        ).all()
        assert sorted(sent) == [("notification.queue", "scheduler"), ("survey.send", "scheduler")], sent
    clock.advance(days=190)
    assert surveys.start_due_nps_surveys(_engine(app)) == 1


def test_a_survey_is_written_in_the_contacts_language(people, app):
    client_id = new_client(people["account_manager"])
    with _engine(app).transaction() as session:
        session.scalars(select(Contact).where(Contact.client_id == client_id)).one().locale = "zh-CN"
    start(app, client_id)
    [mail] = survey_mails(app)
    assert "您会推荐我们吗" in mail.subject
    opened = anonymous(app).get(f"/api/public/surveys/{link_of(mail)}").json
    assert opened["locale"] == "zh-CN" and opened["schema"]["title"] == "您会推荐我们吗？"


def test_closing_a_complaint_asks_the_client_how_it_was_handled(people, app, clock):
    desk, manager = people["service_desk"], people["manager"]
    employ(people["admin"], "service_desk", manager="manager")
    client_id = new_client(people["account_manager"])
    made = desk.post(f"/api/clients/{client_id}/complaints", json={"description": "Our filing was late."})
    assert made.status_code == 201, made.json
    instance = made.json["instance_id"]
    complete(desk, open_task(desk, instance, "acknowledge"), acknowledged_via="phone")
    complete(desk, open_task(desk, instance, "investigate"), findings="A reminder was missed", root_cause="delay")
    complete(desk, open_task(desk, instance, "propose"), resolution="Refund the fine")
    complete(manager, open_task(manager, instance, "approve"), approved=True)
    assert survey_mails(app) == []  # not before it closes
    assert complete(desk, open_task(desk, instance, "feedback"), satisfaction=4).status_code == 200

    [mail] = survey_mails(app)
    survey = the_survey(app)
    assert (survey.subject_type, survey.subject_id) == ("complaint", made.json["id"])
    opened = anonymous(app).get(f"/api/public/surveys/{link_of(mail)}").json
    assert opened["about"] == "your complaint of 5 Jan 2026" and "late" not in str(opened)
