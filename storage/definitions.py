"""Deployed process definitions (one row per key and version) and deployed forms."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, load_only, mapped_column

from .base import Base, UTCDateTime


class ProcessDefinition(Base):
    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        Index("ix_process_definitions_key_hash", "process_key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(300))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    # The parsed spec, serialized once per version; instances store only their state.
    spec_json: Mapped[str] = mapped_column(Text)
    # Start events that need the engine to start instances: [{"element_id", "kind", ...}]
    start_events: Mapped[list] = mapped_column(JSON, default=list)
    # User-task element id -> form version, pinned at deployment so a definition
    # version always shows the forms it was deployed with.
    form_ids: Mapped[dict] = mapped_column(JSON, default=dict)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DecisionDefinition(Base):
    """A deployed DMN decision, one row per decision id and version: what the application evaluates
    itself (the health score) reads the newest. (Processes carry the decisions they call in their spec.)"""

    __tablename__ = "decision_definitions"
    __table_args__ = (UniqueConstraint("decision_key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(300))
    dmn_xml: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Form(Base):
    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    schema: Mapped[dict] = mapped_column(JSON)
    ui_schema: Mapped[dict | None] = mapped_column(JSON)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)


@cache
def _head():
    """What starting an instance reads: the spec itself comes from the engine's cache, so the
    BPMN XML and the serialized spec (kilobytes each) need not cross the wire per start.
    Built on first use, not at import: building it configures every mapper, and a model this
    module does not import may not be defined yet."""
    return load_only(
        ProcessDefinition.id,
        ProcessDefinition.process_key,
        ProcessDefinition.version,
        ProcessDefinition.start_events,
        ProcessDefinition.form_ids,
    )


def latest_definition(session: Session, *, process_key: str, head_only: bool = False) -> ProcessDefinition | None:
    """The highest version deployed for a key, or None; `head_only` leaves the XML and spec
    unloaded (loaded on first access)."""
    query = (
        select(ProcessDefinition)
        .where(ProcessDefinition.process_key == process_key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    return session.scalars(query.options(_head()) if head_only else query).first()


def definition_version(
    session: Session, *, process_key: str, version: int, head_only: bool = False
) -> ProcessDefinition | None:
    query = select(ProcessDefinition).where(
        ProcessDefinition.process_key == process_key, ProcessDefinition.version == version
    )
    return session.scalars(query.options(_head()) if head_only else query).first()


def next_definition_version(session: Session, *, process_key: str) -> int:
    current = session.scalar(
        select(func.max(ProcessDefinition.version)).where(ProcessDefinition.process_key == process_key)
    )
    return (current or 0) + 1


def latest_decision(session: Session, *, decision_key: str) -> DecisionDefinition | None:
    """The highest version deployed of a decision, or None."""
    return session.scalars(
        select(DecisionDefinition)
        .where(DecisionDefinition.decision_key == decision_key)
        .order_by(DecisionDefinition.version.desc())
        .limit(1)
    ).first()


def latest_form(session: Session, *, name: str) -> Form | None:
    return session.scalars(select(Form).where(Form.name == name).order_by(Form.version.desc()).limit(1)).first()


def form_by_id(session: Session, *, form_id: int) -> Form | None:
    return session.get(Form, form_id)
