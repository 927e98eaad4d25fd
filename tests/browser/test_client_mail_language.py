"""The language mail to a client's people is written in, chosen on the client's and a contact's form, and
what they opted out of shown beside each contact and for the whole client."""

from __future__ import annotations

from playwright.sync_api import expect

from storage.clients import Client, Contact

from .client_steps import as_person, new_client, signed_in


def test_an_account_manager_sets_a_contacts_language_and_sees_their_opt_outs(live_server, page, shot):
    amy = as_person(live_server, "amy")
    client = new_client(amy, "Pearl River Trading", owner="amy", status="active")
    contact = amy.post(f"/api/clients/{client['id']}/contacts", json={"name": "Li Wei", "emails": ["li@pearl.example"]})
    assert contact.status_code == 201, contact.json
    made = amy.post(
        f"/api/clients/{client['id']}/opt-outs", json={"contact_id": contact.json["id"], "topic": "surveys"}
    )
    assert made.status_code == 201, made.json
    assert amy.post(f"/api/clients/{client['id']}/opt-outs", json={"topic": "care_mail"}).status_code == 201

    signed_in(page, live_server, "amy")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    page.get_by_role("tab", name="Contacts").click()
    expect(page.get_by_text("The whole client opted out of: No care mail")).to_be_visible()
    row = page.get_by_role("row", name="Li Wei")
    expect(row.get_by_text("No surveys")).to_be_visible()

    page.get_by_role("button", name="Edit Li Wei").click()
    dialog = page.get_by_role("dialog", name="Edit contact")
    expect(dialog.get_by_text("Same as the client")).to_be_visible()
    dialog.get_by_text("Same as the client").click()
    page.get_by_title("中文（简体）").click()
    shot(page, "contact-mail-language")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row.get_by_text("中文（简体）")).to_be_visible()
    shot(page, "contact-opted-out-and-language")

    page.goto(f"{live_server.url}/clients/{client['id']}/edit")
    page.get_by_text("The firm's default").click()
    page.get_by_title("English").click()
    page.get_by_role("button", name="Save client").click()
    expect(page.get_by_role("heading", name="Pearl River Trading", level=1)).to_be_visible()
    expect(page.locator(".client-details").get_by_text("English")).to_be_visible()
    with live_server.app.extensions["atrium.engine"].transaction() as session:
        assert session.get(Contact, contact.json["id"]).locale == "zh-CN"
        assert session.get(Client, client["id"]).locale == "en"
