"""The app opens in a real browser from the server alone (no CDN), in the browser's language."""

from __future__ import annotations


def test_the_login_page_opens_offline_in_english_and_in_chinese(live_server, browser, page, shot):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live_server.url + "/")
    page.get_by_role("heading", name="Log in to Atrium").wait_for()
    shot(page, "login-en")
    # everything the page loaded came from the server itself
    assert requested and all(url.startswith(live_server.url) for url in requested), requested

    chinese = browser.new_context(locale="zh-CN")
    try:
        page_zh = chinese.new_page()
        page_zh.goto(live_server.url + "/inbox")
        page_zh.get_by_role("heading", name="登录 Atrium").wait_for()
        assert page_zh.get_by_label("用户名").is_visible()
        shot(page_zh, "login-zh")
    finally:
        chinese.close()
