"""Erasure requests and their certificates of destruction (atrium/erasure.py holds the rules)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

REQUESTED, DONE, WITHDRAWN = "requested", "done", "withdrawn"


class Erasure(Base):
    """One request to destroy a client's personal data: asked by one admin with a reason, confirmed by a
    second (or by the retention policy), and once done, the certificate of what was destroyed."""

    __tablename__ = "erasures"
    __table_args__ = (
        # At most one open request per client: a second request is the same one, not a race.
        Index(
            "ix_erasures_open_client",
            "client_id",
            unique=True,
            postgresql_where=text("status = 'requested'"),
            sqlite_where=text("status = 'requested'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=REQUESTED)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What was destroyed, when, by whom, with its own SHA-256 (atrium.erasure.certificate).
    certificate: Mapped[dict | None] = mapped_column(JSON)
