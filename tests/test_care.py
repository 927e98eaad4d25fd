"""Relationship care: care dates (Gregorian and lunar) under a client, the firm's care settings, the
yearly `care` cycle that asks the owner to prepare each occasion N days before it (moving the clock
across lunar new years), the greeting mailed through the outbox (not to whoever opted out), its preview,
and campaigns over a saved client filter."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from atrium import opt_outs
from atrium.care_calendar import holiday_date, lunar_to_gregorian, next_yearly_date
from storage.audit import AuditEntry
from storage.care import CareActivity
from storage.notifications import Notification

from .api_helpers import callers, people_in_two_teams
from .process_helpers import PROCESS_APP, complete, deploy_firm_processes, fire_timers, open_elements, open_task

pytestmark = PROCESS_APP


@pytest.fixture
def people(app):
    team = people_in_two_teams(app)
    deploy_firm_processes(team["admin"])
    return team


def _engine(app):
    return app.extensions["atrium.engine"]


def new_client(person, **fields) -> dict:
    body = {"name": "Harbour Logistics Ltd", "tier": "C", "status": "active", "owner": "account_manager"}
    made = person.post("/api/clients", json={**body, **fields})
    assert made.status_code == 201, made.json
    return made.json


def care_on(admin, **changes) -> dict:
    settings = admin.get("/api/settings/care").json
    settings = {**settings, "enabled": True, **changes}
    put = admin.put("/api/settings/care", json=settings)
    assert put.status_code == 200, put.json
    return put.json


def care_cycle(person, client_id: int) -> str:
    [instance] = person.get(
        f"/api/process-instances?process_key=care&business_key=client:{client_id}&status=active"
    ).json["items"]
    return instance["id"]


def care_mails(app) -> list[Notification]:
    with _engine(app).transaction() as session:
        rows = session.scalars(select(Notification).where(Notification.kind == "care_greeting")).all()
        session.expunge_all()
        return rows


# --- the calendar -----------------------------------------------------------------------------------


def test_lunar_holidays_and_lunar_birthdays_fall_on_their_gregorian_dates():
    assert holiday_date("spring_festival", 2027) == date(2027, 2, 6)
    assert holiday_date("spring_festival", 2028) == date(2028, 1, 26)
    assert holiday_date("mid_autumn", 2027) == date(2027, 9, 15)
    assert holiday_date("dragon_boat", 2027) == date(2027, 6, 9)
    assert holiday_date("christmas", 2027) == date(2027, 12, 25)
    # A lunar birthday on the 15th of the 8th month is Mid-Autumn day; on the 30th of a 29-day month, the 29th.
    assert lunar_to_gregorian(2027, 8, 15) == date(2027, 9, 15)
    assert lunar_to_gregorian(2027, 8, 30) == date(2027, 9, 29)
    # Late in the lunar year it falls in the next Gregorian January; the next one after it is a year on.
    assert next_yearly_date("lunar", 12, 20, on_or_after=date(2027, 12, 1)) == date(2028, 1, 16)
    assert next_yearly_date("gregorian", 2, 29, on_or_after=date(2027, 3, 1)) == date(2028, 2, 29)
    assert next_yearly_date("gregorian", 2, 29, on_or_after=date(2026, 3, 1)) == date(2027, 2, 28)


# --- care dates -------------------------------------------------------------------------------------


def test_the_owner_records_a_contacts_lunar_birthday_and_sees_its_next_gregorian_date(people, app, clock):
    am = people["account_manager"]
    client = new_client(am, tier="A")
    contact = am.post(f"/api/clients/{client['id']}/contacts", json={"name": "Li Wei", "emails": ["li@x.example"]})
    made = am.post(
        f"/api/clients/{client['id']}/care-dates",
        json={"kind": "birthday", "contact_id": contact.json["id"], "calendar": "lunar", "month": 8, "day": 15},
    )
    assert made.status_code == 201, made.json
    assert (made.json["calendar"], made.json["month"], made.json["day"]) == ("lunar", 8, 15)
    assert [d["id"] for d in am.get(f"/api/clients/{client['id']}/care-dates").json["items"]] == [made.json["id"]]
    occasions = am.get(f"/api/clients/{client['id']}/care-occasions").json["items"]
    birthday = next(o for o in occasions if o["key"] == f"care_date:{made.json['id']}")
    assert birthday["date"] == "2026-09-25"  # lunar 8/15 of 2026 (Mid-Autumn)
    with _engine(app).transaction() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target.like("client:%/care-dates/%")))
        assert list(actions) == ["care_date.create"]

    assert am.delete(f"/api/clients/{client['id']}/care-dates/{made.json['id']}").status_code == 204
    assert am.get(f"/api/clients/{client['id']}/care-dates").json["items"] == []
    assert am.delete(f"/api/clients/{client['id']}/care-dates/{made.json['id']}").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "custom", "label": "Opening", "month": 2, "day": 30}, "day"),
        ({"kind": "custom", "label": "Opening", "calendar": "lunar", "month": 1, "day": 31}, "day"),
        ({"kind": "custom", "label": "Opening", "month": 13, "day": 1}, "month"),
        ({"kind": "custom", "month": 5, "day": 1}, "label"),
        ({"kind": "birthday", "month": 5, "day": 1}, "contact_id"),  # an organisation has no birthday
        ({"kind": "birthday", "contact_id": 999999, "month": 5, "day": 1}, "contact_id"),
        ({"kind": "wedding", "month": 5, "day": 1}, "kind"),
        ({"kind": "founding_anniversary", "month": 5, "day": 1, "colour": "red"}, "colour"),
        ({"kind": "founding_anniversary", "calendar": "julian", "month": 5, "day": 1}, "calendar"),
    ],
)
def test_a_care_date_that_is_no_date_is_refused_naming_the_field(people, body, field):
    am = people["account_manager"]
    client = new_client(am)
    refused = am.post(f"/api/clients/{client['id']}/care-dates", json=body)
    assert refused.status_code == 422, refused.json
    assert any(path.split(".")[-1] == field for path in refused.json["errors"]), refused.json


def test_another_teams_client_has_no_care_dates_to_see_or_change_and_a_viewer_adds_none(people):
    am = people["account_manager"]
    client = new_client(am, kind="person")
    mine = am.post(f"/api/clients/{client['id']}/care-dates", json={"kind": "birthday", "month": 3, "day": 8})
    assert mine.status_code == 201, mine.json  # a person's own birthday
    other = people["am_audit"]
    assert other.get(f"/api/clients/{client['id']}/care-dates").status_code == 404
    assert other.get(f"/api/clients/{client['id']}/care-occasions").status_code == 404
    assert other.get(f"/api/clients/{client['id']}/care-preview?occasion=holiday:new_year").status_code == 404
    assert (
        other.post(f"/api/clients/{client['id']}/care-dates", json={"kind": "birthday", "month": 3, "day": 8})
    ).status_code == 404
    assert other.delete(f"/api/clients/{client['id']}/care-dates/{mine.json['id']}").status_code == 404
    viewer = people["viewer"]
    assert viewer.get(f"/api/clients/{client['id']}/care-dates").status_code == 200
    assert (
        viewer.post(f"/api/clients/{client['id']}/care-dates", json={"kind": "birthday", "month": 3, "day": 8})
    ).status_code == 403
    # Another client's care date is not this client's.
    second = new_client(am, name="Second Client")
    assert am.delete(f"/api/clients/{second['id']}/care-dates/{mine.json['id']}").status_code == 404


# --- settings ---------------------------------------------------------------------------------------


def test_care_settings_are_validated_naming_the_field_audited_and_only_for_admins(people, app):
    admin = people["admin"]
    settings = admin.get("/api/settings/care").json
    assert settings["enabled"] is False and settings["tiers"]["A"] == {
        "occasions": ["birthday", "founding_anniversary", "engagement_anniversary", "custom", "holiday"],
        "care": "gift",
        "days_before": 14,
    }
    assert people["manager"].put("/api/settings/care", json=settings).status_code == 403
    bad = {**settings, "tiers": {**settings["tiers"], "B": {**settings["tiers"]["B"], "days_before": -1}}}
    refused = admin.put("/api/settings/care", json=bad)
    assert refused.status_code == 422 and "tiers.B.days_before" in refused.json["errors"], refused.json
    refused = admin.put("/api/settings/care", json={**settings, "holidays": ["spring_festival", "halloween"]})
    assert refused.status_code == 422 and "holidays.1" in refused.json["errors"], refused.json
    refused = admin.put("/api/settings/care", json={**settings, "surprise": True})
    assert refused.status_code == 422 and "surprise" in refused.json["errors"], refused.json
    care_on(admin, holidays=["spring_festival"])
    assert admin.get("/api/settings/care").json["holidays"] == ["spring_festival"]
    with _engine(app).transaction() as session:
        assert list(session.scalars(select(AuditEntry.action).where(AuditEntry.action == "settings.care"))) == [
            "settings.care"
        ]


# --- the care cycle ---------------------------------------------------------------------------------


def test_the_owner_prepares_spring_festival_three_days_before_each_lunar_new_year_and_the_greeting_is_mailed(
    people, app, clock
):
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))
    # Signed in now, so the sessions outlive the two lunar new years ahead.
    signed_in = callers(app.test_client(), "account_manager", "admin", "am_audit")
    am, admin = signed_in["account_manager"], signed_in["admin"]
    client = new_client(am, tier="C", emails=["boss@harbour.example"])
    care_on(admin, holidays=["spring_festival"])  # switching care on starts the cycle of every active client
    instance_id = care_cycle(admin, client["id"])

    # Tier C: a greeting mail 3 days before; Spring Festival 2027 is 6 February.
    clock.set(datetime(2027, 2, 2, 23, 59, tzinfo=timezone.utc))
    fire_timers(app)
    assert "prepare_care" not in open_elements(am, instance_id)
    clock.set(datetime(2027, 2, 3, 0, 0, 1, tzinfo=timezone.utc))
    fire_timers(app)
    task = open_task(am, instance_id, "prepare_care")
    assert task["assignee"] == "account_manager"
    # The client has no language of its own: the firm's default (zh-CN) writes the greeting.
    assert task["data"]["greeting_subject"] == "Harbour Logistics Ltd，新春快乐"
    assert "新春佳节" in task["data"]["greeting_body"]
    preview = am.get(f"/api/tasks/{task['id']}/care-preview").json
    assert (preview["email"], preview["will_send"], preview["locale"]) == ("boss@harbour.example", True, "zh-CN")
    assert signed_in["am_audit"].get(f"/api/tasks/{task['id']}/care-preview").status_code == 404

    assert (
        complete(
            am, task, action="greeting_mail", greeting_subject="新春快乐", greeting_body="祝您新春快乐！"
        ).status_code
        == 200
    )
    [mail] = care_mails(app)
    assert (mail.email, mail.subject, mail.body, mail.client_id) == (
        "boss@harbour.example",
        "新春快乐",
        "祝您新春快乐！",
        client["id"],
    )
    timeline = am.get(f"/api/clients/{client['id']}/timeline").json["items"]
    assert any(e["kind"] == "care" and "spring_festival" in e["title"] for e in timeline), timeline

    # The next round is the next lunar new year: 26 January 2028, so the task appears on the 23rd.
    clock.set(datetime(2028, 1, 22, 23, 0, tzinfo=timezone.utc))
    fire_timers(app)
    assert "prepare_care" not in open_elements(am, instance_id)
    clock.set(datetime(2028, 1, 23, 0, 1, tzinfo=timezone.utc))
    fire_timers(app)
    task = open_task(am, instance_id, "prepare_care")
    assert task["data"]["greeting_subject"] == "Harbour Logistics Ltd，新春快乐"  # the form starts afresh
    assert complete(am, task, action="call", notes="Called the CEO").status_code == 200
    assert len(care_mails(app)) == 1  # a call mails nothing
    with _engine(app).transaction() as session:
        rows = session.scalars(select(CareActivity).order_by(CareActivity.id)).all()
        assert [(r.occasion, r.occasion_date, r.action, r.mail_queued) for r in rows] == [
            ("holiday:spring_festival", "2027-02-06", "greeting_mail", True),
            ("holiday:spring_festival", "2028-01-26", "call", False),
        ]


def test_a_lunar_birthday_task_appears_its_tiers_days_before_the_gregorian_date(people, app, clock):
    am, admin = people["account_manager"], people["admin"]
    clock.set(datetime(2027, 1, 10, 9, 0, tzinfo=timezone.utc))
    client = new_client(am, tier="A")
    contact = am.post(f"/api/clients/{client['id']}/contacts", json={"name": "Li Wei", "emails": ["li@x.example"]})
    am.post(
        f"/api/clients/{client['id']}/care-dates",
        json={"kind": "birthday", "contact_id": contact.json["id"], "calendar": "lunar", "month": 2, "day": 2,
              "year": 1970},
    )  # fmt: skip
    care_on(admin, holidays=[], default_locale="en")
    instance_id = care_cycle(admin, client["id"])
    # Lunar 2/2 of 2027 is 9 March 2027; tier A: 14 days before, 23 February.
    assert lunar_to_gregorian(2027, 2, 2) == date(2027, 3, 9)
    clock.set(datetime(2027, 2, 22, 23, 0, tzinfo=timezone.utc))
    fire_timers(app)
    assert "prepare_care" not in open_elements(am, instance_id)
    clock.set(datetime(2027, 2, 23, 0, 1, tzinfo=timezone.utc))
    fire_timers(app)
    task = open_task(am, instance_id, "prepare_care")
    assert task["data"]["greeting_subject"] == "Happy birthday, Li Wei"
    assert "57 years" in task["data"]["greeting_body"]
    assert "birthday" in task["name"] or "birthday" in (task.get("subject") or ""), task


def test_a_contact_who_opted_out_of_care_mail_gets_no_greeting_and_the_preview_says_why(people, app, clock):
    am, admin = people["account_manager"], people["admin"]
    clock.set(datetime(2027, 1, 10, 9, 0, tzinfo=timezone.utc))
    client = new_client(am, tier="B")
    contact = am.post(f"/api/clients/{client['id']}/contacts", json={"name": "Li Wei", "emails": ["li@x.example"]})
    made = am.post(
        f"/api/clients/{client['id']}/care-dates",
        json={"kind": "birthday", "contact_id": contact.json["id"], "month": 3, "day": 1},
    ).json
    with _engine(app).transaction() as session:
        opt_outs.opt_out(
            session,
            client_id=client["id"],
            contact_id=contact.json["id"],
            topic="care_mail",
            source="staff",
            actor="admin",
        )
    preview = am.get(f"/api/clients/{client['id']}/care-preview?occasion=care_date:{made['id']}").json
    assert (preview["will_send"], preview["not_sent_reason"], preview["email"]) == (False, "opted_out", None)
    care_on(admin, holidays=[])
    instance_id = care_cycle(admin, client["id"])
    clock.set(datetime(2027, 2, 22, 0, 1, tzinfo=timezone.utc))  # tier B: 7 days before 1 March
    fire_timers(app)
    task = open_task(am, instance_id, "prepare_care")
    assert complete(am, task, action="greeting_mail", greeting_subject="Hi", greeting_body="Hello").status_code == 200
    assert care_mails(app) == []
    with _engine(app).transaction() as session:
        [row] = session.scalars(select(CareActivity)).all()
        assert (row.action, row.mail_queued, row.mail_skipped) == ("greeting_mail", False, "opted_out")


def test_the_preview_says_when_there_is_no_email_and_writes_in_the_clients_language(people, app, clock):
    am = people["account_manager"]
    client = new_client(am, emails=[])
    preview = am.get(f"/api/clients/{client['id']}/care-preview?occasion=holiday:mid_autumn").json
    assert (preview["will_send"], preview["not_sent_reason"]) == (False, "no_email")
    assert preview["subject"] == "中秋快乐"
    english = am.get(f"/api/clients/{client['id']}/care-preview?occasion=holiday:mid_autumn&template=holiday")
    assert english.status_code == 200 and english.json["template"] == "holiday"
    assert am.get(f"/api/clients/{client['id']}/care-preview?occasion=holiday:easter").status_code == 404
    # A client whose language is English is greeted in English.
    english_client = new_client(am, name="English Client", locale="en", emails=["a@en.example"])
    greeting = am.get(f"/api/clients/{english_client['id']}/care-preview?occasion=holiday:mid_autumn").json
    assert (greeting["subject"], greeting["locale"], greeting["will_send"]) == ("Happy Mid-Autumn Festival", "en", True)
    assert am.get(f"/api/clients/{client['id']}/care-preview?occasion=x&template=nope").status_code == 422


# --- campaigns --------------------------------------------------------------------------------------


def test_a_campaign_starts_one_task_per_client_in_the_filter_for_each_owner(people, app, clock):
    manager = people["manager"]
    a1 = new_client(manager, name="Alpha One", tier="A", owner="account_manager")
    a2 = new_client(manager, name="Alpha Two", tier="A", owner="am_audit")
    new_client(manager, name="Beta", tier="B", owner="account_manager")
    started = manager.post(
        "/api/care-campaigns",
        json={"name": "New Year 2026", "filter": {"tier": "A"}, "template": "spring_festival", "mode": "tasks"},
    )
    assert started.status_code == 201, started.json
    assert (started.json["clients"], started.json["tasks_started"]) == (2, 2)
    for client, owner in ((a1, "account_manager"), (a2, "am_audit")):
        [instance] = manager.get(
            f"/api/process-instances?process_key=care_campaign&business_key=client:{client['id']}"
        ).json["items"]
        task = open_task(people[owner], instance["id"], "prepare_care")
        assert task["assignee"] == owner
    assert (
        people["viewer"]
        .post(
            "/api/care-campaigns",
            json={"name": "x", "filter": {"tier": "A"}, "template": "spring_festival", "mode": "tasks"},
        )
        .status_code
        == 403
    )
    for body, field in (
        ({"filter": {"tier": "Z"}}, "filter.tier"),
        ({"filter": {"page": 2}}, "filter.page"),
        ({"template": "halloween"}, "template"),
        ({"mode": "fax"}, "mode"),
        ({"extra": 1}, "extra"),
    ):
        refused = manager.post(
            "/api/care-campaigns",
            json={"name": "x", "filter": {}, "template": "spring_festival", "mode": "tasks", **body},
        )
        assert refused.status_code == 422 and field in refused.json["errors"], refused.json


def test_a_bulk_greeting_skips_clients_without_email_and_who_opted_out_and_counts_them(people, app, clock):
    manager = people["manager"]
    new_client(manager, name="Mailed", tier="A", emails=["a@mailed.example"])
    new_client(manager, name="No Address", tier="A", emails=[])
    quiet = new_client(manager, name="Quiet", tier="A", emails=["q@quiet.example"])
    with _engine(app).transaction() as session:
        opt_outs.opt_out(
            session, client_id=quiet["id"], contact_id=None, topic="care_mail", source="staff", actor="admin"
        )
    sent = manager.post(
        "/api/care-campaigns",
        json={"name": "Mid-Autumn 2026", "filter": {"tier": "A"}, "template": "mid_autumn", "mode": "mail"},
    )
    assert sent.status_code == 201, sent.json
    assert (sent.json["mails_queued"], sent.json["skipped"]) == (1, {"no_email": 1, "opted_out": 1})
    assert sorted(m.email for m in care_mails(app)) == ["a@mailed.example"]
    with _engine(app).transaction() as session:
        assert list(session.scalars(select(AuditEntry.action).where(AuditEntry.action == "care.campaign"))) == [
            "care.campaign"
        ]


# --- care dates follow the client -------------------------------------------------------------------


@pytest.mark.app(firm=True, token_ttl_seconds=2 * 366 * 86400, erasure_confirmation=False)
def test_care_dates_move_with_a_merged_client_and_are_destroyed_with_an_erased_one(people, app):
    am, admin = people["account_manager"], people["admin"]
    survivor = new_client(am, name="Survivor Ltd", status="dormant")
    duplicate = new_client(am, name="Duplicate Ltd", status="dormant")
    founded = {"kind": "founding_anniversary", "month": 6, "day": 1, "year": 2001}
    assert am.post(f"/api/clients/{duplicate['id']}/care-dates", json=founded).status_code == 201
    merged = people["manager"].post(f"/api/clients/{survivor['id']}/merge", json={"from_client_id": duplicate["id"]})
    assert merged.status_code == 200, merged.json
    [moved] = am.get(f"/api/clients/{survivor['id']}/care-dates").json["items"]
    assert merged.json["moved"]["care_dates"] == [moved["id"]]

    erased = admin.post(f"/api/clients/{survivor['id']}/erase", json={"reason": "The client asked us to erase it all."})
    assert erased.status_code == 200, erased.json
    assert erased.json["certificate"]["destroyed"]["care_dates"] == 1
    with _engine(app).transaction() as session:
        from storage.care import CareDate

        assert session.scalars(select(CareDate)).all() == []


def test_a_date_recorded_nearer_than_the_awaited_occasion_is_prepared_in_time_and_nothing_twice(people, app, clock):
    am, admin = people["account_manager"], people["admin"]
    client = new_client(am, tier="B", kind="person", emails=["me@person.example"])
    care_on(admin, holidays=["mid_autumn"], default_locale="en")  # the cycle waits for Mid-Autumn (25 Sep)
    instance_id = care_cycle(admin, client["id"])
    # 5 January: a birthday on 20 January, tier B prepares 7 days before, on the 13th.
    made = am.post(f"/api/clients/{client['id']}/care-dates", json={"kind": "birthday", "month": 1, "day": 20})
    assert made.status_code == 201, made.json
    replanned = care_cycle(admin, client["id"])
    assert replanned != instance_id
    clock.set(datetime(2026, 1, 13, 0, 1, tzinfo=timezone.utc))
    fire_timers(app)
    task = open_task(am, replanned, "prepare_care")
    assert task["data"]["greeting_subject"] == "Happy birthday, Harbour Logistics Ltd"
    # A date recorded while the task is open leaves the cycle alone; done, the next round skips what was done.
    assert (
        am.post(
            f"/api/clients/{client['id']}/care-dates",
            json={"kind": "custom", "label": "Wedding", "month": 1, "day": 25},
        ).status_code
        == 201
    )
    assert care_cycle(admin, client["id"]) == replanned
    assert complete(am, task, action="gift", notes="Flowers").status_code == 200
    assert people["am_audit"].delete(f"/api/clients/{client['id']}/care-dates/{made.json['id']}").status_code == 404
    # Custom dates are not cared for at tier B (birthday, engagement anniversary, holidays): Mid-Autumn is next.
    assert "prepare_care" not in open_elements(am, replanned)
    clock.set(datetime(2026, 9, 18, 0, 1, tzinfo=timezone.utc))
    fire_timers(app)
    assert open_task(am, replanned, "prepare_care")["data"]["greeting_subject"] == "Happy Mid-Autumn Festival"


def test_a_bad_lunar_date_is_refused_in_the_readers_language(people):
    am = people["account_manager"]
    client = new_client(am)
    body = {"kind": "custom", "label": "开业", "calendar": "lunar", "month": 8, "day": 31}
    refused = am.post(f"/api/clients/{client['id']}/care-dates", json=body, headers={"Accept-Language": "zh-CN"})
    assert refused.status_code == 422 and refused.json["errors"]["day"] == ["农历8月的日期须为1至30"], refused.json
