"""Reports rendered from hand-built tables: the PDF's text, pages and fonts, the HTML's charts, escaping and
numbers, the XLSX's sheets and typed cells, the JSON, and templates that fail."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import warnings
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from reports import charts, fonts, render
from reports.render import RenderError
from reports.tables import Chart, Column, Filters, Table

OCTOBER = Filters(date(2026, 10, 1), date(2026, 11, 1), labels={"Team": "税务组", "Owner": "alice"})
GENERATED = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
TITLE = "Monthly client report 月度客户报告"


def _tables() -> list[Table]:
    clients = Table(
        "clients_by_owner",
        "客户 by owner",
        (
            Column("client", "客户名称"),
            Column("tasks", "Tasks", "int"),
            Column("csat", "CSAT", "float"),
            Column("sla", "Within SLA", "percent"),
            Column("median", "Median hours", "hours"),
        ),
        [
            ("张三贸易有限公司", 1234, 4.26, 0.875, 12.04),
            ("Acme Ltd", 7, 3, 0.5, None),
            ("<script>alert(1)</script>", 0, 1, 1, 0.5),
        ],
        Chart("bar", "client", ("tasks",)),
        note="Tasks opened in the period",
    )
    trend = Table(
        "satisfaction_trend",
        "Satisfaction trend",
        (Column("month", "Month", "month"), Column("csat", "CSAT", "float"), Column("nps", "NPS", "float")),
        [("2026-09", 4.1, 20), ("2026-10", 4.4, 25)],
        Chart("line", "month", ("csat", "nps")),
    )
    long = Table(
        "long",
        "A long table",
        (Column("n", "N", "int"), Column("rate", "Rate", "percent")),
        [(n, 0.875) for n in range(80)],
    )
    empty = Table("empty", "Nothing here", (Column("x", "X"), Column("n", "N", "int")), [], Chart("pie", "x", ("n",)))
    return [clients, trend, long, empty]


CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")  # Han, CJK punctuation and full-width forms
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cjk_font():
    """The one CJK font reports name (reports/fonts.py) must be installed: another Chinese font on the machine
    does not count. CI must have it; a laptop without it is told how to get it."""
    listed = (
        subprocess.run(["fc-list", f":family={fonts.CJK_FONT}", "family"], capture_output=True, text=True).stdout
        if shutil.which("fc-list")
        else ""
    )
    if not listed.strip():
        message = f"the font {fonts.CJK_FONT!r} is not installed (fc-list lists no such family): run `make fonts`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def pdf_reader(cjk_font) -> PdfReader:
    document = render.pdf(TITLE, OCTOBER, _tables(), generated_at=GENERATED, firm="Acme Partners")
    return PdfReader(io.BytesIO(document))


def test_the_pdf_carries_chinese_and_english_text_the_period_filters_and_page_numbers(pdf_reader):
    text = "\n".join(page.extract_text() for page in pdf_reader.pages)
    for expected in (
        "Monthly client report",
        "月度客户报告",
        "Acme Partners",
        "2026-10-01 – 2026-10-31",
        "Team",
        "税务组",
        "Owner",
        "alice",
        "2026-11-02 09:00 UTC",
        "张三贸易有限公司",
        "Acme Ltd",
        "客户名称",
        "1,234",
        "87.5 %",
        "Tasks opened in the period",
        "No data for this period",
        "Page 2 of",
    ):
        assert expected in text, expected
    assert len(pdf_reader.pages) > 2
    assert "Page 1 of" not in text  # the cover carries no page number
    # The 80-row table runs onto another page and its header comes with it.
    assert sum("Rate" in page.extract_text() for page in pdf_reader.pages) >= 2


def test_the_pdf_draws_its_chinese_with_the_named_cjk_font(pdf_reader):
    # Each run of text with the font it is drawn in: every Chinese run is in the CJK font (WeasyPrint names an
    # embedded font after its family, "/ABCDEF+Noto-Sans-CJK-SC-Bold"), and none is left to a fallback font.
    runs: list[tuple[str, str]] = []
    for page in pdf_reader.pages:
        page.extract_text(
            visitor_text=lambda text, cm, tm, font, size: runs.append(
                (str(font.get("/BaseFont")) if font else "", text)
            )
        )
    cjk_font = re.compile(r"/[A-Z]{6}\+" + re.escape(fonts.CJK_FONT.replace(" ", "-")) + r"(-Bold)?")
    embedded = {font for font, _ in runs if font}
    assert any(cjk_font.fullmatch(font) for font in embedded), f"{fonts.CJK_FONT} is not embedded: {embedded}"
    in_other_fonts = {font: text for font, text in runs if CJK.search(text) and not cjk_font.fullmatch(font)}
    assert not in_other_fonts, f"Chinese drawn in another font than {fonts.CJK_FONT}: {in_other_fonts}"
    chinese = "".join(text for font, text in runs if cjk_font.fullmatch(font))
    for expected in ("月度客户报告", "税务组", "张三贸易有限公司", "客户名称"):
        assert expected in chinese, expected


def test_the_html_inlines_a_chart_per_charted_table_escapes_cells_and_formats_numbers(cjk_font):
    html = render.html(TITLE, OCTOBER, _tables(), generated_at=GENERATED)
    # Two charted tables with rows; the empty one shows a sentence, not a chart.
    assert html.count("<svg") == 2 and "<?xml" not in html
    assert "No data for this period" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for cell in (">1,234<", ">87.5 %<", ">4.3<", ">12.0<", ">—<", ">2026-09<"):
        assert cell in html, cell
    assert f'font-family: "{fonts.LATIN_FONT}", "{fonts.CJK_FONT}", sans-serif;' in html


def test_a_chart_draws_each_chinese_character_with_its_own_glyph_of_the_named_cjk_font(cjk_font):
    table = _tables()[0]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing from font")  # matplotlib's word for a box
        chart = charts.svg(table)
    # The SVG carries each glyph drawn as a path once (id: table, PostScript name of the font, glyph index) and
    # places it with <use>. A missing character is the font's one empty box (.notdef), whatever the character:
    # so there must be one distinct outline per distinct Chinese character, each from the CJK font.
    postscript = {
        line.split("=", 1)[1]
        for line in subprocess.run(
            ["fc-list", f":family={fonts.CJK_FONT}", "postscriptname"], capture_output=True, text=True
        ).stdout.split()
    }
    glyphs = dict(re.findall(r'<path id="clients_by_owner-([^"]+)" d="([^"]*)"', chart))
    cjk_outlines = {outline for glyph, outline in glyphs.items() if glyph.rsplit("-", 1)[0] in postscript}
    characters = set(CJK.findall("".join(str(row[0]) for row in table.rows)))
    assert len(characters) == 8 and len(cjk_outlines) == len(characters), (
        f"Chinese not drawn from {fonts.CJK_FONT} ({sorted(glyphs)}): run `make fonts`"
    )
    assert all(outline.strip() for outline in cjk_outlines)


def test_make_fonts_installs_and_checks_for_the_font_the_reports_name():
    """`make fonts` reads the font's family and Debian package from reports/fonts.py: its check is that family
    (not any Chinese font, which a machine may have from another package) and it installs that package."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "fonts"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for family, package in ((fonts.CJK_FONT, fonts.CJK_FONT_PACKAGE), (fonts.LATIN_FONT, fonts.LATIN_FONT_PACKAGE)):
        assert f"fc-list ':family={family}' family" in recipe, family
        assert f"install -y -qq --no-install-recommends {package}" in recipe, package
    assert ":lang=zh" not in recipe


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
    twins = [
        Table("complaints_acknowledged_within_the_sla_" + suffix, "Twin", (Column("n", "N", "int"),), [(1,)])
        for suffix in ("a", "b")
    ]
    book = load_workbook(io.BytesIO(render.xlsx(TITLE, OCTOBER, _tables() + twins)))
    assert book.sheetnames == [
        "About",
        "clients_by_owner",
        "satisfaction_trend",
        "long",
        "empty",
        "complaints_acknowledged_within_",
        "complaints_acknowledged_withi_2",
    ]
    about = [tuple(row) for row in book["About"].iter_rows(values_only=True)]
    assert about == [("Report", TITLE), ("Period", "2026-10-01 – 2026-10-31"), ("Team", "税务组"), ("Owner", "alice")]
    clients = book["clients_by_owner"]
    assert [c.value for c in clients[1]] == ["客户名称", "Tasks", "CSAT", "Within SLA", "Median hours"]
    assert [c.value for c in clients[2]] == ["张三贸易有限公司", 1234, 4.26, 0.875, 12.04]
    assert clients["D2"].number_format == "0.0%" and clients["B2"].number_format == "#,##0"
    assert clients["E3"].value is None
    assert [c.value for c in book["empty"][1]] == ["X", "N"] and book["empty"].max_row == 1


def test_the_json_round_trips_with_typed_values():
    values = Table(
        "values",
        "Values",
        (Column("day", "Day", "date"), Column("amount", "Amount", "float")),
        [(date(2026, 10, 3), Decimal("1.5"))],
    )
    data = render.as_json(TITLE, OCTOBER, _tables() + [values])
    assert json.loads(json.dumps(data)) == data
    assert data["period"] == {"from": "2026-10-01", "to": "2026-10-31"}
    assert data["filters"] == {"Team": "税务组", "Owner": "alice"}
    clients = data["tables"][0]
    assert clients["columns"][0] == {"name": "client", "title": "客户名称", "kind": "text"}
    assert clients["rows"][0] == {
        "client": "张三贸易有限公司",
        "tasks": 1234,
        "csat": 4.26,
        "sla": 0.875,
        "median": 12.04,
    }
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
