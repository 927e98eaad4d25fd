"""Reports in the reader's language: every report text from the catalogues in English and Chinese, a report
fetched in Chinese (JSON, HTML and its charts, PDF, XLSX), the account's chosen language over the browser's,
and a scheduled run written and mailed in its creator's language."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import date, datetime, timezone

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from atrium.i18n import catalogue
from reports import fonts
from reports.catalogue import REPORTS
from reports.scheduling import fire_due_schedules, run_pending_reports
from reports.statistics import STATISTICS
from reports.tables import Filters
from storage.notifications import Notification

from .api_helpers import caller
from .test_report_render import CJK, cjk_font  # noqa: F401 -- cjk_font is a fixture
from .test_reports import app, engine, seeded  # noqa: F401 -- fixtures

ZH = {"Accept-Language": "zh-CN"}
OCTOBER = "from=2026-10-01&to=2026-10-31"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_every_report_text_is_in_both_catalogues_with_the_same_placeholders():
    english, chinese = catalogue("en"), catalogue("zh-CN")
    keys = [key for key in english if key.startswith(("report.", "client.status."))]
    assert len(keys) > 100
    for key in keys:
        assert key in chinese, key
        assert set(PLACEHOLDER.findall(english[key])) == set(PLACEHOLDER.findall(chinese[key])), key
    for report in REPORTS.values():
        assert {report.title, report.description} <= set(keys), report.name


def test_every_statistic_writes_its_title_headings_and_note_in_chinese(seeded):
    october = Filters(date(2026, 10, 1), date(2026, 11, 1), locale="zh-CN")
    with seeded.transaction() as session:
        for name, statistic in STATISTICS.items():
            table = statistic(session, october)
            assert CJK.search(table.title), name
            assert CJK.search(table.note or ""), name
            for column in table.columns:
                assert CJK.search(column.title) or column.title == "NPS", (name, column.title)


def test_a_report_fetched_in_chinese_has_chinese_titles_headings_and_labels(app, seeded):
    partner = caller(app.test_client(), "partner")
    english = partner.get(f"/api/reports/monthly_client?{OCTOBER}").json
    chinese = partner.get(f"/api/reports/monthly_client?{OCTOBER}", headers=ZH).json
    assert (english["title"], english["locale"]) == ("Monthly client report", "en")
    assert (chinese["title"], chinese["locale"]) == ("客户月度报告", "zh-CN")
    tiers = {t["name"]: t for t in english["tables"]}["clients_by_tier"]
    assert tiers["title"] == "Clients by tier" and [c["title"] for c in tiers["columns"]] == ["Tier", "Clients"]
    by_name = {t["name"]: t for t in chinese["tables"]}
    assert by_name["clients_by_tier"]["title"] == "按级别统计的客户"
    assert [c["title"] for c in by_name["clients_by_tier"]["columns"]] == ["级别", "客户数"]
    # The machine names and figures stay; a status shown as a label is written in the reader's language.
    assert by_name["clients_by_tier"]["rows"] == [{"key": "A", "clients": 2}, {"key": "B", "clients": 1}]
    statuses = {row["key"] for row in by_name["clients_by_status"]["rows"]}
    assert statuses == {"活跃", "休眠", "已终止"}
    assert {row["key"] for row in {t["name"]: t for t in english["tables"]}["clients_by_status"]["rows"]} == {
        "active",
        "dormant",
        "former",
    }
    catalogue_zh = partner.get("/api/reports", headers=ZH).json
    assert {r["name"]: r["title"] for r in catalogue_zh}["complaints"] == "投诉"
    assert all(CJK.search(r["description"]) for r in catalogue_zh)


def _cjk_glyphs(svg: str, table: str) -> int:
    """How many glyphs of the CJK font a chart draws (the SVG names each glyph after its font's PostScript name)."""
    postscript = {
        line.split("=", 1)[1]
        for line in subprocess.run(
            ["fc-list", f":family={fonts.CJK_FONT}", "postscriptname"], capture_output=True, text=True
        ).stdout.split()
    }
    glyphs = re.findall(rf'<path id="{table}-([^"]+)"', svg)
    return sum(glyph.rsplit("-", 1)[0] in postscript for glyph in glyphs)


def _chart(html: str, table: str) -> str:
    section = html[html.index(f'<section id="{table}">') :]
    return section[section.index("<svg") : section.index("</svg>")]


def test_the_html_of_a_chinese_report_has_its_cover_headings_and_chart_labels_in_chinese(app, seeded, cjk_font):
    partner = caller(app.test_client(), "partner")
    html = partner.get(f"/api/reports/monthly_client?{OCTOBER}&format=html", headers=ZH).text
    assert '<html lang="zh-CN">' in html
    for expected in ("客户月度报告", "2026年10月1日 – 2026年10月31日", "生成时间", "按级别统计的客户", "<th>级别</th>"):
        assert expected in html, expected
    assert '"第 " counter(page) " 页，共 " counter(pages) " 页"' in html
    # The status chart's legend (活跃, 休眠, 已终止) is drawn in the CJK font; in English it needs none.
    assert _cjk_glyphs(_chart(html, "clients_by_status"), "clients_by_status") >= 6
    english = partner.get(f"/api/reports/monthly_client?{OCTOBER}&format=html").text
    assert '<html lang="en">' in english and "Clients by tier" in english and "Generated" in english
    assert _cjk_glyphs(_chart(english, "clients_by_status"), "clients_by_status") == 0


def test_the_pdf_of_a_chinese_report_is_written_and_drawn_in_chinese(app, seeded, cjk_font):
    partner = caller(app.test_client(), "partner")
    response = partner.get(f"/api/reports/satisfaction?{OCTOBER}&format=pdf", headers=ZH)
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.data))
    runs: list[tuple[str, str]] = []
    for page in reader.pages:
        page.extract_text(
            visitor_text=lambda text, cm, tm, font, size: runs.append(
                (str(font.get("/BaseFont")) if font else "", text)
            )
        )
    cjk_font_name = re.compile(r"/[A-Z]{6}\+" + re.escape(fonts.CJK_FONT.replace(" ", "-")) + r"(-Bold)?")
    chinese = "".join(text for font, text in runs if cjk_font_name.fullmatch(font))
    for expected in ("客户满意度", "生成时间", "评分分布", "净推荐值", "推荐者", "每月满意度", "平均满意度", "页"):
        assert expected in chinese, expected
    assert not {font for font, text in runs if CJK.search(text) and not cjk_font_name.fullmatch(font)}
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Page 2 of" not in text and "Generated" not in text


def test_the_xlsx_of_a_chinese_report_names_its_sheets_and_headings_in_chinese(app, seeded):
    partner = caller(app.test_client(), "partner")
    response = partner.get(f"/api/reports/complaints?{OCTOBER}&format=xlsx", headers=ZH)
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["说明", "按严重程度统计的投诉", "每月投诉", "SLA达标情况"]
    about = [[cell.value for cell in row] for row in book["说明"].iter_rows()]
    assert about == [["报告", "投诉"], ["期间", "2026年10月1日 – 2026年10月31日"]]
    severity = book["按严重程度统计的投诉"]
    assert [c.value for c in severity[1]] == [
        "严重程度",
        "收到",
        "已解决",
        "解决用时中位数（小时）",
        "第90百分位（小时）",
    ]
    assert severity["A2"].value == "高"
    english = load_workbook(io.BytesIO(partner.get(f"/api/reports/complaints?{OCTOBER}&format=xlsx").data))
    assert english.sheetnames == ["About", "complaints_by_severity", "complaints_trend", "sla_compliance"]
    assert english["complaints_by_severity"]["A2"].value == "high"


def test_the_language_an_account_chose_wins_over_the_browsers(app, seeded):
    http = app.test_client()
    partner = caller(http, "partner")
    assert partner.patch("/api/me", json={"locale": "zh-CN"}).status_code == 200
    assert partner.get(f"/api/reports/complaints?{OCTOBER}").json["title"] == "投诉"
    assert partner.patch("/api/me", json={"locale": "en"}).status_code == 200
    assert partner.get(f"/api/reports/complaints?{OCTOBER}", headers=ZH).json["title"] == "Complaints"


@pytest.mark.parametrize(
    "locale, title, subject",
    [
        ("zh-CN", "投诉", "投诉，2026年11月1日 – 2026年11月30日"),
        ("en", "Complaints", "Complaints, 2026-11-01 – 2026-11-30"),
    ],
)
def test_a_scheduled_run_is_written_and_mailed_in_its_creators_language(app, seeded, clock, locale, title, subject):
    manager = caller(app.test_client(), "manager")
    assert manager.patch("/api/me", json={"locale": locale}).status_code == 200
    created = manager.post(
        "/api/report-schedules",
        json={"report": "complaints", "cron": "0 7 1 * *", "recipients": ["partner", "cfo@firm.example"]},
    )
    assert created.status_code == 201, created.json
    clock.set(datetime(2026, 12, 1, 7, 0, 30, tzinfo=timezone.utc))
    assert fire_due_schedules(seeded) == 1 and run_pending_reports(seeded) == 1
    with seeded.transaction() as session:
        mails = session.query(Notification).filter(Notification.report_run_id.is_not(None)).all()
        assert {m.subject for m in mails} == {subject}
        run_id = mails[0].report_run_id
    manager = caller(app.test_client(), "manager")  # a new token: the clock moved past the first one's expiry
    pdf = manager.get(f"/api/report-runs/{run_id}/pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert title in text
    assert ("按严重程度统计的投诉" in text) == (locale == "zh-CN")
    assert ("Complaints by severity" in text) == (locale == "en")


def test_the_cli_writes_a_report_in_the_language_asked_for(seeded, tmp_path, monkeypatch, db):
    from atrium.cli import main

    monkeypatch.setenv("ATRIUM_DATABASE_URL", db.url.render_as_string(hide_password=False))
    out = tmp_path / "complaints.json"
    command = ["report", "run", "complaints", "--from", "2026-10-01", "--to", "2026-10-31", "--out", str(out)]
    assert main([*command, "--locale", "zh-CN"]) == 0
    written = json.loads(out.read_text())
    assert written["title"] == "投诉" and written["tables"][0]["title"] == "按严重程度统计的投诉"
    assert written["tables"][0]["rows"][0]["severity"] == "高"
