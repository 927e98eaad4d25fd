"""Translations of deployed processes and forms into other languages: one row per process or form
and locale, replaced by each deployment that brings a changed file (the latest wins)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime

PROCESS, FORM = "process", "form"


class Translation(Base):
    __tablename__ = "translations"
    __table_args__ = (Index("ux_translations_kind_name_locale", "kind", "name", "locale", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "process" or "form"
    name: Mapped[str] = mapped_column(String(300))  # the process id or form name it translates
    locale: Mapped[str] = mapped_column(String(20))
    # Key -> text, as in the file (see engine.translations for what the keys name).
    content: Mapped[dict] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)


def save_translation(
    session: Session, *, kind: str, name: str, locale: str, content: dict, content_hash: str, now: datetime
) -> bool:
    """Store a deployed translation file; False when identical content was already deployed."""
    row = session.scalars(
        select(Translation).where(Translation.kind == kind, Translation.name == name, Translation.locale == locale)
    ).first()
    if row is not None and row.content_hash == content_hash:
        return False
    if row is None:
        session.add(
            Translation(
                kind=kind, name=name, locale=locale, content=content, content_hash=content_hash, deployed_at=now
            )
        )
    else:
        row.content, row.content_hash, row.deployed_at = content, content_hash, now
    session.flush()
    return True


def translations_of(
    session: Session, *, kind: str, names: list[str], locales: list[str] | None = None
) -> dict[str, dict[str, dict]]:
    """name -> locale -> content for the given processes or forms (only what exists)."""
    if not names:
        return {}
    query = select(Translation.name, Translation.locale, Translation.content).where(
        Translation.kind == kind, Translation.name.in_(list(dict.fromkeys(names)))
    )
    if locales is not None:
        query = query.where(Translation.locale.in_(locales))
    found: dict[str, dict[str, dict]] = {}
    for name, locale, content in session.execute(query):
        found.setdefault(name, {})[locale] = content or {}
    return found


def translation(session: Session, *, kind: str, name: str, locale: str) -> dict:
    """One translation's content; empty when there is none."""
    return (
        session.scalar(
            select(Translation.content).where(
                Translation.kind == kind, Translation.name == name, Translation.locale == locale
            )
        )
        or {}
    )
