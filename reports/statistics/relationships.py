"""Relationship statistics from the client health scores (atrium/health.py): the distribution by band
and tier, the movements over the period, and the reasons most often behind a fall. A period is read
from the weekly snapshots: its start is the last week scored on or before its first day, its end the
last week scored before it ended."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from storage.clients import TIERS, Client
from storage.health import AT_RISK, BANDS, ClientHealth, ClientHealthSnapshot

from ..tables import Chart, Column, Filters, Table
from .sql import start_of, visible_clients

Snapshot = ClientHealthSnapshot


def health_distribution(session: Session, *, owners: set[str] | None) -> dict:
    """The current scores of live clients owned by `owners` (None: all): count and average per band and
    tier, for the health statistics endpoint."""
    conditions = [Client.deleted_at.is_(None), Client.erased_at.is_(None)]
    if owners is not None:
        conditions.append(Client.owner.in_(owners))
    rows = session.execute(
        select(ClientHealth.band, Client.tier, func.count(), func.avg(ClientHealth.score))
        .join(Client, Client.id == ClientHealth.client_id)
        .where(*conditions)
        .group_by(ClientHealth.band, Client.tier)
        .order_by(ClientHealth.band, Client.tier)
    ).all()
    total = sum(n for _, _, n, _ in rows)
    by_band = dict.fromkeys(BANDS, 0)
    for band, _, n, _ in rows:
        by_band[band] = by_band.get(band, 0) + n
    return {
        "clients": total,
        "average_score": round(sum(float(avg) * n for _, _, n, avg in rows) / total, 1) if total else None,
        "by_band": by_band,
        "by_band_and_tier": [
            {"band": band, "tier": tier, "clients": n, "average_score": round(float(avg), 1)}
            for band, tier, n, avg in rows
        ],
    }


def _last_week(session: Session, before) -> object | None:
    return session.scalar(select(func.max(Snapshot.week)).where(Snapshot.week < before))


def _period_weeks(session: Session, filters: Filters) -> tuple[object | None, object | None]:
    """(start week, end week) of the period, either None when no snapshot answers it."""
    end = _last_week(session, filters.date_to)
    start = session.scalar(select(func.max(Snapshot.week)).where(Snapshot.week <= filters.date_from))
    if start is None:  # scoring began during the period: its first week
        start = session.scalar(select(func.min(Snapshot.week)).where(Snapshot.week >= filters.date_from))
    return start, end


def health_by_band_and_tier(session: Session, filters: Filters) -> Table:
    """Clients per band and tier with their average score, as scored in the period's last week."""
    week = _last_week(session, filters.date_to)
    rows = []
    if week is not None:
        found = {
            (band, tier): (n, avg)
            for band, tier, n, avg in session.execute(
                select(Snapshot.band, Client.tier, func.count(), func.avg(Snapshot.score))
                .join(Client, Client.id == Snapshot.client_id)
                .where(Snapshot.week == week, visible_clients(filters), Client.created_at < start_of(filters.date_to))
                .group_by(Snapshot.band, Client.tier)
            )
        }
        # Every band and tier, zero-filled: an empty band is a figure too.
        tiers = sorted(set(TIERS) | {tier for _, tier in found})
        rows = [
            (
                filters.text(f"health.band.{band}"),
                tier,
                found.get((band, tier), (0, None))[0],
                round(float(found[band, tier][1]), 1) if (band, tier) in found else None,
            )
            for band in BANDS
            for tier in tiers
        ]
    return Table(
        "health_by_band_and_tier",
        filters.text("report.relationships.distribution"),
        (
            Column("band", filters.text("report.relationships.band")),
            Column("tier", filters.text("report.relationships.tier")),
            Column("clients", filters.text("report.relationships.clients"), "int"),
            Column("average_score", filters.text("report.relationships.average"), "float"),
        ),
        rows,
        Chart("bar", "band", ("clients",)),
        note=filters.text("report.statistic.health_by_band_and_tier.note", week=filters.day(week))
        if week
        else filters.text("report.statistic.health_by_band_and_tier.none"),
    )


def _movement_join(filters: Filters, start, end):
    before, after = aliased(Snapshot), aliased(Snapshot)
    return (
        before,
        after,
        (
            select()
            .select_from(after)
            .join(Client, Client.id == after.client_id)
            .outerjoin(before, and_(before.client_id == after.client_id, before.week == start))
            .where(after.week == end, visible_clients(filters))
        ),
    )


def health_movements(session: Session, filters: Filters) -> Table:
    """Clients whose score rose, fell or stayed between the period's first and last scored weeks, and
    those newly at risk (at risk at the end, not at the start or not scored then)."""
    start, end = _period_weeks(session, filters)
    counts = {"improved": 0, "fell": 0, "unchanged": 0, "newly_at_risk": 0}
    if start is not None and end is not None and start < end:
        before, after, joined = _movement_join(filters, start, end)
        improved, fell, unchanged, newly = session.execute(
            joined.add_columns(
                func.coalesce(func.sum(case((after.score > before.score, 1), else_=0)), 0),
                func.coalesce(func.sum(case((after.score < before.score, 1), else_=0)), 0),
                func.coalesce(func.sum(case((after.score == before.score, 1), else_=0)), 0),
                func.coalesce(
                    func.sum(
                        case(
                            (and_(after.band == AT_RISK, func.coalesce(before.band, "") != AT_RISK), 1),
                            else_=0,
                        )
                    ),
                    0,
                ),
            )
        ).one()
        counts = {"improved": improved, "fell": fell, "unchanged": unchanged, "newly_at_risk": newly}
    return Table(
        "health_movements",
        filters.text("report.relationships.movements"),
        (
            Column("movement", filters.text("report.relationships.movement")),
            Column("clients", filters.text("report.relationships.clients"), "int"),
        ),
        [(filters.text(f"report.relationships.{name}"), int(n)) for name, n in counts.items()],
        Chart("bar", "movement", ("clients",)),
        note=(
            filters.text("report.statistic.health_movements.note", start=filters.day(start), end=filters.day(end))
            if start is not None and end is not None and start < end
            else filters.text("report.statistic.health_movements.none")
        ),
    )


def health_fall_reasons(session: Session, filters: Filters) -> Table:
    """For clients whose score fell over the period: the reasons that fired at the end and not at the
    start, by how many clients they explain, most first."""
    start, end = _period_weeks(session, filters)
    counted: Counter = Counter()
    points: Counter = Counter()
    if start is not None and end is not None and start < end:
        before, after, joined = _movement_join(filters, start, end)
        fallen = session.execute(joined.add_columns(before.reasons, after.reasons).where(after.score < before.score))
        for old, new in fallen:
            had = {r["reason"] for r in old or []}
            for reason in new or []:
                if reason["reason"] not in had and reason["points"] < 0:
                    counted[reason["reason"]] += 1
                    points[reason["reason"]] += reason["points"]
    rows = [
        (filters.text(f"health.reason.{reason}"), n, round(points[reason] / n, 1))
        for reason, n in sorted(counted.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Table(
        "health_fall_reasons",
        filters.text("report.relationships.fall_reasons"),
        (
            Column("reason", filters.text("report.relationships.reason")),
            Column("clients", filters.text("report.relationships.clients"), "int"),
            Column("points", filters.text("report.relationships.points"), "float"),
        ),
        rows,
        Chart("hbar", "reason", ("clients",)),
        note=filters.text("report.statistic.health_fall_reasons.note"),
    )
