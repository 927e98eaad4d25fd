"""A report (title, filters, tables) as HTML, PDF (WeasyPrint), XLSX (openpyxl) or JSON, in the language of
its filters (`Filters.locale`): the cover, page numbers and workbook labels come from the catalogue, the
tables arrive already written in it (reports/statistics/)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import jinja2
from openpyxl import Workbook
from openpyxl.styles import Font

from atrium.i18n import format_date, translate

from . import charts, fonts
from .tables import Filters, Table


class RenderError(Exception):
    """A report could not be rendered (a template missing or failing, a chart that cannot be drawn);
    the message says why."""


_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
)
NUMERIC_KINDS = {"int", "float", "percent", "hours", "money"}
# How XLSX cells of each Column.kind are shown; the cells keep their numbers (a percent stays 0.875).
XLSX_FORMATS = {
    "int": "#,##0",
    "float": "#,##0.0",
    "hours": "#,##0.0",
    "percent": "0.0%",
    "date": "yyyy-mm-dd",
    "money": "#,##0.00",
}
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def cell(value, kind: str, locale: str = "en") -> str:
    """A value as the report's tables show it: 1,234 · 3.5 · 87.5 % · 1,234.50 · 2026-03 (a date: 2026年3月5日 in Chinese)."""
    if value is None:
        return "—"
    if kind == "int":
        return f"{value:,.0f}"
    if kind == "percent":
        return f"{float(value) * 100:.1f} %"
    if kind == "money":
        return f"{value:,.2f}"
    if kind in ("float", "hours"):
        return f"{float(value):,.1f}"
    if kind == "date" and locale != "en":
        return format_date(value, locale)
    return str(value)


_TEMPLATES.filters["cell"] = cell
_TEMPLATES.globals.update(latin_font=fonts.LATIN_FONT, cjk_font=fonts.CJK_FONT)  # the CSS's font-family
_TEMPLATES.tests["numeric"] = lambda column: column.kind in NUMERIC_KINDS


# The cover's filter labels (reports/making.py resolve_filters) and their catalogue keys.
FILTER_LABELS = {
    "Owner": "report.cover.owner",
    "Team": "report.cover.team",
    "Service type": "report.cover.service_type",
    "Process": "report.cover.process",
}


def period_label(filters: Filters) -> str:
    """'2026-10-01 – 2026-10-31' ('2026年10月1日 – 2026年10月31日' in Chinese): the last day shown is the one
    before the exclusive `date_to`."""
    first, last = filters.date_from, filters.date_to - timedelta(days=1)
    if filters.locale == "en":
        return f"{first.isoformat()} – {last.isoformat()}"
    return f"{format_date(first, filters.locale)} – {format_date(last, filters.locale)}"


def filter_labels(filters: Filters) -> list[tuple[str, object]]:
    """The cover's filters, each label in the report's language."""
    return [
        (translate(FILTER_LABELS.get(label, label), filters.locale), value) for label, value in filters.labels.items()
    ]


def _generated(at: datetime, locale: str) -> str:
    if locale == "en":
        return f"{at:%Y-%m-%d %H:%M %Z}".rstrip()
    return f"{format_date(at, locale)} {at:%H:%M %Z}".rstrip()


def _page_counter(locale: str) -> str:
    """The CSS `content` of the footer's "Page N of M" in `locale`: its {page} and {pages} become counters."""
    parts = re.split(r"(\{pages?\})", translate("report.cover.page", locale, page="{page}", pages="{pages}"))
    pieces = []
    for part in parts:
        if part in ("{page}", "{pages}"):
            pieces.append(f"counter({part[1:-1]})")
        elif part:
            pieces.append('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(pieces)


def html(
    title: str,
    filters: Filters,
    tables: list[Table],
    *,
    generated_at: datetime,
    firm: str | None = None,
    template: str | Path = "report.html",
) -> str:
    """The report as an HTML document with its charts inline. `template` names one of reports/templates,
    or is the Path of a template file (which may extend "report.html")."""
    try:
        page = (
            _TEMPLATES.from_string(template.read_text("utf-8"))
            if isinstance(template, Path)
            else _TEMPLATES.get_template(template)
        )
        locale = filters.locale
        return page.render(
            title=title,
            filters=filters,
            filter_labels=filter_labels(filters),
            tables=tables,
            charts=[charts.svg(t) for t in tables],
            firm=firm,
            period=period_label(filters),
            generated_at=_generated(generated_at, locale),
            lang=locale,
            locale=locale,
            page_counter=_page_counter(locale),
            t=lambda key, **params: translate(key, locale, **params),
        )
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"no report template named {exc.name!r}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"report template {str(template)!r} line {exc.lineno}: {exc.message}") from exc
    except Exception as exc:  # a template or chart failing on these tables: the report cannot be made
        raise RenderError(f"rendering {title!r} with {str(template)!r} failed: {type(exc).__name__}: {exc}") from exc


def pdf(
    title: str,
    filters: Filters,
    tables: list[Table],
    *,
    generated_at: datetime,
    firm: str | None = None,
    template: str | Path = "report.html",
) -> bytes:
    """The HTML report printed to A4 PDF by WeasyPrint, fonts embedded."""
    from weasyprint import HTML  # slow to import; only PDF needs it

    document = html(title, filters, tables, generated_at=generated_at, firm=firm, template=template)
    try:
        return HTML(string=document).write_pdf()
    except Exception as exc:  # WeasyPrint raises many kinds; all mean "no PDF"
        raise RenderError(f"PDF rendering of {title!r} failed: {type(exc).__name__}: {exc}") from exc


def _json_value(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)  # UUIDs and the like: JSON has no type for them


def as_json(title: str, filters: Filters, tables: list[Table]) -> dict:
    """The report as JSON-serialisable data; `period.to` is the last day included."""
    return {
        "title": title,
        "locale": filters.locale,
        "period": {"from": filters.date_from.isoformat(), "to": (filters.date_to - timedelta(days=1)).isoformat()},
        "filters": {str(label): _json_value(value) for label, value in filters.labels.items()},
        "tables": [
            {
                "name": t.name,
                "title": t.title,
                "note": t.note,
                "columns": [{"name": c.name, "title": c.title, "kind": c.kind} for c in t.columns],
                "rows": [{k: _json_value(v) for k, v in row.items()} for row in t.as_dicts()],
            }
            for t in tables
        ],
    }


def xlsx(title: str, filters: Filters, tables: list[Table]) -> bytes:
    """A workbook: an "About" sheet (title, period, filters), then a sheet of each table with typed cells."""
    try:
        return _workbook(title, filters, tables)
    except (ValueError, TypeError) as exc:  # openpyxl refuses values Excel cannot hold
        raise RenderError(f"XLSX of {title!r} failed: {exc}") from exc


def _workbook(title: str, filters: Filters, tables: list[Table]) -> bytes:
    book = Workbook()
    about = book.active
    locale = filters.locale
    about.title = translate("report.cover.about", locale)
    for label, value in [
        (translate("report.cover.report", locale), title),
        (translate("report.cover.period", locale), period_label(filters)),
        *filter_labels(filters),
    ]:
        about.append([label, str(value)])
        about.cell(about.max_row, 1).font = Font(bold=True)
    about.column_dimensions["A"].width = 14
    about.column_dimensions["B"].width = max(20, len(title) + 4)
    used = {about.title.lower()}
    for table in tables:
        # Sheets are named for their tables: the machine name in English (as they always were), the title otherwise.
        sheet = book.create_sheet(_sheet_name(table.name if locale == "en" else table.title, used))
        sheet.append([c.title for c in table.columns])
        for header in sheet[1]:
            header.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for row in table.rows:
            sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
        for n, column in enumerate(table.columns, start=1):
            letter = sheet.cell(1, n).column_letter
            sheet.column_dimensions[letter].width = max(10, min(40, len(column.title) + 4))
            if column.kind in XLSX_FORMATS:
                for (value,) in sheet.iter_rows(min_row=2, min_col=n, max_col=n):
                    value.number_format = XLSX_FORMATS[column.kind]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(name: str, used: set[str]) -> str:
    """Excel's sheet names: at most 31 characters, none of []:*?/\\, unique regardless of case."""
    base = _SHEET_NAME_FORBIDDEN.sub("_", name)[:31] or "table"
    candidate, n = base, 2
    while candidate.lower() in used:
        suffix = f"_{n}"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(candidate.lower())
    return candidate


# Counts of the certificate shown one per line, in this order (atrium.erasure builds the certificate).
CERTIFICATE_COUNTS = (
    "identifiers",
    "search_tokens",
    "care_dates",
    "contacts",
    "planned_follow_ups",
    "process_instances",
    "history_entries",
    "tasks",
    "notifications",
)


def erasure_certificate_pdf(cert: dict, *, locale: str) -> bytes:
    """A certificate of destruction (atrium.erasure.certificate) as an A4 PDF in `locale`."""
    from weasyprint import HTML

    from atrium.i18n import translate

    document = _TEMPLATES.get_template("erasure_certificate.html").render(
        cert=cert,
        counted=[name for name in CERTIFICATE_COUNTS if name in cert["destroyed"]],
        lang=locale,
        t=lambda key: translate(key, locale),
    )
    try:
        return HTML(string=document).write_pdf()
    except Exception as exc:  # WeasyPrint raises many kinds; all mean "no PDF"
        raise RenderError(f"PDF rendering of the certificate failed: {type(exc).__name__}: {exc}") from exc
