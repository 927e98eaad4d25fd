"""SQL the dialects spell differently, compiled per dialect; and the filters every statistic shares."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Float, Integer, Select, String, case, cast, func, literal, select
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
    # julianday's doubles are off by some microseconds; rounding to milliseconds makes whole seconds exact,
    # so "acknowledged within 24 h" holds at exactly 24 h as it does on PostgreSQL.
    return (
        f"(round((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
        " * 86400.0, 3) / 3600.0)"
    )


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
    """Clients the figures may include: not deleted, or erased (the firm's history stays counted, nameless),
    and owned by `filters.owners` when given."""
    condition = Client.deleted_at.is_(None) | Client.erased_at.is_not(None)
    if filters.owners is not None:
        condition = condition & Client.owner.in_(filters.owners)
    return condition


def client_business_keys(filters: Filters) -> Select:
    """The business keys (`client:{id}`) of the visible clients: process figures of an owner's clients."""
    return select(literal("client:") + cast(Client.id, String)).where(visible_clients(filters))


def deleted_client_keys() -> Select:
    """The business keys of deleted (not erased) clients, whose processes no figure counts (a handful, so NOT IN is cheap)."""
    return select(literal("client:") + cast(Client.id, String)).where(
        Client.deleted_at.is_not(None), Client.erased_at.is_(None)
    )


def percentiles(dialect: str, value, partition: list, conditions: list, source) -> Select:
    """Per partition of `source` rows meeting `conditions`: n, the median (p50) and the 90th percentile
    (p90) of `value`, linearly interpolated between the two nearest ranks: PostgreSQL's
    percentile_cont, and on SQLite (which has no percentile function) the same from window functions."""
    conditions = [*conditions, value.is_not(None)]
    if dialect == "postgresql":
        return (
            select(
                *partition,
                func.count().label("n"),
                func.percentile_cont(0.5).within_group(value).label("p50"),
                func.percentile_cont(0.9).within_group(value).label("p90"),
            )
            .select_from(source)
            .where(*conditions)
            .group_by(*partition)
        )
    ranked = (
        select(
            *partition,
            value.label("v"),
            func.row_number().over(partition_by=partition, order_by=value).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .select_from(source)
        .where(*conditions)
        .subquery()
    )
    keys = [ranked.c[c.key] for c in partition]

    def cont(q: float):
        # percentile_cont: position (n - 1) * q counted from 0, between ranks `below` and `below + 1`.
        position = (ranked.c.n - 1) * q
        below = cast(position, Integer)
        share = position - below
        return func.sum(
            case(
                (ranked.c.rn == below + 1, ranked.c.v * (1 - share)),
                (ranked.c.rn == below + 2, ranked.c.v * share),
                else_=0,
            )
        )

    return select(*keys, ranked.c.n, cont(0.5).label("p50"), cont(0.9).label("p90")).group_by(*keys, ranked.c.n)
