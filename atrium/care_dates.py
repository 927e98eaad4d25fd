"""A client's care dates: birthdays (of a contact, or of a client who is a person), the founding and
engagement anniversaries and custom dates, each a Gregorian or lunar month/day. Recorded and deleted here,
audited as `care_date.create/.delete` on `client:{id}/care-dates/{id}`. Callers own the transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import clock
from atrium.care_calendar import valid_yearly_date
from atrium.care_cycles import replan_care_cycle
from atrium.client_records import audit_create, delete_record
from atrium.errors import InvalidInput, NotFound
from storage.care import CareDate
from storage.clients import Client, Contact


def check_care_date(session: Session, client: Client, data: dict) -> None:
    """Refuse, naming the field, a date that is none in its calendar, a contact of another client, a
    client's own birthday when the client is an organisation, or a custom date without a label."""
    problems: dict[str, list[str]] = {}
    why = valid_yearly_date(data.get("calendar", "gregorian"), data["month"], data["day"])
    if why:
        problems["month" if why.startswith("month") else "day"] = [why]
    contact_id = data.get("contact_id")
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.client_id != client.id:
            problems["contact_id"] = [f"client {client.id} has no contact {contact_id}"]
        elif data["kind"] != "birthday" and data["kind"] != "custom":
            problems["contact_id"] = ["only a birthday or a custom date belongs to a contact"]
    elif data["kind"] == "birthday" and client.kind != "person":
        problems["contact_id"] = ["an organisation has no birthday: name the contact whose birthday it is"]
    if data["kind"] == "custom" and not (data.get("label") or "").strip():
        problems["label"] = ["a custom date needs a label saying what it is"]
    if problems:
        raise InvalidInput("the care date is not valid", problems)


def record_care_date(engine, session: Session, client: Client, data: dict, *, actor: str | None) -> CareDate:
    """A new care date of `client`, audited; its care cycle plans afresh (the date may come sooner than the
    occasion the cycle waits for)."""
    check_care_date(session, client, data)
    now = clock.now()
    row = CareDate(**data, client_id=client.id, created_by=actor, created_at=now, updated_at=now)
    session.add(row)
    audit_create(session, row, actor=actor)
    replan_care_cycle(engine, session, client, actor=actor)
    return row


def care_dates_of(session: Session, client_id: int) -> list[CareDate]:
    return list(session.scalars(select(CareDate).where(CareDate.client_id == client_id).order_by(CareDate.id)))


def care_date_or_raise(session: Session, client_id: int, care_date_id: int) -> CareDate:
    row = session.get(CareDate, care_date_id)
    if row is None or row.client_id != client_id:
        raise NotFound(f"care date {care_date_id} of client {client_id} not found")
    return row


def delete_care_date(engine, session: Session, client: Client, row: CareDate, *, actor: str) -> None:
    """Delete a care date, audited as `care_date.delete`; the care cycle plans afresh without it."""
    delete_record(session, row, actor=actor, is_lead=False)
    session.flush()
    replan_care_cycle(engine, session, client, actor=actor)
