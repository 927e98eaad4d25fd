"""Reports rendered from hand-built tables: the PDF's text, pages and fonts, the HTML's charts, escaping and
numbers, the XLSX's sheets and typed cells, the JSON, and templates that fail."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from reports import charts, render
from reports.render import RenderError
from reports.tables import Chart, Column, Filters, Table

OCTOBER = Filters(date(2026, 10, 1), date(2026, 11, 1), labels={"Team": "税务组", "Owner": "alice"})
GENERATED = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
TITLE = "Monthly client report 月度客户报告"


def _tables() -> list[Table]:
    clients = Table(
        "clients_by_owner", "客户 by owner",
        (Column("client", "客户名称"), Column("tasks", "Tasks", "int"), Column("csat", "CSAT", "float"),
         Column("sla", "Within SLA", "percent"), Column("median", "Median hours", "hours")),
        [("张三贸易有限公司", 1234, 4.26, 0.875, 12.04), ("Acme Ltd", 7, 3, 0.5, None),
         ("<script>alert(1)</script>", 0, 1, 1, 0.5)],
        Chart("bar", "client", ("tasks",)), note="Tasks opened in the period")
    trend = Table("satisfaction_trend", "Satisfaction trend",
                  (Column("month", "Month", "month"), Column("csat", "CSAT", "float"), Column("nps", "NPS", "float")),
                  [("2026-09", 4.1, 20), ("2026-10", 4.4, 25)], Chart("line", "month", ("csat", "nps")))
    long = Table("long", "A long table", (Column("n", "N", "int"), Column("rate", "Rate", "percent")),
                 [(n, 0.875) for n in range(80)])
    empty = Table("empty", "Nothing here", (Column("x", "X"), Column("n", "N", "int")), [], Chart("pie", "x", ("n",)))
    return [clients, trend, long, empty]


@pytest.fixture(scope="module")
def cjk_font():
    """Chinese needs a CJK font on the machine; CI must have one, a laptop without is told how to get it."""
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout \
        if shutil.which("fc-list") else ""
    if not listed.strip():
        message = "no CJK font is installed (fc-list :lang=zh is empty): run `make fonts`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def pdf_reader(cjk_font) -> PdfReader:
    document = render.pdf(TITLE, OCTOBER, _tables(), generated_at=GENERATED, firm="Acme Partners")
    return PdfReader(io.BytesIO(document))


def test_the_pdf_carries_chinese_and_english_text_the_period_filters_and_page_numbers(pdf_reader):
    text = "\n".join(page.extract_text() for page in pdf_reader.pages)
    for expected in ("Monthly client report", "月度客户报告", "Acme Partners", "2026-10-01 – 2026-10-31",
                     "Team", "税务组", "Owner", "alice", "2026-11-02 09:00 UTC", "张三贸易有限公司", "Acme Ltd",
                     "客户名称", "1,234", "87.5 %", "Tasks opened in the period", "No data for this period",
                     "Page 2 of"):
        assert expected in text, expected
    assert len(pdf_reader.pages) > 2
    assert "Page 1 of" not in text  # the cover carries no page number
    # The 80-row table runs onto another page and its header comes with it.
    assert sum("Rate" in page.extract_text() for page in pdf_reader.pages) >= 2


def test_the_pdf_embeds_a_cjk_font(pdf_reader):
    fonts = {str(font.get_object().get("/BaseFont")) for page in pdf_reader.pages
             for font in (page["/Resources"].get("/Font") or {}).values()}
    assert any(re.search(r"WenQuanYi|CJK|SourceHan", font) for font in fonts), \
        f"no CJK font embedded ({sorted(fonts)}): run `make fonts`"


def test_the_html_inlines_a_chart_per_charted_table_escapes_cells_and_formats_numbers(cjk_font):
    html = render.html(TITLE, OCTOBER, _tables(), generated_at=GENERATED)
    # Two charted tables with rows; the empty one shows a sentence, not a chart.
    assert html.count("<svg") == 2 and "<?xml" not in html
    assert "No data for this period" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for cell in (">1,234<", ">87.5 %<", ">4.3<", ">12.0<", ">—<", ">2026-09<"):
        assert cell in html, cell
    # The chart's Chinese labels are drawn from a CJK font (glyph ids name the font).
    chart = charts.svg(_tables()[0])
    assert re.search(r'id="clients_by_owner-(WenQuanYi|NotoSansCJK|SourceHanSans)', chart), "Chinese drawn as boxes"


def test_every_chart_kind_draws_and_a_chart_of_unknown_columns_is_a_render_error():
    table = _tables()[0]
    for kind in charts.KINDS:
        chart = Chart(kind, "client", ("tasks", "csat"))
        drawn = charts.svg(Table(table.name, table.title, table.columns, table.rows, chart))
        assert drawn.startswith("<svg") and drawn.endswith("</svg>\n"), kind
    broken = Table("broken", "Broken", table.columns, table.rows, Chart("bar", "client", ("nope",)))
    with pytest.raises(RenderError, match="'broken'.*nope"):
        render.html(TITLE, OCTOBER, [broken], generated_at=GENERATED)


def test_the_xlsx_has_an_about_sheet_and_a_typed_sheet_per_table():
    twins = [Table("complaints_acknowledged_within_the_sla_" + suffix, "Twin", (Column("n", "N", "int"),), [(1,)])
             for suffix in ("a", "b")]
    book = load_workbook(io.BytesIO(render.xlsx(TITLE, OCTOBER, _tables() + twins)))
    assert book.sheetnames == ["About", "clients_by_owner", "satisfaction_trend", "long", "empty",
                               "complaints_acknowledged_within_", "complaints_acknowledged_withi_2"]
    about = [tuple(row) for row in book["About"].iter_rows(values_only=True)]
    assert about == [("Report", TITLE), ("Period", "2026-10-01 – 2026-10-31"), ("Team", "税务组"), ("Owner", "alice")]
    clients = book["clients_by_owner"]
    assert [c.value for c in clients[1]] == ["客户名称", "Tasks", "CSAT", "Within SLA", "Median hours"]
    assert [c.value for c in clients[2]] == ["张三贸易有限公司", 1234, 4.26, 0.875, 12.04]
    assert clients["D2"].number_format == "0.0%" and clients["B2"].number_format == "#,##0"
    assert clients["E3"].value is None
    assert [c.value for c in book["empty"][1]] == ["X", "N"] and book["empty"].max_row == 1


def test_the_json_round_trips_with_typed_values():
    values = Table("values", "Values", (Column("day", "Day", "date"), Column("amount", "Amount", "float")),
                   [(date(2026, 10, 3), Decimal("1.5"))])
    data = render.as_json(TITLE, OCTOBER, _tables() + [values])
    assert json.loads(json.dumps(data)) == data
    assert data["period"] == {"from": "2026-10-01", "to": "2026-10-31"}
    assert data["filters"] == {"Team": "税务组", "Owner": "alice"}
    clients = data["tables"][0]
    assert clients["columns"][0] == {"name": "client", "title": "客户名称", "kind": "text"}
    assert clients["rows"][0] == {"client": "张三贸易有限公司", "tasks": 1234, "csat": 4.26, "sla": 0.875, "median": 12.04}
    assert clients["note"] == "Tasks opened in the period"
    assert data["tables"][-1]["rows"] == [{"day": "2026-10-03", "amount": 1.5}]


def test_a_missing_or_failing_template_is_a_render_error(tmp_path: Path):
    with pytest.raises(RenderError, match="missing.html"):
        render.pdf(TITLE, OCTOBER, _tables(), generated_at=GENERATED, template="missing.html")
    unclosed = tmp_path / "unclosed.html"
    unclosed.write_text("{% for table in tables %}<h2>{{ table.title }}</h2>")
    with pytest.raises(RenderError, match="line 1"):
        render.html(TITLE, OCTOBER, _tables(), generated_at=GENERATED, template=unclosed)
    undefined = tmp_path / "undefined.html"
    undefined.write_text("<h1>{{ title }}</h1>{{ no_such_value }}")
    with pytest.raises(RenderError, match="no_such_value"):
        render.html(TITLE, OCTOBER, _tables(), generated_at=GENERATED, template=undefined)


def test_a_template_file_may_extend_the_report_template(tmp_path: Path):
    branded = tmp_path / "branded.html"
    branded.write_text('{% extends "report.html" %}{% block style %}h2 { color: #7a1f1f; }{% endblock %}')
    html = render.html(TITLE, OCTOBER, _tables(), generated_at=GENERATED, template=branded)
    assert "h2 { color: #7a1f1f; }" in html and "客户 by owner" in html
