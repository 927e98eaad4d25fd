"""A client's 360° timeline: its records, process instances and their tasks, merged in time order."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .care import CareActivity
from .client_records import (
    Complaint,
    Engagement,
    Feedback,
    FollowUp,
    ServiceRequest,
    live,
)
from .instances import ProcessInstance
from .tasks import Task


def _event(at, kind: str, ref, title: str, status=None, actor=None) -> dict:
    return {"at": at, "kind": kind, "id": str(ref), "title": title, "status": status, "actor": actor}


def client_timeline(session: Session, *, client_id: int, business_key: str, limit: int) -> list[dict]:
    """Newest first, at most `limit` events of each kind before merging (so the merge is bounded too)."""
    events: list[dict] = []
    for row in session.scalars(
        select(FollowUp).where(FollowUp.client_id == client_id).order_by(FollowUp.id.desc()).limit(limit)
    ):
        at = row.done_at or row.planned_at or row.created_at
        title = f"{row.channel} follow-up" + (f": {row.outcome}" if row.outcome else " planned")
        events.append(_event(at, "follow_up", row.id, title, "done" if row.done_at else "planned", row.done_by))
    for row in session.scalars(
        select(Engagement).where(Engagement.client_id == client_id).order_by(Engagement.id.desc()).limit(limit)
    ):
        events.append(
            _event(row.created_at, "engagement", row.id, f"{row.service_type} engagement", row.status, row.responsible)
        )
    for row in session.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.client_id == client_id)
        .order_by(ServiceRequest.id.desc())
        .limit(limit)
    ):
        events.append(_event(row.created_at, "service_request", row.id, row.title, row.status, row.created_by))
    for row in session.scalars(
        select(Complaint)
        .where(Complaint.client_id == client_id, live(Complaint))
        .order_by(Complaint.id.desc())
        .limit(limit)
    ):
        events.append(
            _event(row.received_at, "complaint", row.id, f"{row.severity} complaint", row.status, row.created_by)
        )
    for row in session.scalars(
        select(Feedback)
        .where(Feedback.client_id == client_id, live(Feedback))
        .order_by(Feedback.id.desc())
        .limit(limit)
    ):
        rating = ", ".join(
            f"{name} {value}" for name, value in (("CSAT", row.csat), ("NPS", row.nps)) if value is not None
        )
        events.append(_event(row.created_at, "feedback", row.id, f"feedback ({rating})", None, row.created_by))
    for row in session.scalars(
        select(CareActivity).where(CareActivity.client_id == client_id).order_by(CareActivity.id.desc()).limit(limit)
    ):
        mail = (
            " (mail queued)"
            if row.mail_queued
            else (f" (mail not sent: {row.mail_skipped})" if row.mail_skipped else "")
        )
        events.append(
            _event(row.created_at, "care", row.id, f"care for {row.occasion}: {row.action}{mail}", None, row.done_by)
        )
    # Instances about the client: by business key, or named by one of its records.
    instance_ids = (
        select(ServiceRequest.instance_id)
        .where(ServiceRequest.client_id == client_id)
        .union(
            select(Complaint.instance_id).where(Complaint.client_id == client_id),
            select(FollowUp.instance_id).where(FollowUp.client_id == client_id),
            select(Engagement.instance_id).where(Engagement.client_id == client_id),
        )
    )
    instances = session.scalars(
        select(ProcessInstance)
        .where(or_(ProcessInstance.business_key == business_key, ProcessInstance.id.in_(instance_ids)))
        .order_by(ProcessInstance.started_at.desc())
        .limit(limit)
    ).all()
    for row in instances:
        events.append(
            _event(row.started_at, "process_instance", row.id, f"{row.process_key} started", row.status, row.started_by)
        )
    if instances:
        for row in session.scalars(
            select(Task)
            .where(Task.instance_id.in_([i.id for i in instances]))
            .order_by(Task.created_at.desc())
            .limit(limit)
        ):
            events.append(_event(row.created_at, "task", row.id, row.name, row.status, row.assignee))
    events.sort(key=lambda e: e["at"], reverse=True)
    return events[:limit]
