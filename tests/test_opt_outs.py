"""Opt-outs of surveys and care mail, and the language mail to a client's people is written in."""

from __future__ import annotations

import pytest

from atrium import opt_outs
from storage.clients import Client, Contact

from .api_helpers import people_in_two_teams
from .factories import make_client

# account_manager and am_tax are the "tax" team; am_audit is alone in "audit".
pytestmark = pytest.mark.app(firm=True)


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


@pytest.fixture
def tax_client(people) -> dict:
    client = make_client(people["partner"], owner="account_manager", locale="zh-CN")
    contact = people["partner"].post(
        f"/api/clients/{client['id']}/contacts", json={"name": "Jane Smith", "emails": ["jane@harbour.example"]}
    )
    assert contact.status_code == 201, contact.json
    return {**client, "contact": contact.json}


def _audit_actions(people, client_id: int) -> list[str]:
    rows = people["admin"].get(f"/api/audit?target=client:{client_id}").json["items"]
    return [row["action"] for row in rows]


def test_a_contact_who_opts_out_of_surveys_still_gets_care_mail_and_it_is_audited(app, people, tax_client):
    cid, contact_id = tax_client["id"], tax_client["contact"]["id"]
    made = people["account_manager"].post(
        f"/api/clients/{cid}/opt-outs", json={"contact_id": contact_id, "topic": "surveys"}
    )
    assert made.status_code == 201, made.json
    assert made.json["source"] == "staff" and made.json["recorded_by"] == "account_manager"
    again = people["account_manager"].post(
        f"/api/clients/{cid}/opt-outs", json={"contact_id": contact_id, "topic": "surveys"}
    )
    assert again.json["id"] == made.json["id"]
    listed = people["viewer"].get(f"/api/clients/{cid}/opt-outs").json["items"]
    assert [(row["contact_id"], row["topic"]) for row in listed] == [(contact_id, "surveys")]
    with app.extensions["atrium.engine"].transaction() as session:
        assert opt_outs.is_opted_out(session, client_id=cid, contact_id=contact_id, topic="surveys")
        assert not opt_outs.is_opted_out(session, client_id=cid, contact_id=contact_id, topic="care_mail")
        assert not opt_outs.is_opted_out(session, client_id=cid, topic="surveys")  # the client itself did not
    assert _audit_actions(people, cid).count("opt_out.create") == 1


def test_a_whole_client_opting_out_covers_every_contact_until_staff_withdraw_it(app, people, tax_client):
    cid, contact_id = tax_client["id"], tax_client["contact"]["id"]
    made = people["partner"].post(f"/api/clients/{cid}/opt-outs", json={"topic": "care_mail"})
    assert made.status_code == 201 and made.json["contact_id"] is None
    with app.extensions["atrium.engine"].transaction() as session:
        assert opt_outs.is_opted_out(session, client_id=cid, contact_id=contact_id, topic="care_mail")
        assert opt_outs.opted_out_of(session, client_ids=[cid, cid + 1000], topic="care_mail") == {cid: {None}}
    assert people["partner"].delete(f"/api/clients/{cid}/opt-outs/{made.json['id']}").status_code == 204
    with app.extensions["atrium.engine"].transaction() as session:
        assert not opt_outs.is_opted_out(session, client_id=cid, contact_id=contact_id, topic="care_mail")
    assert "opt_out.delete" in _audit_actions(people, cid)


def test_opt_outs_refuse_other_teams_viewers_writes_unknown_topics_and_other_clients_contacts(people, tax_client):
    cid, contact_id = tax_client["id"], tax_client["contact"]["id"]
    other = make_client(people["partner"], minimal=True, name="Castle Estates", owner="am_audit")
    # Another team's account manager: the client does not exist for them, to read or to write.
    assert people["am_audit"].get(f"/api/clients/{cid}/opt-outs").status_code == 404
    assert people["am_audit"].post(f"/api/clients/{cid}/opt-outs", json={"topic": "surveys"}).status_code == 404
    assert people["viewer"].post(f"/api/clients/{cid}/opt-outs", json={"topic": "surveys"}).status_code == 403
    bad = people["partner"].post(f"/api/clients/{cid}/opt-outs", json={"topic": "everything"})
    assert bad.status_code == 422 and "topic" in bad.json["errors"]
    extra = people["partner"].post(f"/api/clients/{cid}/opt-outs", json={"topic": "surveys", "source": "link"})
    assert extra.status_code == 422 and "source" in extra.json["errors"]
    # Another client's contact cannot be opted out under this client (nor be probed through it).
    elsewhere = people["partner"].post(
        f"/api/clients/{other['id']}/opt-outs", json={"contact_id": contact_id, "topic": "surveys"}
    )
    assert elsewhere.status_code == 422 and "contact_id" in elsewhere.json["errors"]
    made = people["partner"].post(f"/api/clients/{cid}/opt-outs", json={"topic": "surveys"}).json
    assert people["partner"].delete(f"/api/clients/{other['id']}/opt-outs/{made['id']}").status_code == 404
    assert people["am_audit"].delete(f"/api/clients/{cid}/opt-outs/{made['id']}").status_code == 404
    assert [row["id"] for row in people["partner"].get(f"/api/clients/{cid}/opt-outs").json["items"]] == [made["id"]]


def test_mail_is_written_in_the_contacts_language_else_the_clients_else_the_firms(app, people, tax_client):
    cid, contact_id = tax_client["id"], tax_client["contact"]["id"]
    assert tax_client["locale"] == "zh-CN"
    assert (
        people["partner"].patch(f"/api/clients/{cid}/contacts/{contact_id}", json={"locale": "xx"}).status_code == 422
    )
    with app.extensions["atrium.engine"].transaction() as session:
        client, contact = session.get(Client, cid), session.get(Contact, contact_id)
        assert opt_outs.mail_locale(client, contact) == "zh-CN"  # the contact chose nothing: the client's
        contact.locale = "en"
        assert opt_outs.mail_locale(client, contact) == "en"
        client.locale = None
        assert opt_outs.mail_locale(client) == "en"  # the firm's default
    changed = people["partner"].patch(f"/api/clients/{cid}", json={"locale": "en"})
    assert changed.status_code == 200 and changed.json["locale"] == "en"


def test_a_message_to_a_contact_is_written_in_the_language_it_is_given(app, tax_client):
    from atrium import notifications

    with app.extensions["atrium.engine"].transaction() as session:
        client, contact = session.get(Client, tax_client["id"]), session.get(Contact, tax_client["contact"]["id"])
        note = notifications.queue(
            session,
            kind="outcome",
            recipient=None,
            email="jane@harbour.example",
            actor="partner",
            subject="notification.approval_decided.subject",
            body="notification.approval_decided.body",
            params={"outcome": "", "what": "", "about": "", "actor": "partner", "reason": "."},
            locale=opt_outs.mail_locale(client, contact),
        )
        english = notifications.queue(
            session,
            kind="outcome",
            recipient=None,
            email="jane@harbour.example",
            actor="partner",
            subject="notification.approval_decided.subject",
            body="notification.approval_decided.body",
            params={"outcome": "", "what": "", "about": "", "actor": "partner", "reason": "."},
        )
        assert note.subject.startswith("您的") and not english.subject.startswith("您的")
