"""Scenario: an administrator asks, from the client's page, to erase a client's personal data; a second
administrator confirms it on the Erasures page; the client is gone and its certificate downloads as a PDF.
Someone without the right sees neither the action nor the page."""

from __future__ import annotations

import re
from dataclasses import replace

from playwright.sync_api import expect

from ..factories import make_account
from .client_steps import as_person, new_client, signed_in
from .conftest import password

NAME = "Harbour Logistics Ltd"
REASON = "Client withdrew consent in writing; retention period over"


def _settled(page) -> None:
    """Wait until the dialogs' opening and closing animations are over (for the screenshots)."""
    page.wait_for_function(
        "() => document.getAnimations()"
        ".every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)"
    )


def _second_admin(live_server) -> None:
    """Bob, a second administrator (the scenario's people have one)."""
    engine = live_server.app.extensions["atrium.engine"]
    with engine.transaction() as session:
        make_account(session, "bob", roles=["admin"], display_name="Bob Admin", password=password("bob"))


def test_one_admin_asks_another_confirms_and_the_certificate_downloads(live_server, page, shot, tmp_path):
    _second_admin(live_server)
    amy = as_person(live_server, "amy")
    client = new_client(amy, NAME, owner="amy")
    blocked = new_client(amy, "Busy Trading Co", owner="amy")
    engagement = amy.post(
        f"/api/clients/{blocked['id']}/engagements", json={"service_type": "audit", "status": "active"}
    )
    assert engagement.status_code == 201, engagement.json

    # Ada asks from the client's page: the dialog explains, wants a reason and the name typed.
    signed_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    page.get_by_role("button", name="Erase personal data…").click()
    dialog = page.get_by_role("dialog", name=f"Erase the personal data of {NAME}")
    expect(dialog.get_by_text("Destroyed", exact=True)).to_be_visible()
    expect(dialog.get_by_text("Kept", exact=True)).to_be_visible()
    erase = dialog.get_by_role("button", name="Erase personal data")
    expect(erase).to_be_disabled()  # until the name is typed
    dialog.get_by_label("Reason").fill("too short")
    dialog.get_by_label(re.compile("Type the client's name")).fill(NAME)
    erase.click()
    expect(dialog.get_by_text("Write 10 to 1000 characters.")).to_be_visible()
    dialog.get_by_label("Reason").fill(REASON)
    expect(dialog.get_by_text("Write 10 to 1000 characters.")).to_have_count(0)
    shot(page, "erase-dialog")
    erase.click()
    done = page.get_by_role("dialog", name="Erasure requested")
    expect(done.get_by_text("A second administrator must confirm it on the Erasures page.")).to_be_visible()
    _settled(page)
    shot(page, "erase-requested")
    done.get_by_role("button", name="OK").click()

    # A client with an open engagement is refused, with the reason in the dialog.
    page.goto(f"{live_server.url}/clients/{blocked['id']}")
    page.get_by_role("button", name="Erase personal data…").click()
    dialog = page.get_by_role("dialog", name="Erase the personal data of Busy Trading Co")
    dialog.get_by_label("Reason").fill(REASON)
    dialog.get_by_label(re.compile("Type the client's name")).fill("Busy Trading Co")
    dialog.get_by_role("button", name="Erase personal data").click()
    expect(dialog.get_by_role("alert")).to_contain_text("open engagement")
    _settled(page)
    shot(page, "erase-refused")
    dialog.get_by_role("button", name="Cancel").click()

    # Ada may not confirm her own request.
    page.get_by_role("link", name="Erasures").click()
    expect(page.get_by_role("heading", name="Erasures", level=1)).to_be_visible()
    requests = page.get_by_role("region", name="Waiting for confirmation")
    expect(requests.get_by_role("cell", name=REASON)).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    own = requests.get_by_role("button", name=re.compile("^Confirm erasure"))
    expect(own).to_be_disabled()
    own.hover(force=True)
    expect(page.get_by_role("tooltip")).to_have_text(
        "You asked for this erasure: another administrator must confirm it."
    )
    expect(page.get_by_text("No retention policy is set")).to_be_visible()
    _settled(page)
    shot(page, "erasures-own-request")

    # Bob sees it and confirms, after being told it cannot be undone.
    other = page.context.browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 860}, accept_downloads=True
    )
    try:
        bob = other.new_page()
        signed_in(bob, live_server, "bob")
        bob.get_by_role("link", name="Erasures").click()
        requests = bob.get_by_role("region", name="Waiting for confirmation")
        row = requests.get_by_role("row").filter(has_text=REASON)
        expect(row.get_by_role("link", name=f"Client #{client['id']}")).to_have_attribute(
            "href", f"/clients/{client['id']}"
        )
        expect(row.get_by_role("cell", name="ada", exact=True)).to_be_visible()
        _settled(bob)
        shot(bob, "erasures-to-confirm")
        row.get_by_role("button", name=re.compile("^Confirm erasure")).click()
        ask = bob.get_by_role("dialog", name=f"Erase client #{client['id']} now?")
        expect(ask.get_by_text("This cannot be undone.")).to_be_visible()
        _settled(bob)
        shot(bob, "erasures-confirm-dialog")
        ask.get_by_role("button", name="Erase now").click()
        expect(requests.get_by_text("No erasure waits for confirmation.")).to_be_visible()
        finished = bob.get_by_role("region", name="Done erasures").get_by_role("row").filter(has_text=REASON)
        expect(finished.get_by_role("cell", name="bob", exact=True)).to_be_visible()
        _settled(bob)
        shot(bob, "erasures-done")

        # The certificate downloads as a PDF.
        with bob.expect_download() as download_info:
            finished.get_by_role("button", name=re.compile("^Download the certificate")).click()
        download = download_info.value
        assert download.suggested_filename.endswith("-certificate.pdf")
        saved = tmp_path / "certificate.pdf"
        download.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF")

        # The client is gone.
        bob.goto(f"{live_server.url}/clients/{client['id']}")
        expect(bob.get_by_role("heading", name="Client not found")).to_be_visible()
        shot(bob, "erased-client-not-found")

        # In Chinese.
        bob.goto(f"{live_server.url}/erasures")
        bob.get_by_text("中文", exact=True).click()
        expect(bob.get_by_role("heading", name="数据清除", level=1)).to_be_visible()
        expect(bob.get_by_role("heading", name="已完成的清除")).to_be_visible()
        expect(
            bob.get_by_role("button", name="证明书（PDF）").or_(bob.get_by_role("button", name=re.compile("证明书")))
        ).to_have_count(1)
        _settled(bob)
        shot(bob, "erasures-zh")
    finally:
        other.close()


def test_someone_without_the_right_sees_no_erase_action_nor_the_erasures_page(live_server, page, shot):
    client = new_client(as_person(live_server, "amy"), NAME, owner="amy")
    signed_in(page, live_server, "amy")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Edit client")).to_be_visible()  # the page's actions are there
    expect(page.get_by_role("button", name="Erase personal data…")).to_have_count(0)
    expect(page.get_by_role("link", name="Erasures")).to_have_count(0)
    page.goto(f"{live_server.url}/erasures")
    expect(page.get_by_role("heading", name="You can't open this page")).to_be_visible()
    shot(page, "erasures-forbidden")


def test_the_retention_preview_lists_due_clients_and_a_request_is_withdrawn(live_server, page, shot):
    settings = live_server.app.extensions["atrium.settings"]
    live_server.app.extensions["atrium.settings"] = replace(settings, erase_after_years=7)
    amy = as_person(live_server, "amy")
    client = new_client(amy, "Old Mill Partners", owner="amy", status="former")
    engagement = amy.post(
        f"/api/clients/{client['id']}/engagements", json={"service_type": "audit", "status": "active"}
    )
    assert engagement.status_code == 201, engagement.json
    _age_client(live_server, client["id"], years=7)
    other = new_client(amy, "Quiet Lane Studio", owner="amy")
    asked = as_person(live_server, "ada").post(f"/api/clients/{other['id']}/erase", json={"reason": REASON})
    assert asked.status_code == 202, asked.json

    signed_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/erasures")
    retention = page.get_by_role("region", name="Retention policy")
    expect(retention.get_by_text("for 7 years are erased automatically")).to_be_visible()
    row = retention.get_by_role("row").filter(has_text="Old Mill Partners")
    expect(row.get_by_role("link", name=f"Client #{client['id']}")).to_be_visible()
    expect(row.get_by_text("open engagement")).to_be_visible()
    shot(page, "erasures-retention")

    # Ada withdraws her request: nothing waits any more.
    requests = page.get_by_role("region", name="Waiting for confirmation")
    requests.get_by_role("button", name=f"Withdraw erasure {asked.json['id']}").click()
    expect(page.get_by_text("The erasure request was withdrawn.")).to_be_visible()
    expect(requests.get_by_text("No erasure waits for confirmation.")).to_be_visible()

    # At phone width, in Chinese: the preview and the client page's dialog.
    page.set_viewport_size({"width": 360, "height": 780})
    page.get_by_text("中文", exact=True).click()
    expect(page.get_by_role("heading", name="保留政策")).to_be_visible()
    page.mouse.move(180, 500)  # a toast under the pointer stays
    expect(page.get_by_text("The erasure request was withdrawn.")).to_have_count(0)
    _settled(page)
    shot(page, "erasures-retention-phone-zh")
    page.goto(f"{live_server.url}/clients/{client['id']}")
    page.get_by_role("button", name="清除个人数据…").click()
    dialog = page.get_by_role("dialog", name="清除 Old Mill Partners 的个人数据")
    expect(dialog.get_by_text("将保留", exact=True)).to_be_visible()
    _settled(page)
    shot(page, "erase-dialog-phone-zh")


def _age_client(live_server, client_id: int, *, years: int) -> None:
    """The client last changed `years` years and a day ago (the clock cannot move the server's past)."""
    from datetime import timedelta

    from atrium import clock
    from storage.clients import Client

    engine = live_server.app.extensions["atrium.engine"]
    with engine.transaction() as session:
        row = session.get(Client, client_id)
        row.updated_at = clock.now() - timedelta(days=365 * years + 3)
