"""What every statistic returns and every report renders: named tables, each with an optional chart.

The statistics (reports/statistics/) compute tables in SQL; the renderers (reports/render.py,
reports/charts.py) turn any list of tables into HTML, PDF, XLSX or JSON. Neither side knows
the other's details: this module is the whole contract between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from atrium.i18n import catalogue, format_date, translate


@dataclass(frozen=True)
class Column:
    name: str  # machine name: the JSON key and the XLSX header's source
    title: str  # shown in tables and charts ("CSAT average", "平均满意度")
    # text | int | float | percent (0..1) | hours | money (Decimal, two places) | month ("2026-03") | date
    kind: str = "text"


@dataclass(frozen=True)
class Chart:
    """How to draw the table: `kind` bar | hbar | stacked_bar | line | pie; `x` is a column name,
    `y` one or more column names (several make grouped bars or several lines)."""

    kind: str
    x: str
    y: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str  # e.g. "clients_by_tier"
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple]  # one value per column, in column order
    chart: Chart | None = None
    note: str | None = None  # e.g. "NPS = % promoters (9-10) - % detractors (0-6)"

    def as_dicts(self) -> list[dict]:
        names = [c.name for c in self.columns]
        return [dict(zip(names, row)) for row in self.rows]


@dataclass(frozen=True)
class Filters:
    """The period, the optional filters and the reader's language every statistic takes.

    `date_from` inclusive, `date_to` exclusive (UTC midnight). `owners`, when set, limits every
    client-scoped figure to clients owned by those usernames: an account manager's own view
    is `owners=(their username,)`, a team filter is the team's members."""

    date_from: date
    date_to: date
    owners: tuple[str, ...] | None = None
    service_type: str | None = None
    process_key: str | None = None
    labels: dict = field(default_factory=dict)  # what the cover shows: {"Owner": "alice", "Team": "North"}
    # The reader's language (atrium.i18n.SUPPORTED): titles, headings, labels and notes are written in it.
    locale: str = "en"

    def text(self, key: str, **params) -> str:
        """A catalogue message (atrium/locales) in the report's language."""
        return translate(key, self.locale, **params)

    def value(self, prefix: str, value):
        """A category value shown as a label (a status, a severity): the catalogue's `<prefix>.<value>` in the
        report's language, or the value as it is when the catalogue has no such key (an unknown status)."""
        key = f"{prefix}.{value}"
        return translate(key, self.locale) if key in catalogue("en") else value

    def day(self, value) -> str:
        """A date in the report's language: ISO in English (as the reports always showed it), 2026年1月5日 in Chinese."""
        if value is None or self.locale == "en":
            return str(value)
        return format_date(value, self.locale)
