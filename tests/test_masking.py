"""Masking by role (issue 13): phones, emails, addresses and sensitive custom fields are masked for the roles
in ATRIUM_MASKED_ROLES (viewer and service_desk by default) in every channel, and revealed one field of one
client at a time for a stated, audited reason."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from atrium import notifications
from atrium.mailer import send_queued_notifications
from atrium.masking import (
    mask_address,
    mask_email,
    mask_phone,
    masked_client,
    masked_process_data,
    sees_masked,
    sensitive_fields,
)
from atrium.settings import Settings
from storage.audit import AuditEntry

from .api_helpers import people_in_two_teams
from .conftest import make_process_engine
from .factories import make_account, make_client
from .test_notification_mail import mailbox, smtp_settings  # noqa: F401 (the SMTP server fixture)

PHONE = "13800131234"
EMAIL = "carol@example.com"
STREET = "1 Quay St"
CUSTOM_SCHEMA = {
    "type": "object",
    "properties": {
        "tax_id": {"type": "string", "x-atrium-sensitive": True},
        "sector_code": {"type": "string"},
    },
}
# Account managers see masked values too in the tests of channels viewers cannot use (export, writes).
MASKING_WRITERS = pytest.mark.app(masked_roles=("viewer", "service_desk", "account_manager"))


@pytest.fixture
def people(app):
    people = people_in_two_teams(app)
    assert people["admin"].put("/api/settings/client-custom-fields", json={"schema": CUSTOM_SCHEMA}).status_code == 200
    return people


def harbour(person, **fields):
    return make_client(
        person,
        phones=[PHONE],
        emails=[EMAIL],
        addresses=[{"label": "office", "street": STREET, "city": "Bristol", "postcode": "BS1 4DJ", "country": "UK"}],
        custom_fields={"tax_id": "GB123456789", "sector_code": "H52"},
        owner="account_manager",
        **fields,
    )


def assert_masked(data: dict) -> None:
    assert data["phones"] == ["138****1234"]
    assert data["emails"] == ["c***@example.com"]
    assert data["addresses"] == [
        {"label": "office", "street": "***", "city": "Bristol", "postcode": "***", "country": "UK"}
    ]
    assert data["custom_fields"] == {"tax_id": "***", "sector_code": "H52"}


def assert_full(data: dict) -> None:
    assert data["phones"] == [PHONE] and data["emails"] == [EMAIL]
    assert data["addresses"][0]["street"] == STREET
    assert data["custom_fields"]["tax_id"] == "GB123456789"


def audit_rows(app, action: str) -> list[AuditEntry]:
    with app.extensions["atrium.engine"].transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()
        session.expunge_all()
        return rows


# The rules ----------------------------------------------------------------------------------------------


def test_the_masks():
    assert mask_phone("13800131234") == "138****1234"
    assert mask_phone("+44 20 7946 0000") == "442****0000"
    assert mask_phone("12345") == "****45"
    assert mask_email("carol@example.com") == "c***@example.com"
    assert mask_email("not-an-address") == "***"
    assert mask_address({"street": "1 Quay St", "city": "Bristol", "region": "Avon", "country": "UK"}) == {
        "street": "***",
        "city": "Bristol",
        "region": "Avon",
        "country": "UK",
    }
    assert sensitive_fields(CUSTOM_SCHEMA) == {"tax_id"}
    assert masked_process_data(
        {"phones": [PHONE], "contacts": [{"name": "Ada", "email": EMAIL}], "address": {"street": "x", "city": "y"}}
    ) == {
        "phones": ["138****1234"],
        "contacts": [{"name": "Ada", "email": "c***@example.com"}],
        "address": {"street": "***", "city": "y"},
    }
    assert sensitive_fields({}) == frozenset() and sensitive_fields({"properties": []}) == frozenset()


def test_a_typo_in_the_masked_roles_stops_the_start_instead_of_unmasking_everyone():
    # "viewr" would mask no real role: viewers would see every phone and email in full.
    with pytest.raises(ValueError, match=r"ATRIUM_MASKED_ROLES: unknown role\(s\) viewr; roles are admin"):
        Settings.from_env({"ATRIUM_MASKED_ROLES": "viewr, service_desk"})
    with pytest.raises(ValueError, match="ATRIUM_MASKED_ROLES: unknown role"):
        Settings.from_env({"ATRIUM_MASKED_ROLES": "Viewer"})


def test_who_sees_masked_values_follows_the_setting():
    settings = Settings()
    assert sees_masked(["viewer"], settings) and sees_masked(["service_desk"], settings)
    assert not sees_masked(["viewer", "manager"], settings)  # one unmasked role shows values in full
    assert not sees_masked(["account_manager"], settings)
    assert Settings.from_env({"ATRIUM_MASKED_ROLES": "viewer, account_manager"}).masked_roles == (
        "viewer",
        "account_manager",
    )
    assert Settings.from_env({}).masked_roles == ("viewer", "service_desk")
    assert not sees_masked(["viewer"], Settings.from_env({"ATRIUM_MASKED_ROLES": ""}))
    data = {"phones": [PHONE], "emails": [EMAIL], "custom_fields": {"tax_id": "x"}}
    assert masked_client(data, ["admin"], settings, sensitive={"tax_id"}) is data
    assert masked_client(data, ["viewer"], settings, sensitive={"tax_id"}) == {
        "phones": ["138****1234"],
        "emails": ["c***@example.com"],
        "custom_fields": {"tax_id": "***"},
    }


# JSON ---------------------------------------------------------------------------------------------------


def test_a_client_says_which_of_its_fields_the_reader_sees_masked_and_may_reveal(people):
    made = harbour(people["partner"])
    assert made["masked_fields"] == []
    viewer = people["viewer"]
    assert viewer.get(f"/api/clients/{made['id']}").json["masked_fields"] == ["phones", "emails", "addresses", "tax_id"]
    listed = viewer.get("/api/clients").json["items"]
    assert next(item for item in listed if item["id"] == made["id"])["masked_fields"][0] == "phones"
    # Empty fields have nothing to reveal; a custom field the firm does not mark sensitive is shown in full.
    bare = make_client(
        people["partner"],
        minimal=True,
        name="Bare Client",
        custom_fields={"sector_code": "H52"},
        owner="account_manager",
    )
    assert viewer.get(f"/api/clients/{bare['id']}").json["masked_fields"] == []


@pytest.mark.parametrize("role", ["viewer", "service_desk"])
def test_masked_roles_see_a_client_its_list_and_search_results_masked(people, role):
    made = harbour(people["partner"])
    assert_full(made)
    person = people[role]
    got = person.get(f"/api/clients/{made['id']}")
    assert got.status_code == 200
    assert_masked(got.json)
    listed = person.get("/api/clients").json["items"]
    assert_masked(next(item for item in listed if item["id"] == made["id"]))
    # Search by phone digits, the whole email and a whole address part (what encryption at rest keeps
    # searchable) still finds it; the result is masked.
    for q in ("0013", EMAIL, STREET):
        found = person.get("/api/clients", query_string={"q": q}).json
        assert [item["id"] for item in found["items"]] == [made["id"]], q
        assert_masked(found["items"][0])
        assert PHONE not in json.dumps(found) and EMAIL not in json.dumps(found)


@pytest.mark.parametrize("role", ["admin", "partner", "manager", "account_manager"])
def test_other_roles_see_them_in_full(people, role):
    made = harbour(people["partner"])
    assert_full(people[role].get(f"/api/clients/{made['id']}").json)
    assert people[role].get(f"/api/clients/{made['id']}").json["masked_fields"] == []
    assert_full(people[role].get("/api/clients", query_string={"q": "0013"}).json["items"][0])


def test_contacts_of_a_client_are_masked_too(people):
    made = harbour(people["partner"])
    url = f"/api/clients/{made['id']}/contacts"
    contact = people["partner"].post(url, json={"name": "Carol", "phones": [PHONE], "emails": [EMAIL]}).json
    for got in (people["viewer"].get(url).json["items"][0], people["viewer"].get(f"{url}/{contact['id']}").json):
        assert got["phones"] == ["138****1234"] and got["emails"] == ["c***@example.com"]
    full = people["manager"].get(f"{url}/{contact['id']}").json
    assert full["phones"] == [PHONE] and full["emails"] == [EMAIL]


def test_the_client_picker_and_timeline_carry_no_contact_data(people):
    made = harbour(people["partner"])
    picked = people["service_desk"].get("/api/choices/clients", query_string={"q": "0013"})
    assert picked.status_code == 200, picked.json
    assert [item["value"] for item in picked.json["items"]] == [made["id"]]
    timeline = people["viewer"].get(f"/api/clients/{made['id']}/timeline")
    for response in (picked, timeline):
        text = json.dumps(response.json)
        assert PHONE not in text and EMAIL not in text and STREET not in text


@MASKING_WRITERS
def test_a_masked_writer_gets_masked_responses_to_its_own_writes(people):
    am = people["account_manager"]
    made = harbour(am)
    assert_masked(made)
    changed = am.patch(f"/api/clients/{made['id']}", json={"tier": "B"})
    assert changed.status_code == 200 and changed.json["tier"] == "B"
    assert_masked(changed.json)
    # The masked values were not written back: the stored client keeps its full values.
    assert_full(people["partner"].get(f"/api/clients/{made['id']}").json)


# Duplicates (409) ---------------------------------------------------------------------------------------


@MASKING_WRITERS
def test_duplicate_candidates_show_no_contact_data(people):
    harbour(people["partner"])
    refused = people["account_manager"].post(
        "/api/clients", json={"name": "Someone Else", "phones": ["138 0013 1234"], "emails": [EMAIL]}
    )
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert refused.json["candidates"][0]["matched_on"]
    text = json.dumps(refused.json)
    assert PHONE not in text and EMAIL not in text and "0013 1234" not in text


# Audit --------------------------------------------------------------------------------------------------


def test_the_audit_row_of_an_update_says_contact_data_changed_not_to_what(app, people):
    made = harbour(people["partner"])
    changed = people["partner"].patch(
        f"/api/clients/{made['id']}",
        json={"phones": ["13900139999"], "emails": ["dave@example.com"], "custom_fields": {"tax_id": "GB999"}},
    )
    assert changed.status_code == 200, changed.json
    [row] = audit_rows(app, "client.update")
    assert row.detail["changes"]["phones"] == "changed" and row.detail["changes"]["emails"] == "changed"
    assert row.detail["changes"]["custom_fields"] == "changed"
    text = json.dumps(row.detail)
    for value in (PHONE, "13900139999", EMAIL, "dave@example.com", "GB999", "GB123456789"):
        assert value not in text


# Reveal -------------------------------------------------------------------------------------------------


REASON = "client called back, confirming the number"


@pytest.mark.parametrize("field", ["phones", "emails", "addresses", "tax_id"])
def test_a_masked_reader_reveals_one_field_for_a_reason_and_it_is_audited(app, people, field):
    made = harbour(people["partner"])
    revealed = people["viewer"].post(f"/api/clients/{made['id']}/reveal", json={"field": field, "reason": REASON})
    assert revealed.status_code == 200, revealed.json
    expected = made["custom_fields"]["tax_id"] if field == "tax_id" else made[field]
    assert revealed.json == {"client_id": made["id"], "field": field, "value": expected}
    [row] = audit_rows(app, "client.reveal")
    assert row.actor == "viewer" and row.target == f"client:{made['id']}"
    assert row.detail == {"field": field, "reason": REASON}
    # Revealing one field unmasks nothing else.
    assert_masked(people["viewer"].get(f"/api/clients/{made['id']}").json)


def test_reveal_attacks(app, people):
    made = harbour(people["partner"], name="Tax Team Client")
    url = f"/api/clients/{made['id']}/reveal"
    viewer = people["viewer"]

    no_reason = viewer.post(url, json={"field": "phones"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    short = viewer.post(url, json={"field": "phones", "reason": "because"})
    assert short.status_code == 422 and "reason" in short.json["errors"]
    for unknown in ("notes", "sector_code", "name", "password"):  # not masked, or not a field: nothing to reveal
        refused = viewer.post(url, json={"field": unknown, "reason": REASON})
        assert refused.status_code == 422 and "field" in refused.json["errors"], unknown
        assert refused.mimetype == "application/problem+json"

    # A client the reader may not see: none by that id, a deleted one, another team's.
    assert viewer.post("/api/clients/999999/reveal", json={"field": "phones", "reason": REASON}).status_code == 404
    other = harbour(people["partner"], name="Deleted Client", confirm_duplicate=True)
    assert people["partner"].delete(f"/api/clients/{other['id']}").status_code == 204
    gone = viewer.post(f"/api/clients/{other['id']}/reveal", json={"field": "phones", "reason": REASON})
    assert gone.status_code == 404 and gone.mimetype == "application/problem+json"
    theirs = people["am_audit"].post(url, json={"field": "phones", "reason": REASON})
    assert theirs.status_code == 404 and PHONE not in json.dumps(theirs.json)
    assert audit_rows(app, "client.reveal") == []


# Export (CSV and XLSX) ----------------------------------------------------------------------------------


def export(person, fmt: str) -> list[dict]:
    response = person.get("/api/clients/export", query_string={"format": fmt})
    assert response.status_code == 200, response.data[:300]
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    rows = list(load_workbook(io.BytesIO(response.data), read_only=True).active.values)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@MASKING_WRITERS
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_are_masked_for_masked_roles_and_full_for_others(people, fmt):
    harbour(people["partner"])
    [masked] = export(people["account_manager"], fmt)
    assert masked["phones"] == "138****1234" and masked["emails"] == "c***@example.com"
    assert masked["addresses"] == "office: ***, Bristol, ***, UK"
    assert masked["custom_fields.tax_id"] == "***" and masked["custom_fields.sector_code"] == "H52"
    [full] = export(people["manager"], fmt)
    assert full["phones"] == PHONE and full["emails"] == EMAIL
    assert full["addresses"] == "office: 1 Quay St, Bristol, BS1 4DJ, UK"
    assert full["custom_fields.tax_id"] == "GB123456789"


def test_an_export_by_search_of_phone_digits_works_for_a_masked_role(app_factory):
    app = app_factory(masked_roles=("account_manager",))
    people = people_in_two_teams(app)
    harbour(people["partner"])
    response = people["account_manager"].get("/api/clients/export", query_string={"q": "00131234"})
    assert response.status_code == 200
    text = response.data.decode("utf-8-sig")
    assert "138****1234" in text and PHONE not in text and EMAIL not in text


@pytest.mark.app(masked_roles=("viewer", "service_desk", "manager"))
def test_a_merge_result_masks_what_the_client_gained(people):
    into = harbour(people["partner"])
    dup = (
        people["partner"]
        .post(
            "/api/clients",
            json={
                "name": "Harbour Dup",
                "phones": ["13900139999"],
                "emails": ["dave@example.com"],
                "owner": "account_manager",
            },
        )
        .json
    )
    merged = people["manager"].post(f"/api/clients/{into['id']}/merge", json={"from_client_id": dup["id"]})
    assert merged.status_code == 200, merged.json
    assert merged.json["added"]["phones"] == ["139****9999"] and merged.json["added"]["emails"] == ["d***@example.com"]
    assert "13900139999" not in json.dumps(merged.json) and PHONE not in json.dumps(merged.json)


# Notifications ------------------------------------------------------------------------------------------


def notify_about(engine, client_id: int, *recipients: str) -> None:
    """An escalation about a client whose free text (a complaint's description) carries its contact data."""
    with engine.transaction() as session:
        for recipient in recipients:
            notifications.queue(
                session,
                kind="escalation",
                recipient=recipient,
                subject="Complaint from Harbour (138 0013 1234) not acknowledged",
                body=f"Customer says: call me on +86 138-0013-1234 or write to {EMAIL.upper()}; "
                f"I am at {STREET}, Bristol. Contact Carol: 13922220000.",
                actor="timer",
                client_id=client_id,
            )


def test_notifications_about_a_client_are_masked_for_masked_readers(app, people):
    made = harbour(people["partner"])
    people["partner"].post(f"/api/clients/{made['id']}/contacts", json={"name": "Carol", "phones": ["13922220000"]})
    notify_about(app.extensions["atrium.engine"], made["id"], "service_desk", "manager")

    [masked] = people["service_desk"].get("/api/me/notifications").json["items"]
    assert masked["subject"] == "Complaint from Harbour (138****1234) not acknowledged"
    assert masked["body"] == (
        "Customer says: call me on +86 138****1234 or write to c***@example.com; "
        "I am at ***, Bristol. Contact Carol: 139****0000."
    )
    read = people["service_desk"].post(f"/api/me/notifications/{masked['id']}/read").json
    assert read["body"] == masked["body"]

    [full] = people["manager"].get("/api/me/notifications").json["items"]
    assert "+86 138-0013-1234" in full["body"] and EMAIL.upper() in full["body"] and STREET in full["body"]
    # The admin's outbox shows the rows as they were written; its reader is not masked.
    listed = people["admin"].get("/api/notifications", query_string={"recipient": "service_desk"}).json["items"]
    assert "+86 138-0013-1234" in listed[0]["body"] and listed[0]["client_id"] == made["id"]


@pytest.mark.app(masked_roles=("viewer", "service_desk", "admin"))
def test_the_outbox_is_masked_for_an_admin_the_firm_masks(app, people):
    made = harbour(people["partner"])
    notify_about(app.extensions["atrium.engine"], made["id"], "manager")
    [row] = people["admin"].get("/api/notifications").json["items"]
    assert "138****1234" in row["body"] and "1234 or" in row["body"] and "0013" not in row["body"]


def test_mailed_notifications_are_masked_by_the_recipients_roles(db, services, clock, mailbox):
    engine = make_process_engine(db, services, **smtp_settings(mailbox.port))
    with engine.transaction() as session:
        make_account(session, "desk", roles=["service_desk"], email="desk@firm.example")
        make_account(session, "boss", roles=["manager"], email="boss@firm.example")
        client_id = make_client(
            session, name="Harbour", phones=[PHONE], emails=[EMAIL], addresses=[{"street": STREET}]
        ).id
    notify_about(engine, client_id, "desk", "boss")
    assert send_queued_notifications(engine) == 2
    [desk] = mailbox.to("desk@firm.example")
    [boss] = mailbox.to("boss@firm.example")
    assert desk["Subject"] == "Complaint from Harbour (138****1234) not acknowledged"
    desk_body = desk.get_content()
    assert "138****1234" in desk_body and "c***@example.com" in desk_body and STREET not in desk_body
    assert "0013" not in desk_body
    assert "+86 138-0013-1234" in boss.get_content() and boss["Subject"].endswith("(138 0013 1234) not acknowledged")


# Reports ------------------------------------------------------------------------------------------------


def test_no_report_shows_contact_data(people, clock):
    """Reports show figures about clients (counts, rates, names at most), never their contact data: a guard
    that each report, as JSON and HTML, holds none of a client's phones, emails, streets or sensitive fields."""
    harbour(people["partner"])
    day = clock.now().date().isoformat()
    names = [r["name"] for r in people["viewer"].get("/api/reports").json]
    assert names
    for name in names:
        for fmt in ("json", "html"):
            response = people["viewer"].get(
                f"/api/reports/{name}", query_string={"from": day, "to": day, "format": fmt}
            )
            assert response.status_code == 200, (name, fmt, response.data[:300])
            text = response.get_data(as_text=True)
            for value in (PHONE, "0013", EMAIL, STREET, "GB123456789"):
                assert value not in text, (name, fmt, value)


@MASKING_WRITERS
def test_a_masked_writer_sending_back_what_it_was_shown_changes_nothing(people):
    am = people["account_manager"]
    made = harbour(am)
    shown = am.get(f"/api/clients/{made['id']}").json
    body = {k: shown[k] for k in ("phones", "emails", "addresses", "custom_fields")}
    body["phones"] = [*body["phones"], "13700137777"]  # and one new number
    changed = am.patch(f"/api/clients/{made['id']}", json=body)
    assert changed.status_code == 200, changed.json
    full = people["partner"].get(f"/api/clients/{made['id']}").json
    assert full["phones"] == [PHONE, "13700137777"] and full["emails"] == [EMAIL]
    assert full["addresses"][0]["street"] == STREET and full["custom_fields"]["tax_id"] == "GB123456789"

    url = f"/api/clients/{made['id']}/contacts"
    contact = people["partner"].post(url, json={"name": "Carol", "phones": [PHONE], "emails": [EMAIL]}).json
    seen = am.get(f"{url}/{contact['id']}").json
    assert am.patch(f"{url}/{contact['id']}", json={"phones": seen["phones"], "role": "CFO"}).status_code == 200
    assert people["partner"].get(f"{url}/{contact['id']}").json["phones"] == [PHONE]
