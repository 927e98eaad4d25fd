"""Clients in and out in bulk: exporting the filtered list as CSV and XLSX, importing a spreadsheet with a
dry-run report and all-or-nothing writes, and merging a duplicate client into another."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from atrium.client_merge import merge_clients
from atrium.errors import Conflict
from storage.clients import ClientStatusChange

from .api_helpers import deploy_via_api, people_in_two_teams
from .conftest import make_process_engine
from .factories import make_client as new_client
from .test_concurrency import _race

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


pytestmark = pytest.mark.app(import_max_rows=20, import_max_bytes=64 * 1024)


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


def client_count(person) -> int:
    return person.get("/api/clients").json["total"]


def csv_file(rows: list[list[str]], *, encoding="utf-8", delimiter=",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_file(rows: list[list]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(person, content: bytes, *, filename="clients.csv", mapping=None, **form):
    data = {"file": (io.BytesIO(content), filename), **{k: str(v).lower() for k, v in form.items()}}
    if mapping is not None:
        data["mapping"] = mapping if isinstance(mapping, str) else json.dumps(mapping)
    return person.post("/api/clients/import", data=data, content_type="multipart/form-data")


# Export -------------------------------------------------------------------------------


def test_account_manager_exports_only_their_teams_clients_to_xlsx_with_chinese_names(people):
    partner = people["partner"]
    mine = new_client(partner, owner="account_manager")
    team = new_client(
        partner,
        name="张三丰律师事务所",
        kind="person",
        phones=["13800138000"],
        emails=[],
        addresses=[{"label": "office", "street": "解放大道 1 号", "city": "武汉"}],
        tags=["vip", "诉讼"],
        owner="am_tax",
        tier="B",
    )
    new_client(partner, name="Other Team Ltd", phones=[], emails=[], owner="am_audit")
    response = people["account_manager"].get("/api/clients/export?format=xlsx")
    assert response.status_code == 200, response.json
    assert response.mimetype == XLSX
    assert response.headers["Content-Disposition"].startswith("attachment; filename=clients-")
    assert response.headers["Content-Disposition"].endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[0]
    assert header[:12] == [
        "id",
        "name",
        "kind",
        "tier",
        "status",
        "industry",
        "owner",
        "tags",
        "phones",
        "emails",
        "addresses",
        "notes",
    ]
    by_name = {row[1]: dict(zip(header, row)) for row in rows[1:]}
    assert set(by_name) == {"Harbour Logistics Ltd", "张三丰律师事务所"}  # not the other team's client
    chinese = by_name["张三丰律师事务所"]
    assert chinese["id"] == team["id"] and chinese["owner"] == "am_tax" and chinese["tier"] == "B"
    assert chinese["tags"] == "vip; 诉讼" and chinese["phones"] == "13800138000"
    assert chinese["addresses"] == "office: 解放大道 1 号, 武汉"
    assert by_name["Harbour Logistics Ltd"]["id"] == mine["id"]
    assert by_name["Harbour Logistics Ltd"]["phones"] == "+44 20 7946 0000"  # text, as typed
    # The same filters as the list: only tier B.
    filtered = people["account_manager"].get("/api/clients/export?format=xlsx&tier=B")
    names = [r[1] for r in load_workbook(io.BytesIO(filtered.data)).active.iter_rows(min_row=2, values_only=True)]
    assert names == ["张三丰律师事务所"]


def test_csv_export_follows_search_and_sort_and_is_safe_to_open_in_excel(people):
    partner = people["partner"]
    new_client(partner, owner="account_manager")
    new_client(
        partner,
        name='=HYPERLINK("http://evil.example","click")',
        phones=["-1 555 0100"],
        emails=[],
        notes="@SUM(A1:A9)",
        tags=["+vip"],
        tier="B",
    )
    new_client(partner, name="王小明", kind="person", phones=["13900139000"], emails=[], tier="C", tags=[])
    response = partner.get("/api/clients/export?format=csv&sort=-name")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params.get("charset") == "utf-8"
    assert 'filename="clients-' in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].endswith('.csv"')
    assert response.data.startswith("\ufeff".encode())  # the BOM Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["name"] for r in rows] == [
        "王小明",
        '\'=HYPERLINK("http://evil.example","click")',
        "Harbour Logistics Ltd",
    ]  # by name without punctuation, descending
    evil = rows[1]
    assert evil["phones"] == "'-1 555 0100" and evil["notes"] == "'@SUM(A1:A9)" and evil["tags"] == "'+vip"
    assert rows[2]["phones"] == "'+44 20 7946 0000"
    assert rows[0]["tier"] == "C" and rows[0]["kind"] == "person"
    searched = partner.get("/api/clients/export?format=csv&q=harbour")
    assert [r["name"] for r in csv.DictReader(io.StringIO(searched.data.decode("utf-8-sig")))] == [
        "Harbour Logistics Ltd"
    ]
    # In the workbook the same name is a text cell, never a formula.
    sheet = load_workbook(io.BytesIO(partner.get("/api/clients/export?format=xlsx&tier=B").data)).active
    assert sheet["B2"].value.startswith("=HYPERLINK") and sheet["B2"].data_type == "s"


@pytest.mark.parametrize("sort", ["-name", "tier", "created"])
def test_a_long_export_is_read_in_batches_in_the_same_order_as_the_list(people, clock, monkeypatch, sort):
    import api.client_transfer

    monkeypatch.setattr(api.client_transfer, "EXPORT_BATCH", 2)
    partner = people["partner"]
    for name, tier in (("Alpha", "B"), ("Beta", "A"), ("Alpha", "C"), ("Gamma", "B"), ("Alpha", "B"), ("Delta", "A")):
        new_client(partner, name=name, tier=tier, phones=[], emails=[], confirm_duplicate=True)
        clock.advance(seconds=1)
    listed = [c["id"] for c in partner.get(f"/api/clients?sort={sort}").json["items"]]
    exported = partner.get(f"/api/clients/export?sort={sort}").data.decode("utf-8-sig")
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(exported))] == listed and len(listed) == 6
    sheet = load_workbook(io.BytesIO(partner.get(f"/api/clients/export?sort={sort}&format=xlsx").data)).active
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == listed


def test_export_is_for_roles_with_clients_export_and_checks_its_format(people):
    new_client(people["partner"])
    for role in ("service_desk", "viewer"):
        assert people[role].get("/api/clients/export").status_code == 403
    assert people["manager"].get("/api/clients/export?format=pdf").status_code == 422
    assert "format" in people["manager"].get("/api/clients/export?format=pdf").json["errors"]


def test_custom_fields_get_a_column_each_when_the_firm_declares_them(people):
    schema = {"type": "object", "properties": {"vat_number": {"type": "string"}, "staff": {"type": "integer"}}}
    assert people["admin"].put("/api/settings/client-custom-fields", json={"schema": schema}).status_code == 200
    new_client(people["partner"], custom_fields={"vat_number": "GB123", "staff": 40})
    sheet = load_workbook(io.BytesIO(people["partner"].get("/api/clients/export?format=xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    record = dict(zip(rows[0], rows[1]))
    assert record["custom_fields.vat_number"] == "GB123" and record["custom_fields.staff"] == 40


# Import -------------------------------------------------------------------------------

MAPPING = {"Company": "name", "Phone": "phones", "E-mail": "emails", "Tier": "tier", "Account manager": "owner"}
HEADER = ["Company", "Phone", "E-mail", "Tier", "Account manager", "Ignored"]


def test_dry_run_reports_each_problem_by_row_and_column_and_writes_nothing(people):
    partner = people["partner"]
    existing = new_client(partner)
    before = client_count(partner)
    content = csv_file(
        [
            HEADER,
            ["Meridian Legal LLP", "+1 212 555 0100", "law@meridian.example", "a", "account_manager", "x"],
            ["Bad Mail Co", "", "law@meridian.example; not-an-email", "B", "", ""],
            ["Wrong Tier Co", "", "", "Z", "", ""],
            ["Nobody's Co", "", "", "", "nobody", ""],
            ["", "+1 999 555 0000", "", "", "", ""],
            ["HL Group", "020 7946 0000", "", "", "", ""],
            ["Meridian Legal", "", "", "", "", ""],
            ["", "", "", "", "", ""],
        ]
    )
    response = upload(partner, content, mapping=MAPPING, dry_run=True)
    assert response.status_code == 200, response.json
    report = response.json
    assert report["dry_run"] is True and report["rows"] == 7 and report["valid_rows"] == 1
    assert report["created"] == 0 and report["client_ids"] == [] and report["warnings"] == []
    problems = [(p["row"], p["column"], p["field"]) for p in report["problems"]]
    assert problems == [
        (3, "E-mail", "emails.1"),
        (4, "Tier", "tier"),
        (5, "Account manager", "owner"),
        (6, "Company", "name"),
        (7, "Phone", "phones"),
        (8, "Company", "name"),
    ]
    messages = {p["row"]: p for p in report["problems"]}
    assert "email" in messages[3]["message"].lower()
    assert messages[7]["message"] == f"same phone as existing client {existing['id']} (Harbour Logistics Ltd)"
    assert messages[7]["duplicate_of"] == {
        "client_id": existing["id"],
        "name": "Harbour Logistics Ltd",
        "matched_on": ["phone"],
    }
    assert messages[8]["message"] == "same name as row 2 of this file" and messages[8]["duplicate_of"] == {"row": 2}
    assert client_count(partner) == before


def test_an_import_with_one_bad_row_is_refused_whole_and_changes_nothing(people):
    partner = people["partner"]
    new_client(partner)
    before = client_count(partner)
    content = csv_file([HEADER, ["Good One Ltd", "", "", "A", "", ""], ["Bad Tier Ltd", "", "", "Q", "", ""]])
    response = upload(partner, content, mapping=MAPPING)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["errors"] == [
        {"row": 3, "column": "Tier", "field": "tier", "message": "Must be one of: A, B, C."}
    ]
    assert "nothing was imported" in response.json["detail"]
    assert client_count(partner) == before
    failed = people["admin"].get("/api/audit", query_string={"action": "POST /api/clients/import"}).json["items"]
    assert [(row["actor"], row["outcome"]) for row in failed] == [("partner", "failed")]


def test_a_good_xlsx_file_imports_every_row_in_one_go(app, people):
    schema = {
        "type": "object",
        "properties": {"vat_number": {"type": "string"}, "staff": {"type": "integer"}},
        "additionalProperties": False,
    }
    assert people["admin"].put("/api/settings/client-custom-fields", json={"schema": schema}).status_code == 200
    manager = people["manager"]
    content = xlsx_file(
        [
            ["客户名称", "电话", "Email", "Tags", "Street", "City", "VAT", "Staff", "Owner", "Status"],
            [
                "上海明德咨询有限公司",
                "021 6888 0000; 13812345678",
                "info@mingde.example",
                "vip; 咨询",
                "南京西路 100 号",
                "上海",
                "CN9100",
                12,
                "account_manager",
                "Active",
            ],
            ["Northwind Architects", 442079460001, None, None, "2 Dock Rd", "London", None, None, None, None],
            [None, None, None, None, None, None, None, None, None, None],
            ["Solo Practitioner", None, "solo@example.com", None, None, None, None, 1, None, "dormant"],
        ]
    )
    mapping = {
        "客户名称": "name",
        "电话": "phones",
        "Email": "emails",
        "Tags": "tags",
        "Street": "address.street",
        "City": "address.city",
        "VAT": "custom_fields.vat_number",
        "Staff": "custom_fields.staff",
        "Owner": "owner",
        "Status": "status",
    }
    dry = upload(manager, content, filename="clients.xlsx", mapping=mapping, dry_run=True)
    assert dry.status_code == 200 and dry.json["problems"] == [] and dry.json["valid_rows"] == 3
    assert client_count(manager) == 0
    response = upload(manager, content, filename="clients.xlsx", mapping=mapping)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 3 and len(response.json["client_ids"]) == 3
    first, second, third = (manager.get(f"/api/clients/{i}").json for i in response.json["client_ids"])
    assert first["name"] == "上海明德咨询有限公司" and first["phones"] == ["021 6888 0000", "13812345678"]
    assert first["tags"] == ["vip", "咨询"] and first["addresses"] == [{"street": "南京西路 100 号", "city": "上海"}]
    assert first["custom_fields"] == {"vat_number": "CN9100", "staff": 12}
    assert first["owner"] == "account_manager" and first["status"] == "active" and first["created_by"] == "manager"
    assert second["phones"] == ["442079460001"] and second["emails"] == [] and second["status"] == "prospect"
    assert third["custom_fields"] == {"staff": 1} and third["status"] == "dormant"
    with app.extensions["atrium.engine"].transaction() as session:  # each client's status history begins
        history = session.execute(
            select(
                ClientStatusChange.client_id,
                ClientStatusChange.from_status,
                ClientStatusChange.to_status,
                ClientStatusChange.changed_by,
            ).order_by(ClientStatusChange.client_id)
        ).all()
    assert [tuple(h) for h in history] == [
        (first["id"], None, "active", "manager"),
        (second["id"], None, "prospect", "manager"),
        (third["id"], None, "dormant", "manager"),
    ]
    audit = people["admin"].get("/api/audit?action=client.import").json["items"]
    assert len(audit) == 1 and audit[0]["actor"] == "manager"
    assert audit[0]["detail"]["client_ids"] == response.json["client_ids"] and audit[0]["detail"]["rows"] == 3
    # The account manager (owner of the first) finds it; the import went through the same search index.
    assert [c["name"] for c in people["account_manager"].get("/api/clients?q=明德").json["items"]] == [
        "上海明德咨询有限公司"
    ]


def test_confirmed_duplicates_are_imported_and_listed_as_warnings(people):
    partner = people["partner"]
    existing = new_client(partner)
    content = csv_file([["Name", "Phones"], ["HL Group", "020 7946 0000"]], delimiter=";")
    refused = upload(partner, content, mapping={"Name": "name", "Phones": "phones"})
    assert refused.status_code == 422 and refused.json["errors"][0]["duplicate_of"]["client_id"] == existing["id"]
    confirmed = upload(partner, content, mapping={"Name": "name", "Phones": "phones"}, confirm_duplicates=True)
    assert confirmed.status_code == 200 and confirmed.json["created"] == 1
    assert [w["row"] for w in confirmed.json["warnings"]] == [2] and confirmed.json["problems"] == []
    assert client_count(partner) == 2


def test_custom_fields_in_an_import_follow_the_firms_schema(people):
    schema = {
        "type": "object",
        "properties": {"staff": {"type": "integer", "minimum": 1}},
        "additionalProperties": False,
    }
    people["admin"].put("/api/settings/client-custom-fields", json={"schema": schema})
    content = csv_file(
        [["Name", "Staff", "Extra"], ["Tiny Ltd", "0", '{"colour": "red"}'], ["Odd Ltd", "many", "not json"]]
    )
    report = upload(
        people["partner"],
        content,
        mapping={"Name": "name", "Staff": "custom_fields.staff", "Extra": "custom_fields"},
        dry_run=True,
    ).json
    assert sorted((p["row"], p["column"], p["field"]) for p in report["problems"]) == [
        (2, "Extra", "custom_fields"),
        (2, "Staff", "custom_fields.staff"),
        (3, "Extra", "custom_fields"),
    ]


def test_a_file_that_is_not_a_usable_spreadsheet_is_refused_naming_file_or_mapping(people):
    partner = people["partner"]
    new_client(partner)

    def refused(response, name):
        assert response.status_code == 422, response.json
        assert name in response.json["errors"], response.json
        return response.json["errors"][name][0]

    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    assert "PNG" in refused(upload(partner, png, filename="logo.csv", mapping=MAPPING), "file")
    assert "binary" in refused(upload(partner, b"a,b\x00,c\n1,2,3", mapping=MAPPING), "file")
    assert "empty" in refused(upload(partner, b"", mapping=MAPPING), "file")
    assert "XLSX" in refused(upload(partner, b"PK\x03\x04garbage", filename="x.xlsx", mapping=MAPPING), "file")
    assert "no data rows" in refused(upload(partner, csv_file([HEADER]), mapping=MAPPING), "file")
    too_many = csv_file([HEADER] + [[f"Client {i}", "", "", "", "", ""] for i in range(21)])
    assert "at most 20" in refused(upload(partner, too_many, mapping=MAPPING), "file")
    too_big = csv_file([HEADER] + [["x" * 4000, "", "", "", "", ""]] * 20)
    assert "bytes" in refused(upload(partner, too_big, mapping=MAPPING), "file")
    good = csv_file([HEADER, ["Fine Ltd", "", "", "", "", ""]])
    assert refused(upload(partner, good, mapping="{not json"), "mapping")
    assert "no column 'Firm'" in refused(upload(partner, good, mapping={"Firm": "name"}), "mapping.Firm")
    assert "not a client field" in refused(upload(partner, good, mapping={"Company": "colour"}), "mapping.Company")
    assert "name" in refused(upload(partner, good, mapping={"Phone": "phones"}), "mapping")
    missing = partner.post(
        "/api/clients/import", data={"mapping": json.dumps(MAPPING)}, content_type="multipart/form-data"
    )
    assert missing.status_code == 422 and "file" in missing.json["errors"]
    assert client_count(partner) == 1


def test_an_export_imports_back_unchanged(people):
    partner = people["partner"]
    originals = [
        new_client(partner, owner="account_manager"),
        new_client(
            partner,
            name="李四 & Co",
            phones=["-123 4567 890"],
            emails=[],
            tags=["=odd", "b"],
            notes="line one\nline two, with comma",
            tier="B",
            addresses=[],
        ),
    ]
    exported = partner.get("/api/clients/export?format=csv").data
    for client in originals:
        assert partner.delete(f"/api/clients/{client['id']}").status_code == 204
    response = upload(partner, exported)  # no mapping: the columns are named after the fields
    assert response.status_code == 200, response.json
    again = {c["name"]: c for c in partner.get("/api/clients").json["items"]}
    for original in originals:
        copy = again[original["name"]]
        for name in ("kind", "tier", "status", "industry", "owner", "tags", "phones", "emails", "notes"):
            assert copy[name] == original[name], name
    assert again["Harbour Logistics Ltd"]["addresses"] == [{"street": "1 Quay St, Bristol"}]


def test_import_is_for_roles_with_clients_import(people):
    content = csv_file([HEADER, ["Fine Ltd", "", "", "", "", ""]])
    for role in ("account_manager", "service_desk", "viewer"):
        assert upload(people[role], content, mapping=MAPPING).status_code == 403
    assert client_count(people["admin"]) == 0


# Merge --------------------------------------------------------------------------------


def test_merging_a_duplicate_moves_every_record_and_process_and_writes_an_audit_row(people, clock):
    partner, desk = people["partner"], people["service_desk"]
    kept = new_client(partner, owner="account_manager", notes="Key account.")
    dup = new_client(
        partner,
        name="HL Group",
        phones=["020 7946 0000", "+44 117 496 0000"],
        emails=["INFO@harbour.example", "ops@harbour.example"],
        tags=["Shipping", "ports"],
        addresses=[{"street": "1 Quay St", "city": "Bristol"}, {"street": "9 Dock Rd", "city": "Hull"}],
        custom_fields={"vat_number": "GB999"},
        notes="Came in via the port office.",
        owner=None,
        confirm_duplicate=True,
    )
    base = f"/api/clients/{dup['id']}"
    records = {
        "contacts": partner.post(f"{base}/contacts", json={"name": "Li Wei"}),
        "engagements": partner.post(f"{base}/engagements", json={"service_type": "audit"}),
        "follow_ups": partner.post(f"{base}/follow-ups", json={"channel": "visit"}),
        "service_requests": desk.post(f"{base}/service-requests", json={"title": "VAT question"}),
        "complaints": desk.post(f"{base}/complaints", json={"description": "Invoice sent twice"}),
        "feedback": desk.post(f"{base}/feedback", json={"csat": 4}),
    }
    assert all(r.status_code == 201 for r in records.values()), {k: r.json for k, r in records.items()}
    assert deploy_via_api(people["admin"], "two_tasks.bpmn", "intake-schema.json").status_code == 201
    started = partner.post(
        "/api/process-instances", json={"process_key": "two_tasks", "business_key": f"client:{dup['id']}"}
    )
    assert started.status_code == 201, started.json
    clock.advance(minutes=5)

    merged = partner.post(f"/api/clients/{kept['id']}/merge", json={"from_client_id": dup["id"]})
    assert merged.status_code == 200, merged.json
    body = merged.json
    for kind, made in records.items():
        assert body["moved"][kind] == [made.json["id"]], kind
    assert body["moved"]["process_instances"] == [started.json["id"]]
    client = body["client"]
    assert client["phones"] == ["+44 20 7946 0000", "+44 117 496 0000"]  # 020 7946 0000 is the same line
    assert client["emails"] == ["info@harbour.example", "ops@harbour.example"]
    assert client["tags"] == ["shipping", "ports"]
    assert client["addresses"] == [{"street": "1 Quay St", "city": "Bristol"}, {"street": "9 Dock Rd", "city": "Hull"}]
    assert client["custom_fields"] == {"vat_number": "GB999"} and client["owner"] == "account_manager"
    assert client["notes"].startswith("Key account.") and "Came in via the port office." in client["notes"]

    for path, kind in (
        ("contacts", "contacts"),
        ("engagements", "engagements"),
        ("follow-ups", "follow_ups"),
        ("service-requests", "service_requests"),
        ("complaints", "complaints"),
        ("feedback", "feedback"),
    ):
        listed = partner.get(f"/api/clients/{kept['id']}/{path}").json["items"]
        assert [r["id"] for r in listed] == [records[kind].json["id"]], path
    instances = partner.get(f"/api/process-instances?business_key=client:{kept['id']}").json["items"]
    assert [i["id"] for i in instances] == [started.json["id"]]
    assert "process_instance" in {e["kind"] for e in partner.get(f"/api/clients/{kept['id']}/timeline").json["items"]}
    # The account manager owning the survivor sees the moved work; the duplicate is gone but restorable.
    assert people["account_manager"].get(f"/api/clients/{kept['id']}/engagements").json["total"] == 1
    assert partner.get(base).status_code == 404
    deleted = people["admin"].get("/api/clients?deleted=true").json["items"]
    assert [(c["id"], c["deleted_at"] is not None) for c in deleted] == [(dup["id"], True)]
    assert f"Merged into client {kept['id']} (Harbour Logistics Ltd) by partner" in deleted[0]["notes"]
    # A new client with the duplicate's other phone now matches the survivor.
    again = partner.post("/api/clients", json={"name": "Someone", "phones": ["0117 496 0000"]})
    assert again.status_code == 409 and [c["id"] for c in again.json["candidates"]] == [kept["id"]]

    audit = people["admin"].get(f"/api/audit?action=client.merge&target=client:{kept['id']}").json["items"]
    assert len(audit) == 1 and audit[0]["actor"] == "partner"
    detail = audit[0]["detail"]
    assert detail["from_client_id"] == dup["id"]
    assert detail["moved"]["engagements"] == [records["engagements"].json["id"]]
    assert detail["moved"]["process_instances"] == [started.json["id"]]
    # What the survivor gained: tags by value, contact data only as "changed" (the trail holds none).
    assert detail["added"]["phones"] == "changed" and detail["added"]["tags"] == ["ports"]
    assert "117 496" not in json.dumps(detail) and "ops@harbour" not in json.dumps(detail)
    away = people["admin"].get(f"/api/audit?target=client:{dup['id']}&action=client.merged_into").json["items"]
    assert away[0]["detail"] == {"into_client_id": kept["id"]}


def test_merge_refuses_itself_unknown_or_already_merged_clients_and_the_wrong_roles(people):
    partner = people["partner"]
    kept = new_client(partner, owner="account_manager")
    dup = new_client(partner, name="HL Group", phones=[], emails=[], owner="account_manager")
    url = f"/api/clients/{kept['id']}/merge"
    itself = partner.post(url, json={"from_client_id": kept["id"]})
    assert itself.status_code == 422 and "from_client_id" in itself.json["errors"]
    assert partner.post(url, json={"from_client_id": dup["id"] + 100}).status_code == 404
    assert partner.post(url, json={}).status_code == 422
    for role in ("account_manager", "service_desk", "viewer"):
        assert people[role].post(url, json={"from_client_id": dup["id"]}).status_code == 403
    assert partner.get(f"/api/clients/{dup['id']}").status_code == 200  # untouched by the refusals
    assert people["manager"].post(url, json={"from_client_id": dup["id"]}).status_code == 200
    twice = people["manager"].post(url, json={"from_client_id": dup["id"]})
    assert twice.status_code == 409 and "deleted" in twice.json["detail"]
    back = people["manager"].post(f"/api/clients/{dup['id']}/merge", json={"from_client_id": kept["id"]})
    assert back.status_code == 409


def test_two_merges_of_the_same_duplicate_at_once_one_wins(pg, services, clock):
    from storage.client_records import Engagement
    from storage.clients import Client, refresh_derived

    engines = [make_process_engine(pg, services) for _ in range(2)]
    for _ in range(3):
        with engines[0].transaction() as session:
            made = []
            for name in ("Kept One", "Kept Two", "Dup"):
                client = Client(
                    name=name,
                    kind="organisation",
                    tier="C",
                    status="active",
                    tags=[],
                    phones=[],
                    emails=[],
                    addresses=[],
                    custom_fields={},
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
                refresh_derived(session, client)
                made.append(client.id)
            session.add(
                Engagement(
                    client_id=made[2],
                    service_type="audit",
                    status="active",
                    fee_basis="fixed",
                    adverse_parties=[],
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
        one, two, dup = made

        def merge(engine, targets=iter([one, two])):
            into = next(targets)
            with engine.transaction() as session:
                return merge_clients(session, engine, into_id=into, from_id=dup, owners=None, actor="partner").client.id

        outcomes = _race(engines, merge)
        assert sorted(o for o in outcomes if isinstance(o, int)) in ([one], [two]), outcomes
        assert sum(isinstance(o, Conflict) for o in outcomes) == 1, outcomes
        winner = next(o for o in outcomes if isinstance(o, int))
        with engines[0].transaction() as session:
            from sqlalchemy import select

            assert session.scalars(
                select(Engagement.client_id).where(Engagement.service_type == "audit", Engagement.client_id.in_(made))
            ).all() == [winner]
            assert session.get(Client, dup).deleted_at is not None
