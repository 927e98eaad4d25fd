"""Per-firm settings kept in the database (e.g. the JSON Schema of client custom fields)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime

CLIENT_CUSTOM_FIELDS = "client_custom_fields_schema"


class FirmSetting(Base):
    __tablename__ = "firm_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(100))


def setting_value(session: Session, *, key: str, default=None):
    row = session.get(FirmSetting, key)
    return row.value if row is not None else default


CARE = "care"  # relationship care: holidays observed, and per tier which occasions get what care
