"""Opting out of surveys and care mail, by one contact or a whole client, and the language mail to a
client's people is written in. Every send (surveys, greetings, campaigns) asks `is_opted_out` or
`opted_out_of` here; every change is audited as `opt_out.create` / `opt_out.delete` on the client."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import audit, clock, i18n
from atrium.errors import InvalidInput, NotFound
from storage.clients import Client, Contact
from storage.opt_outs import SOURCES, TOPICS, OptOut


def mail_locale(client: Client | None, contact: Contact | None = None) -> str:
    """The language of mail to `contact` (else to the client itself): the contact's, else its client's,
    else the firm's default."""
    for chosen in (getattr(contact, "locale", None), getattr(client, "locale", None)):
        if chosen in i18n.SUPPORTED:
            return chosen
    return i18n.DEFAULT


def _check(session: Session, client_id: int, contact_id: int | None, topic: str, source: str) -> None:
    if topic not in TOPICS:
        raise InvalidInput(f"unknown topic {topic!r}", {"topic": [f"must be one of {', '.join(TOPICS)}"]})
    if source not in SOURCES:
        raise InvalidInput(f"unknown source {source!r}", {"source": [f"must be one of {', '.join(SOURCES)}"]})
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.client_id != client_id:
            raise InvalidInput(
                f"contact {contact_id} is not a contact of client {client_id}",
                {"contact_id": [f"not a contact of client {client_id}"]},
            )


def _existing(session: Session, client_id: int, contact_id: int | None, topic: str) -> OptOut | None:
    contact = OptOut.contact_id.is_(None) if contact_id is None else OptOut.contact_id == contact_id
    return session.scalars(
        select(OptOut).where(OptOut.client_id == client_id, OptOut.topic == topic, contact).limit(1)
    ).first()


def opt_out(
    session: Session, *, client_id: int, contact_id: int | None, topic: str, source: str, actor: str | None
) -> OptOut:
    """Record that the contact (None: the whole client) wants no more mail of `topic`; opting out again
    returns the first opt-out and writes nothing."""
    _check(session, client_id, contact_id, topic, source)
    found = _existing(session, client_id, contact_id, topic)
    if found is not None:
        return found
    row = OptOut(
        client_id=client_id,
        contact_id=contact_id,
        topic=topic,
        source=source,
        opted_out_at=clock.now(),
        recorded_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "opt_out.create",
        actor=actor,
        target=f"client:{client_id}",
        detail={"opt_out": row.id, "contact_id": contact_id, "topic": topic, "source": source},
    )
    return row


def opt_in(session: Session, *, client_id: int, opt_out_id: int, actor: str | None) -> None:
    """Withdraw an opt-out (the person asked for the mail again): a member of staff's act, audited."""
    row = session.get(OptOut, opt_out_id)
    if row is None or row.client_id != client_id:
        raise NotFound(f"opt-out {opt_out_id} of client {client_id} not found")
    audit.record(
        session,
        "opt_out.delete",
        actor=actor,
        target=f"client:{client_id}",
        detail={"opt_out": row.id, "contact_id": row.contact_id, "topic": row.topic},
    )
    session.delete(row)
    session.flush()


def is_opted_out(session: Session, *, client_id: int, contact_id: int | None = None, topic: str) -> bool:
    """Whether mail of `topic` to the contact (None: to the client itself) must not be sent: the contact
    opted out, or the whole client did."""
    who = OptOut.contact_id.is_(None)
    if contact_id is not None:
        who = who | (OptOut.contact_id == contact_id)
    found = session.scalar(select(OptOut.id).where(OptOut.client_id == client_id, OptOut.topic == topic, who).limit(1))
    return found is not None


def opted_out_of(session: Session, *, client_ids: list[int], topic: str) -> dict[int, set[int | None]]:
    """For a bulk send: client id -> the contact ids opted out of `topic` (None in the set: the whole
    client), for the clients that have any; read in one query per 1,000 clients."""
    found: dict[int, set[int | None]] = {}
    ids = list(client_ids)
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(OptOut.client_id, OptOut.contact_id).where(
                OptOut.client_id.in_(ids[start : start + 1000]), OptOut.topic == topic
            )
        )
        for client_id, contact_id in rows:
            found.setdefault(client_id, set()).add(contact_id)
    return found


def client_opt_outs(session: Session, *, client_id: int) -> list[OptOut]:
    return list(session.scalars(select(OptOut).where(OptOut.client_id == client_id).order_by(OptOut.id)))
