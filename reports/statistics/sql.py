"""SQL the dialects spell differently, compiled per dialect; and the filters every statistic shares."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Float, String, case, cast, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from storage.clients import Client

from ..tables import Filters


class hours_between(FunctionElement):
    """Hours from the first timestamp to the second, as a float."""

    type = Float()
    inherit_cache = True


@compiles(hours_between, "postgresql")
def _hours_pg(element, compiler, **kw):
    start, end = list(element.clauses)
    return f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)})) / 3600.0)"


@compiles(hours_between, "sqlite")
def _hours_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return f"((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})) * 24.0)"


class month_of(FunctionElement):
    """'YYYY-MM' of a UTC timestamp."""

    type = String()
    inherit_cache = True


@compiles(month_of, "postgresql")
def _month_pg(element, compiler, **kw):
    return f"to_char({compiler.process(list(element.clauses)[0], **kw)} AT TIME ZONE 'UTC', 'YYYY-MM')"


@compiles(month_of, "sqlite")
def _month_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(list(element.clauses)[0], **kw)})"


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def in_period(column, filters: Filters) -> ColumnElement:
    return (column >= start_of(filters.date_from)) & (column < start_of(filters.date_to))


def months(filters: Filters) -> list[str]:
    """Every month the period touches, as 'YYYY-MM', for zero-filled per-month tables."""
    last = filters.date_to - timedelta(days=1)
    out, year, month = [], filters.date_from.year, filters.date_from.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def visible_clients(filters: Filters) -> ColumnElement:
    """Clients the figures may include: not deleted, and owned by `filters.owners` when given."""
    condition = Client.deleted_at.is_(None)
    if filters.owners is not None:
        condition = condition & Client.owner.in_(filters.owners)
    return condition


def client_business_keys(filters: Filters):
    """The business keys (`client:{id}`) of the visible clients: process figures of an owner's clients."""
    return select(literal("client:") + cast(Client.id, String)).where(visible_clients(filters))


def percentiles(value, partition: list, conditions: list, source):
    """Per partition of `source` rows meeting `conditions`: n, p50 and p90 of `value`, nearest-rank
    (the n-th smallest of N where n = ceil(q * N)), with window functions both dialects have."""
    ranked = (select(*partition, value.label("v"),
                     func.row_number().over(partition_by=partition, order_by=value).label("rn"),
                     func.count().over(partition_by=partition).label("n"))
              .select_from(source).where(*conditions, value.is_not(None)).subquery())
    keys = [ranked.c[c.key] for c in partition]
    # ceil(q * N) in integer arithmetic: (5N + 9) // 10 for the median, (9N + 9) // 10 for p90.
    p50 = func.max(case((ranked.c.rn == (5 * ranked.c.n + 9) // 10, ranked.c.v))).label("p50")
    p90 = func.max(case((ranked.c.rn == (9 * ranked.c.n + 9) // 10, ranked.c.v))).label("p90")
    return select(*keys, ranked.c.n, p50, p90).group_by(*keys, ranked.c.n)
