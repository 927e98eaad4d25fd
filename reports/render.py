"""A report (title, filters, tables) as HTML, PDF (WeasyPrint), XLSX (openpyxl) or JSON."""
from __future__ import annotations

import io
import logging
from datetime import date, datetime, timedelta
from decimal import Decimal

import jinja2
from openpyxl import Workbook

from . import charts
from .tables import Filters, Table


class RenderError(Exception):
    """A report could not be rendered (a template missing or failing); the message says why."""


_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                                autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)


def cell(value, kind: str) -> str:
    """A value as the report table shows it."""
    if value is None:
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "percent":
        return f"{float(value) * 100:.1f} %"
    if kind in ("float", "hours"):
        return f"{float(value):,.1f}"
    return str(value)


_TEMPLATES.filters["cell"] = cell


def period_label(filters: Filters) -> str:
    """'2026-10-01 – 2026-10-31': the last day shown is the one before the exclusive `date_to`."""
    return f"{filters.date_from.isoformat()} – {(filters.date_to - timedelta(days=1)).isoformat()}"


def html(title: str, filters: Filters, tables: list[Table], *, generated_at: datetime, firm: str | None = None,
         template: str = "report.html") -> str:
    try:
        return _TEMPLATES.get_template(template).render(
            title=title, filters=filters, tables=tables, charts=[charts.svg(t) for t in tables], firm=firm,
            period=period_label(filters), generated_at=f"{generated_at:%Y-%m-%d %H:%M} UTC", lang="en")
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {template!r} failed: {type(exc).__name__}: {exc}") from exc


def pdf(title: str, filters: Filters, tables: list[Table], *, generated_at: datetime, firm: str | None = None,
        template: str = "report.html") -> bytes:
    from weasyprint import HTML  # slow to import; only PDF needs it

    # WeasyPrint logs a warning per SVG style property it skips (matplotlib writes many); they are not ours to fix.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    document = html(title, filters, tables, generated_at=generated_at, firm=firm, template=template)
    try:
        return HTML(string=document).write_pdf()
    except Exception as exc:  # WeasyPrint raises many kinds; all mean "no PDF"
        raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def as_json(title: str, filters: Filters, tables: list[Table]) -> dict:
    return {
        "title": title,
        "period": {"from": filters.date_from.isoformat(), "to": (filters.date_to - timedelta(days=1)).isoformat()},
        "filters": dict(filters.labels),
        "tables": [{"name": t.name, "title": t.title, "note": t.note,
                    "columns": [{"name": c.name, "title": c.title, "kind": c.kind} for c in t.columns],
                    "rows": [{k: _json_value(v) for k, v in row.items()} for row in t.as_dicts()]} for t in tables],
    }


def xlsx(title: str, filters: Filters, tables: list[Table]) -> bytes:
    """A workbook: an "About" sheet (title, period, filters), then a sheet of each table."""
    book = Workbook()
    about = book.active
    about.title = "About"
    for row in [("Report", title), ("Period", period_label(filters)), *filters.labels.items()]:
        about.append(list(row))
    used = {"About"}
    for table in tables:
        name = table.name[:31]
        n = 2
        while name in used:
            suffix = f"_{n}"
            name, n = table.name[:31 - len(suffix)] + suffix, n + 1
        used.add(name)
        sheet = book.create_sheet(name)
        sheet.append([c.title for c in table.columns])
        for row in table.rows:
            sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
