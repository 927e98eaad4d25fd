"""Language: the request's locale from Accept-Language, problems in it, task subjects and names in
every language, searching them, and forms and processes shown in the person's language."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from atrium.i18n import format_date, format_money, format_number, negotiate, translate
from engine.subjects import render_subject, template_problem
from engine.translations import localize_form, task_texts

from .api_helpers import callers, client_body, deploy_firm_processes

ZH = {"Accept-Language": "zh-CN"}
CLIENT = "广州明德会计师集团有限公司"


@pytest.mark.parametrize(
    "header, locale",
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("fr-FR", "en"),
        ("en-GB,zh;q=0.8", "en"),
        ("fr;q=1, zh-CN;q=0.9, en;q=0.8", "zh-CN"),
        ("en;q=0.2, zh-CN;q=0.9", "zh-CN"),
        ("zh;q=0, en", "en"),
        ("*", "en"),
    ],
)
def test_the_locale_is_negotiated_from_accept_language(header, locale):
    assert negotiate(header) == locale


def test_a_message_falls_back_to_its_english_text_never_to_a_key():
    assert translate("Not found", "zh-CN") == "未找到"
    assert translate("problem.invalid_fields", "en") == "the request has invalid fields"
    assert translate("problem.invalid_fields", "zh-CN") == "请求中有字段无效"
    assert translate("task 42 not found", "zh-CN") == "未找到任务 42"
    assert translate("something nobody translated", "zh-CN") == "something nobody translated"


def test_amounts_dates_and_numbers_are_formatted_for_the_locale():
    assert format_money(42000, "en") == format_money("42000.00", "zh-CN") == "¥42,000"
    assert format_money(1234.5, "en") == "¥1,234.50"
    assert format_money(-12, "en") == "-¥12"
    assert format_date("2026-11-29", "en") == "29 Nov 2026"
    assert format_date("2026-11-29T10:00:00+00:00", "zh-CN") == "2026年11月29日"
    assert format_number(1234567.25, "en") == "1,234,567.25"


def test_a_subject_is_a_plain_lookup_that_never_fails():
    data = {"amount": 42000, "client": {"name": CLIENT}, "title": "x", "text": "abc"}
    assert render_subject("Approve {amount:money} for {client.name}", data, "en") == f"Approve ¥42,000 for {CLIENT}"
    # Missing values, attribute access on a string and values a format cannot take show as a dash or as they are.
    assert render_subject("{missing} {text.upper} {title:money} {{literal}}", data, "en") == "— — x {literal}"
    assert (
        template_problem("{amount:euro}")
        == "unknown format 'euro' in subject '{amount:euro}' (known: money, date, number)"
    )
    assert template_problem("{a.__class__()}") is not None
    assert template_problem("open {brace") is not None
    assert template_problem("Approve {kind} of {amount:money}") is None


def test_a_missing_translation_falls_back_to_the_files_text():
    texts, search = task_texts(
        element_id="decide",
        name="Decide on the request",
        subject="Approve {amount:money}",
        process_id="approval",
        process_name="Approval",
        translations={"zh-CN": {"approval": "审批"}},
        data={"amount": 5},
    )
    assert texts == {
        "name": {"en": "Decide on the request", "zh-CN": "Decide on the request"},
        "subject": {"en": "Approve ¥5", "zh-CN": "Approve ¥5"},
        "process_name": {"en": "Approval", "zh-CN": "审批"},
    }
    assert search == "decide on the request approve ¥5"
    schema = {
        "title": "Form",
        "properties": {
            "a": {"type": "string", "title": "A", "enum": ["x", "y"]},
            "b": {"type": "string", "title": "B"},
        },
    }
    localized, ui = localize_form(schema, None, {"a.enum.x": "甲", "b": "乙"})
    assert localized["title"] == "Form" and localized["properties"]["a"]["title"] == "A"
    assert localized["properties"]["b"]["title"] == "乙"
    assert ui == {"a": {"ui:enumNames": ["甲", "y"]}}
    assert schema["properties"]["b"]["title"] == "B"  # the deployed form itself is untouched


# Through the API --------------------------------------------------------------------------------
@pytest.fixture
def people(firm_app):
    people = callers(firm_app.test_client())
    deploy_firm_processes(people["admin"])
    return people


def test_a_404_and_a_422_come_back_in_chinese_when_asked_and_in_english_otherwise(people):
    viewer, task_id = people["viewer"], uuid.uuid4()
    missing = viewer.get(f"/api/tasks/{task_id}", headers=ZH)
    assert missing.status_code == 404
    assert (missing.json["title"], missing.json["detail"]) == ("未找到", f"未找到任务 {task_id}")
    english = viewer.get(f"/api/tasks/{task_id}")
    assert (english.json["title"], english.json["detail"]) == ("Not found", f"task {task_id} not found")
    invalid = people["admin"].post("/api/accounts", json={"password": "x" * 12}, headers=ZH)
    assert invalid.status_code == 422
    assert (invalid.json["title"], invalid.json["detail"]) == ("输入无效", "请求中有字段无效")
    assert invalid.json["errors"]["username"] == ["此项为必填项。"]
    invalid = people["admin"].post("/api/accounts", json={"password": "x" * 12})
    assert invalid.json["errors"]["username"] == ["Missing data for required field."]
    assert invalid.json["detail"] == "the request has invalid fields"


def test_a_wrong_password_and_a_refusal_are_explained_in_chinese(firm_app, people):
    refused = firm_app.test_client().post(
        "/api/auth/token", json={"username": "viewer", "password": "wrong-password"}, headers=ZH
    )
    assert refused.status_code == 401 and refused.json["detail"] == "用户名或密码错误"
    forbidden = people["viewer"].post(
        "/api/deployments", data={"files": []}, content_type="multipart/form-data", headers=ZH
    )
    assert forbidden.status_code == 403 and forbidden.json["title"] == "无权操作"
    assert forbidden.json["detail"].startswith("您的角色（viewer）无权执行")


def _fee_for_a_chinese_client(people) -> dict:
    """An account manager asks for a fee of ¥42,000 for a client with a Chinese name; a partner decides."""
    am = people["account_manager"]
    made = am.post(
        "/api/clients",
        json=client_body(
            name=CLIENT, phones=["+86 20 8888 0000"], emails=["office@mingde.example"], owner="account_manager"
        ),
    )
    assert made.status_code == 201, made.json
    started = am.post("/api/process-instances", json={"process_key": "approval"})
    [submit] = started.json["open_tasks"]
    done = am.post(
        f"/api/tasks/{submit['id']}/complete",
        json={"data": {"kind": "fee", "amount": 42000, "client_id": made.json["id"], "justification": "Annual audit"}},
    )
    assert done.status_code == 200, done.json
    [task] = people["partner"].get(f"/api/tasks?instance_id={started.json['id']}").json["items"]
    return task


def test_the_subject_of_an_approval_is_shown_in_english_and_chinese(people):
    task = _fee_for_a_chinese_client(people)
    assert task["subject"] == f"Approve fee of ¥42,000 for {CLIENT}"
    assert (task["name"], task["process_name"]) == ("Decide on the request", "Approval of a fee, discount or write-off")
    partner = people["partner"]
    [chinese] = partner.get(f"/api/tasks?instance_id={task['instance_id']}", headers=ZH).json["items"]
    assert (chinese["name"], chinese["subject"], chinese["process_name"]) == (
        "审批申请",
        f"审批：{CLIENT} ¥42,000",
        "收费、折扣或核销审批",
    )
    detail = partner.get(f"/api/tasks/{task['id']}", headers=ZH).json
    assert (detail["name"], detail["subject"]) == ("审批申请", f"审批：{CLIENT} ¥42,000")
    claimed = partner.post(f"/api/tasks/{task['id']}/claim", headers=ZH).json
    assert (claimed["subject"], claimed["process_name"]) == (f"审批：{CLIENT} ¥42,000", "收费、折扣或核销审批")
    done = partner.post(f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}}).json
    assert done["subject"] == f"Approve fee of ¥42,000 for {CLIENT}"


def test_an_instances_history_names_its_steps_in_the_readers_language(people):
    task = _fee_for_a_chinese_client(people)
    url = f"/api/process-instances/{task['instance_id']}/history"
    names = {e["element_id"]: e["element_name"] for e in people["partner"].get(url, headers=ZH).json["items"]}
    assert names["submit"] == "提交申请" and names["decide"] == "审批申请"
    english = {e["element_id"]: e["element_name"] for e in people["partner"].get(url).json["items"]}
    assert english["submit"] == "Submit the request"


def test_a_task_without_a_subject_shows_its_name_as_subject(people):
    started = (
        people["account_manager"].post("/api/process-instances", json={"process_key": "approval"}, headers=ZH).json
    )
    [submit] = started["open_tasks"]
    assert (submit["name"], submit["subject"]) == ("提交申请", "提交收费、折扣或核销审批申请")


def test_searching_a_chinese_fragment_of_the_subject_finds_the_task_only_for_those_who_may_see_it(people):
    task = _fee_for_a_chinese_client(people)
    partner = people["partner"]
    for q in ("明德", "明", "审批：广州", "APPROVE FEE", "¥42,000"):
        found = partner.get("/api/tasks", query_string={"q": q}).json
        assert [t["id"] for t in found["items"]] == [task["id"]], q
        assert partner.get("/api/tasks/count", query_string={"q": q}).json == {"count": 1}
    assert partner.get("/api/tasks", query_string={"q": "明德", "candidate_user": "me"}).json["total"] == 1
    assert partner.get("/api/tasks", query_string={"q": "明德", "process_key": "complaint"}).json["total"] == 0
    assert partner.get("/api/tasks", query_string={"q": "天河"}).json["total"] == 0
    # The requester and the service desk do not see the partner's task, so no search finds it for them.
    for other in ("account_manager", "service_desk"):
        assert people[other].get("/api/tasks", query_string={"q": "明德"}).json["items"] == []
        assert people[other].get("/api/tasks/count", query_string={"q": "明德"}).json == {"count": 0}


def test_a_task_form_is_shown_in_chinese_with_the_choices_labelled(people):
    task = _fee_for_a_chinese_client(people)
    partner = people["partner"]
    english = partner.get(f"/api/tasks/{task['id']}").json["form"]
    chinese = partner.get(f"/api/tasks/{task['id']}", headers=ZH).json["form"]
    assert english["schema"]["title"] == "Decide on the request" and english["ui_schema"] is None
    assert chinese["schema"]["title"] == "审批申请"
    assert chinese["schema"]["properties"]["decision"]["title"] == "审批决定"
    assert chinese["ui_schema"]["decision"]["ui:enumNames"] == ["批准", "驳回", "退回修改"]
    # Only the texts change: what validates is the same.
    assert chinese["schema"]["properties"]["decision"]["enum"] == english["schema"]["properties"]["decision"]["enum"]
    assert chinese["schema"]["allOf"] == english["schema"]["allOf"]
    triage = partner.get("/api/forms/service_request_triage", headers=ZH).json
    assert (triage["schema"]["title"], triage["schema"]["properties"]["title"]["title"]) == ("分拣服务请求", "请求")
    assert triage["ui_schema"]["priority"]["ui:enumNames"] == ["低", "普通", "高", "紧急"]
    assert triage["ui_schema"]["ui:order"][0] == "title"


def test_process_definitions_carry_their_name_in_the_requests_language(people):
    viewer = people["viewer"]
    names = {d["process_key"]: d["name"] for d in viewer.get("/api/process-definitions", headers=ZH).json["items"]}
    assert names["approval"] == "收费、折扣或核销审批" and names["service_request"] == "服务请求"
    one = viewer.get("/api/process-definitions/approval", headers=ZH).json
    assert one["name"] == one["versions"][0]["name"] == "收费、折扣或核销审批"
    assert viewer.get("/api/process-definitions/approval").json["name"] == "Approval of a fee, discount or write-off"


def _deploy(admin, *files: tuple[str, dict | str]):
    parts = [
        (io.BytesIO((c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)).encode()), name)
        for name, c in files
    ]
    return admin.post("/api/deployments", data={"files": parts}, content_type="multipart/form-data")


def test_a_translation_deployed_on_its_own_replaces_the_last_and_falls_back_to_english(people):
    admin, partner = people["admin"], people["partner"]
    deployed = _deploy(admin, ("approval_review.zh-CN.json", {"title": "审批", "decision.enum.approve": "同意"}))
    assert deployed.status_code == 201, deployed.json
    assert deployed.json["translations"] == [
        {"kind": "form", "name": "approval_review", "locale": "zh-CN", "created": True}
    ]
    form = partner.get("/api/forms/approval_review", headers=ZH).json
    assert form["schema"]["title"] == "审批"
    assert form["schema"]["properties"]["reason"]["title"] == "Reason"
    assert form["ui_schema"]["decision"]["ui:enumNames"] == ["同意", "reject", "rework"]
    again = _deploy(admin, ("approval_review.zh-CN.json", {"title": "审批", "decision.enum.approve": "同意"}))
    assert again.json["translations"][0]["created"] is False


def test_translation_keys_that_name_nothing_and_unknown_locales_are_refused(people):
    admin = people["admin"]
    refused = _deploy(
        admin,
        ("approval_review.zh-CN.json", {"title": "审批", "decison": "错字"}),
        ("approval.zh-CN.json", {"decide": "审批", "nowhere": "无", "decide.subject": "{amount:euro}"}),
        ("approval.fr.json", {"decide": "Décider"}),
        ("nothing.zh-CN.json", {"x": "y"}),
    )
    assert refused.status_code == 422
    problems = {(p["file"], p["element_id"]) for p in refused.json["errors"]}
    assert problems == {
        ("approval_review.zh-CN.json", "decison"),
        ("approval.zh-CN.json", "nowhere"),
        ("approval.zh-CN.json", "decide.subject"),
        ("approval.fr.json", None),
        ("nothing.zh-CN.json", None),
    }


def test_an_unknown_format_in_a_bpmn_subject_is_refused_naming_the_element(people):
    from atrium.settings import PROJECT_ROOT

    folder = PROJECT_ROOT / "processes"
    bpmn = (folder / "approval.bpmn").read_text().replace("{amount:money} for", "{amount:yen} for")
    refused = _deploy(
        people["admin"], ("approval.bpmn", bpmn), ("approval_route.dmn", (folder / "approval_route.dmn").read_text())
    )
    assert refused.status_code == 422
    assert {(p["element_id"], "unknown format 'yen'" in p["message"]) for p in refused.json["errors"]} == {
        ("decide", True),
        ("rework", True),
    }


def test_a_message_with_terms_writes_them_in_its_own_language():
    from atrium.i18n import Term

    def approved(locale, **about):
        return translate(
            "notification.approval_decided.subject",
            locale,
            what=Term("approval.what", kind=Term("approval.kind.fee"), amount="1,200.00"),
            about=Term("approval.about", **about) if about else "",
            outcome=Term("approval.outcome.approved"),
        )

    assert approved("en") == "Your fee of 1,200.00 was approved"
    assert approved("zh-CN") == "您的费用申请（1,200.00）已批准"
    assert approved("zh-CN", client="Harbour") == "您的费用申请（1,200.00）（客户：Harbour）已批准"


def test_every_notification_is_in_both_catalogues_with_the_same_placeholders():
    import re

    from atrium.i18n import catalogue

    english, chinese = catalogue("en"), catalogue("zh-CN")
    placeholders = re.compile(r"\{(\w+)\}")
    keys = [k for k in english if k.split(".")[0] in ("notification", "approval", "complaint", "request", "follow_up")]
    assert len(keys) > 30
    for key in keys:
        assert key in chinese, key
        assert set(placeholders.findall(english[key])) == set(placeholders.findall(chinese[key])), key


def test_every_screen_text_is_in_both_languages_with_the_same_placeholders():
    import re

    from atrium.settings import PROJECT_ROOT

    def flat(tree, prefix=""):
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from flat(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    placeholders = re.compile(r"\{\{\s*(\w+)")
    folder = PROJECT_ROOT / "web" / "src" / "i18n"
    namespaces = sorted(path.name for path in (folder / "en").glob("*.json"))
    assert namespaces == sorted(path.name for path in (folder / "zh-CN").glob("*.json"))
    for name in namespaces:
        english = dict(flat(json.loads((folder / "en" / name).read_text(encoding="utf-8"))))
        chinese = dict(flat(json.loads((folder / "zh-CN" / name).read_text(encoding="utf-8"))))
        # i18next plurals: Chinese has one form, `_other` or the bare key, for an English `_one`/`_other` pair.
        missing = {
            key
            for key in english
            if key not in chinese
            and not key.endswith("_one")
            and not (key.endswith("_other") and key.removesuffix("_other") in chinese)
        }
        assert not missing, (name, sorted(missing))
        for key, text in english.items():
            translated = chinese.get(key, chinese.get(key.removesuffix("_other")))
            if translated is not None and not key.endswith("_one"):
                assert set(placeholders.findall(text)) == set(placeholders.findall(translated)), (name, key)
