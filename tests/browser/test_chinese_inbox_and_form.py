"""Scenario 4 (inbox and task form): switching to 中文 turns the inbox, the task's form (its title,
field titles and choices) and the dates and amounts Chinese; the choice is kept on the account."""

from __future__ import annotations

import re

from .conftest import log_in
from .seed import api_as, create_client, request_approval

CLIENT = "广州明德会计师集团有限公司"
CHINESE_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")


def test_switching_to_chinese_turns_the_inbox_and_a_task_form_chinese_and_is_remembered(live_server, page, shot):
    amy = api_as(live_server, "amy")
    client = create_client(amy, CLIENT, owner="amy")
    request_approval(amy, amount=42000, client_id=client["id"])

    log_in(page, live_server, "paula")
    page.get_by_role("heading", name="Inbox").wait_for()
    page.get_by_text("中文", exact=True).click()
    page.get_by_role("heading", name="待办").wait_for()
    page.get_by_role("tab", name=re.compile("分配给我")).wait_for()
    page.get_by_role("tab", name=re.compile("待我认领")).click()
    row = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=re.compile(CLIENT)))
    # The subject and the task's name come from the process's Chinese translation; the amount in yuan.
    row.get_by_text(re.compile("审批")).first.wait_for()
    assert "¥42,000" in row.inner_text()
    assert "审批申请" in row.inner_text()
    assert re.search("到期|逾期", row.inner_text())
    shot(page, "inbox-zh")

    row.get_by_role("link", name=re.compile(CLIENT)).click()
    page.get_by_role("heading", level=1, name=re.compile(CLIENT)).wait_for()
    form = page.locator("form")
    page.get_by_role("heading", level=2, name="审批申请").wait_for()  # the form's title
    form.get_by_text("审批决定").wait_for()  # a field's title
    for choice in ("批准", "驳回", "退回修改"):
        page.get_by_role("radio", name=choice).wait_for()
    assert "¥42,000" in form.inner_text()
    assert CHINESE_DATE.search(page.get_by_role("article").inner_text())
    assert page.get_by_role("button", name="提交任务").is_visible()
    shot(page, "task-zh")

    page.reload()
    page.get_by_role("heading", level=1, name=re.compile(CLIENT)).wait_for()
    page.get_by_role("button", name="提交任务").wait_for()
    page.goto(live_server.url + "/inbox")
    page.get_by_role("heading", name="待办").wait_for()
    assert api_as(live_server, "paula").get("/api/me").json.get("locale") == "zh-CN"
    page.set_viewport_size({"width": 360, "height": 780})
    page.get_by_role("tab", name=re.compile("待我认领")).click()
    page.get_by_role("link", name=re.compile(CLIENT)).wait_for()
    shot(page, "inbox-zh-phone")

    # The client's page, too: its tabs, labels and dates in Chinese.
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{live_server.url}/clients/{client['id']}")
    page.get_by_role("heading", level=1, name=CLIENT).wait_for()
    for tab in ("概览", "联系人", "服务请求"):
        page.get_by_role("tab", name=tab).wait_for()
    page.get_by_text("负责人", exact=True).first.wait_for()
    assert CHINESE_DATE.search(page.get_by_role("main").inner_text())
    shot(page, "client-zh")
