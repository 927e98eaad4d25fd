"""Relationship care for one client: its next occasion (its care dates and the firm's holidays, as its tier
gets them), the suggested greeting in the client's language (Jinja2 templates in atrium/greetings), the
greeting mail's preview (whom it goes to, or why it will not be sent), and what the owner did, recorded on
the timeline as a care activity and, for a greeting mail, queued through the outbox. The `care` process's
service tasks and campaigns call these; every change is audited here (`care.record`). Callers own the
transaction."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atrium import audit, clock, i18n, notifications, opt_outs
from atrium.care_calendar import HOLIDAYS, next_holiday, next_yearly_date
from atrium.care_settings import OCCASIONS, care_settings
from atrium.client_cycles import wants_cycle
from atrium.errors import InvalidInput, NotFound
from storage.care import CARE_ACTIONS, CareActivity, CareDate
from storage.client_records import Engagement
from storage.clients import Client, Contact
from storage.employees import Employee

_GREETINGS_DIR = Path(__file__).parent / "greetings"
_JINJA = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
NOT_SENT_REASONS = ("opted_out", "no_email")


@cache
def greetings(locale: str) -> dict:
    """A language's occasion names and greeting templates (atrium/greetings/<locale>.json)."""
    return json.loads((_GREETINGS_DIR / f"{locale}.json").read_text(encoding="utf-8"))


TEMPLATES = tuple(greetings(i18n.DEFAULT)["templates"])


def _template_of(occasion: dict) -> str:
    """The template for an occasion: its holiday's own, else its kind's ("holiday" for a holiday without)."""
    holiday = occasion.get("holiday")
    if holiday and holiday in greetings(i18n.DEFAULT)["templates"]:
        return holiday
    return "holiday" if holiday else occasion["kind"]


def occasion_name(occasion: dict, locale: str) -> str:
    if occasion.get("label"):
        return occasion["label"]
    return greetings(locale)["occasions"][occasion.get("holiday") or occasion["kind"]]


# --- the next occasion ----------------------------------------------------------------------------


def _first_engagement_start(session: Session, client_id: int) -> date | None:
    return session.scalar(
        select(func.min(Engagement.start_date)).where(
            Engagement.client_id == client_id, Engagement.status.in_(("active", "completed"))
        )
    )


def occasions(session: Session, client: Client, *, on_or_after: date, every: bool = False) -> list[dict]:
    """Each occasion of the client its tier gets care for (`every`: all of its dates and every holiday
    the firm may observe), at its next date on or after `on_or_after`, soonest first (ties in a stable
    order)."""
    settings = care_settings(session)
    wanted = set(OCCASIONS) if every else set(settings["tiers"][client.tier]["occasions"])
    observed = list(HOLIDAYS) if every else settings["holidays"]
    found: list[dict] = []
    dates = session.scalars(select(CareDate).where(CareDate.client_id == client.id).order_by(CareDate.id)).all()
    for row in dates:
        if row.kind not in wanted:
            continue
        when = next_yearly_date(row.calendar, row.month, row.day, on_or_after=on_or_after)
        found.append(
            {
                "key": f"care_date:{row.id}",
                "kind": row.kind,
                "label": row.label,
                "date": when.isoformat(),
                "contact_id": row.contact_id,
                "years": when.year - row.year if row.year and when.year > row.year else None,
            }
        )
    if "engagement_anniversary" in wanted and not any(r.kind == "engagement_anniversary" for r in dates):
        start = _first_engagement_start(session, client.id)
        if start is not None:  # the first engagement's start serves until the firm records the date
            when = next_yearly_date("gregorian", start.month, start.day, on_or_after=on_or_after)
            if when.year > start.year:
                found.append(
                    {
                        "key": "engagement_anniversary",
                        "kind": "engagement_anniversary",
                        "label": None,
                        "date": when.isoformat(),
                        "contact_id": None,
                        "years": when.year - start.year,
                    }
                )
    if "holiday" in wanted:
        for key in observed:
            when = next_holiday(key, on_or_after=on_or_after)
            if when is not None:
                found.append(
                    {
                        "key": f"holiday:{key}",
                        "kind": "holiday",
                        "holiday": key,
                        "label": None,
                        "date": when.isoformat(),
                        "contact_id": None,
                        "years": None,
                    }
                )
    return sorted(found, key=lambda o: (o["date"], o["key"]))


def _prepare_at(day: date, days_before: int) -> datetime:
    """When the owner's task appears: the start (UTC) of the day `days_before` days before the occasion."""
    return datetime.combine(day - timedelta(days=days_before), time(0), tzinfo=timezone.utc)


def next_occasion(session: Session, client_id: int, *, last: dict | None = None) -> dict:
    """The client's next occasion after the `last` one handled (by date, then key), with when to prepare
    it (its tier's days before; now if that is past) and what care its tier gives. Reads only."""
    client = session.get(Client, client_id)
    if client is None or not wants_cycle(client):
        return {"active": False}
    today = clock.now().date()
    start = today
    if last:
        start = max(today, date.fromisoformat(last["date"]))
    rule = care_settings(session)["tiers"][client.tier]
    done = set(
        session.execute(
            select(CareActivity.occasion_key, CareActivity.occasion_date).where(
                CareActivity.client_id == client.id, CareActivity.occasion_date >= start.isoformat()
            )
        ).all()
    )
    for occasion in occasions(session, client, on_or_after=start):
        if last and (occasion["date"], occasion["key"]) <= (last["date"], last["key"]):
            continue
        if (occasion["key"], occasion["date"]) in done:  # handled already (the cycle was planned afresh)
            continue
        prepare_at = max(_prepare_at(date.fromisoformat(occasion["date"]), rule["days_before"]), clock.now())
        return {
            "active": True,
            "found": True,
            **occasion,
            "care": rule["care"],
            "prepare_at": prepare_at.isoformat(),
        }
    # Nothing in the year ahead (no dates, no holidays observed): look again in a month.
    return {"active": True, "found": False, "prepare_at": (clock.now() + timedelta(days=30)).isoformat()}


# --- the greeting -----------------------------------------------------------------------------------


def _mail_locale(session: Session, client: Client, contact: Contact | None) -> str:
    """The contact's language, else the client's; the care settings' default for one without (a greeting
    to a Chinese firm's client is written in Chinese unless it says otherwise)."""
    if (contact is not None and contact.locale in i18n.SUPPORTED) or client.locale in i18n.SUPPORTED:
        return opt_outs.mail_locale(client, contact)
    return care_settings(session)["default_locale"]


def _is_opted_out(session: Session, client_id: int, contact_id: int | None) -> bool:
    return opt_outs.is_opted_out(session, client_id=client_id, contact_id=contact_id, topic="care_mail")


def _sender(session: Session, username: str | None) -> str:
    name = session.scalar(select(Employee.name).where(Employee.username == username)) if username else None
    return name or username or ""


def greeting(session: Session, client: Client, occasion: dict, *, template: str | None = None) -> dict:
    """The greeting mail for an occasion, in the recipient's language: {locale, template, subject, body,
    recipient, email, contact_id, will_send, not_sent_reason}. The recipient is the occasion's contact,
    else the client itself if it has an email, else its first contact with one; opted-out or without an
    email, `will_send` is false and the reason says why."""
    contact = session.get(Contact, occasion["contact_id"]) if occasion.get("contact_id") else None
    if contact is not None and contact.client_id != client.id:
        contact = None
    email = None
    if contact is not None:
        email = next(iter(contact.emails or []), None)
    elif client.emails:
        email = client.emails[0]
    else:
        for candidate in session.scalars(select(Contact).where(Contact.client_id == client.id).order_by(Contact.id)):
            if candidate.emails:
                contact, email = candidate, candidate.emails[0]
                break
    locale = _mail_locale(session, client, contact)
    template = template or _template_of(occasion)
    texts = greetings(locale)["templates"].get(template) or greetings(locale)["templates"]["holiday"]
    values = {
        "recipient_name": contact.name if contact is not None else client.name,
        "client_name": client.name,
        "occasion": occasion_name(occasion, locale),
        "years": occasion.get("years"),
        "date": i18n.format_date(occasion["date"], locale) if occasion.get("date") else "",
        "sender": _sender(session, client.owner),
    }
    reason = None
    if _is_opted_out(session, client.id, contact.id if contact is not None else None):
        reason = "opted_out"
    elif not email:
        reason = "no_email"
    return {
        "locale": locale,
        "template": template,
        "subject": _JINJA.from_string(texts["subject"]).render(values).strip(),
        "body": _JINJA.from_string(texts["body"]).render(values),
        "recipient": values["recipient_name"],
        "email": email if reason is None else None,
        "contact_id": contact.id if contact is not None else None,
        "will_send": reason is None,
        "not_sent_reason": reason,
    }


def preview(session: Session, client: Client, occasion: dict, *, template: str | None = None) -> dict:
    """What the greeting mail would be (nothing is written)."""
    return greeting(session, client, occasion, template=template)


# --- the owner's task and its outcome ---------------------------------------------------------------


def open_care(session: Session, client_id: int, occasion: dict, *, template: str | None = None) -> dict:
    """What the owner's care task shows: the client, the occasion in the client's language, the care
    its tier gives, and the suggested greeting (subject and body, editable in the form)."""
    client = session.get(Client, client_id)
    if client is None or not wants_cycle(client):
        return {"active": False}
    mail = greeting(session, client, occasion, template=template)
    return {
        "active": True,
        "owner": client.owner,
        "client_name": client.name,
        "occasion_name": occasion_name(occasion, mail["locale"]),
        "occasion_date": occasion["date"],
        "care": occasion.get("care"),
        "greeting_subject": mail["subject"],
        "greeting_body": mail["body"],
        "mail_recipient": mail["recipient"],
        "mail_not_sent_reason": mail["not_sent_reason"],
    }


def record_care(
    session: Session,
    client: Client,
    occasion: dict,
    *,
    action: str,
    notes: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    actor: str | None,
    instance_id: uuid.UUID | None = None,
    campaign: str | None = None,
    template: str | None = None,
) -> CareActivity:
    """Record what was done for an occasion as a care activity on the client's timeline; for
    `greeting_mail`, queue the greeting (the owner's edited `subject`/`body`, else the template's) to the
    recipient unless they opted out or have no email (the activity says which). Audited as `care.record`."""
    if action not in CARE_ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(CARE_ACTIONS)}", {"action": ["unknown action"]})
    mail = greeting(session, client, occasion, template=template) if action == "greeting_mail" else None
    row = CareActivity(
        client_id=client.id,
        contact_id=(mail or {}).get("contact_id") or occasion.get("contact_id"),
        occasion=occasion.get("holiday") and f"holiday:{occasion['holiday']}" or occasion["kind"],
        occasion_key=occasion.get("key"),
        occasion_date=occasion.get("date"),
        action=action,
        notes=notes,
        mail_queued=False,
        mail_skipped=None,
        campaign=campaign,
        instance_id=instance_id,
        done_by=actor,
        created_at=clock.now(),
    )
    if mail is not None:
        if mail["will_send"]:
            notifications.queue(
                session,
                kind="care_greeting",
                recipient=None,
                email=mail["email"],
                subject=(subject or mail["subject"]).strip(),
                body=body or mail["body"],
                actor=actor,
                instance_id=instance_id,
                client_id=client.id,
            )
            row.mail_queued = True
        else:
            row.mail_skipped = mail["not_sent_reason"]
    session.add(row)
    session.flush()
    audit.record(
        session,
        "care.record",
        actor=actor,
        target=f"client:{client.id}/care-activities/{row.id}",
        detail={
            "occasion": row.occasion,
            "date": row.occasion_date,
            "action": action,
            "mail_queued": row.mail_queued,
            "mail_skipped": row.mail_skipped,
            "campaign": campaign,
        },
    )
    return row


def record_task_outcome(session: Session, client_id: int, occasion: dict, data: dict, *, actor, instance_id) -> dict:
    """The care task's answers recorded (the `care` process's last service task)."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id} no longer exists")
    row = record_care(
        session,
        client,
        occasion,
        action=data["action"],
        notes=data.get("notes"),
        subject=data.get("greeting_subject"),
        body=data.get("greeting_body"),
        actor=actor,
        instance_id=instance_id,
        campaign=data.get("campaign"),
        template=data.get("template"),
    )
    return {"care_activity_id": row.id, "mail_queued": row.mail_queued, "mail_skipped": row.mail_skipped}
