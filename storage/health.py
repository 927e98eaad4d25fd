"""Client health: each client's current score with the rules that made it, and one snapshot per client
per ISO week, from which movements over a week or a month are read."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, delete, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, BigId, UTCDateTime

HEALTHY, WATCH, AT_RISK = "healthy", "watch", "at_risk"
BANDS = (HEALTHY, WATCH, AT_RISK)


class ClientHealth(Base):
    __tablename__ = "client_health"
    __table_args__ = (Index("ix_client_health_band_score", "band", "score"),)

    client_id: Mapped[int] = mapped_column(BigId, ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(10))
    # The rules that fired, in table order: [{"rule": id, "reason": catalogue key, "points": n}]
    reasons: Mapped[list] = mapped_column(JSON)
    # The values the table read (atrium/health.py SIGNALS), plus the days since the last contact.
    signals: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The version of the deployed decision table `client_health` that scored it.
    table_version: Mapped[int] = mapped_column(Integer)


class ClientHealthSnapshot(Base):
    """The last score of a client in an ISO week (`week` its Monday): recomputing in the same week
    overwrites it, so a week's movement is this week's row against an earlier one."""

    __tablename__ = "client_health_snapshots"
    __table_args__ = (Index("ix_client_health_snapshots_week_band", "week", "band"),)

    client_id: Mapped[int] = mapped_column(BigId, ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


def replace_health(session: Session, rows: list[dict], *, week: date, client_ids: list[int] | None) -> None:
    """Write the scores in `rows` (ClientHealth columns), and this week's snapshot of each. Clients not in
    `rows` lose their current score (no longer scored: deleted, no longer active); with `client_ids`,
    only those clients are touched."""
    scope = list(client_ids) if client_ids is not None else None
    for table in (ClientHealth.__table__, ClientHealthSnapshot.__table__):
        condition = []
        if table is ClientHealthSnapshot.__table__:
            condition.append(table.c.week == week)
        if scope is not None:
            for start in range(0, len(scope), 1000):
                session.execute(delete(table).where(*condition, table.c.client_id.in_(scope[start : start + 1000])))
        else:
            session.execute(delete(table).where(*condition))
    snapshots = [
        {
            "client_id": row["client_id"],
            "week": week,
            "score": row["score"],
            "band": row["band"],
            "reasons": row["reasons"],
            "computed_at": row["computed_at"],
        }
        for row in rows
    ]
    _insert_many(session, ClientHealth.__table__, rows)
    _insert_many(session, ClientHealthSnapshot.__table__, snapshots)


def _insert_many(session: Session, table, rows: list[dict]) -> None:
    """Insert `rows`: by COPY on PostgreSQL (100,000 rows in about a second, where executemany takes
    ten), by executemany on SQLite."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        for start in range(0, len(rows), 5000):
            session.execute(insert(table), rows[start : start + 5000])
        return
    columns = [column.name for column in table.columns]
    json_columns = {column.name for column in table.columns if isinstance(column.type, JSON)}
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(json.dumps(row[c]) if c in json_columns else row[c] for c in columns))


def health_of(session: Session, *, client_id: int) -> ClientHealth | None:
    return session.get(ClientHealth, client_id)


def snapshot_weeks(session: Session) -> list[date]:
    return list(session.scalars(select(ClientHealthSnapshot.week).distinct().order_by(ClientHealthSnapshot.week)))
