"""A client's contact answers a survey from the mailed link on a phone, without logging in; the link works
once: opened again, it says the survey is closed. Also in Chinese, for a contact who reads Chinese."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from atrium import surveys
from storage.clients import Contact
from storage.notifications import Notification

from .seed import api_as, create_client

PHONE = {"width": 390, "height": 844}


def mailed_link(live_server, client_id: int, form_key: str, locale: str | None = None) -> str:
    engine = live_server.app.extensions["atrium.engine"]
    with engine.transaction() as session:
        if locale:
            session.scalars(select(Contact).where(Contact.client_id == client_id)).one().locale = locale
        surveys.start_survey(engine, session, client_id=client_id, form_key=form_key, actor=None)
    with engine.transaction() as session:
        body = session.scalars(
            select(Notification.body).where(Notification.kind == "survey").order_by(Notification.id.desc())
        ).first()
    return re.search(r"(/survey/\S+)", body).group(1)


def new_client_with_contact(live_server, name: str) -> int:
    amy = api_as(live_server, "amy")
    client = create_client(amy, name, owner="amy", status="active")
    made = amy.post(f"/api/clients/{client['id']}/contacts", json={"name": "Li Wei", "emails": ["li.wei@example.com"]})
    assert made.status_code == 201, made.json
    return client["id"]


def test_a_contact_answers_on_a_phone_once_and_the_link_then_says_closed(live_server, browser, shot):
    link = mailed_link(live_server, new_client_with_contact(live_server, "Harbour Logistics Ltd"), surveys.NPS_FORM)
    phone = browser.new_context(locale="en-GB", viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = phone.new_page()
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(live_server.url + link)
        page.get_by_role("heading", name="Would you recommend us?").wait_for()
        assert page.get_by_text("Harbour Logistics").count() == 0  # nothing about the client
        shot(page, "1-survey-open")
        page.get_by_role("radio", name="9", exact=True).check()
        page.get_by_label("What is the main reason for your score?").fill("Quick answers, clear advice.")
        shot(page, "2-survey-filled")
        page.get_by_role("button", name="Send my answer").click()
        expect(page.get_by_text("Thank you!")).to_be_visible()
        shot(page, "3-thank-you")
        assert all(url.startswith(live_server.url) for url in requested)

        again = phone.new_page()
        again.goto(live_server.url + link)
        expect(again.get_by_text("This survey is closed")).to_be_visible()
        shot(again, "4-already-answered")
        again.get_by_role("button", name="Unsubscribe from surveys").click()
        again.get_by_role("button", name="Unsubscribe", exact=True).click()
        expect(again.get_by_text("You are unsubscribed.")).to_be_visible()
        shot(again, "5-unsubscribed")
    finally:
        phone.close()


def test_a_contact_who_reads_chinese_gets_the_survey_in_chinese(live_server, browser, shot):
    client_id = new_client_with_contact(live_server, "广州明德贸易有限公司")
    link = mailed_link(live_server, client_id, surveys.CSAT_FORM, locale="zh-CN")
    phone = browser.new_context(locale="en-GB", viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = phone.new_page()
        page.goto(live_server.url + link)
        page.get_by_role("heading", name="您满意吗？").wait_for()
        page.get_by_role("radio", name="5 非常满意").check()
        shot(page, "1-survey-zh")
        page.get_by_role("button", name="提交我的回答").click()
        expect(page.get_by_text("谢谢！")).to_be_visible()
        shot(page, "2-thank-you-zh")
    finally:
        phone.close()
