"""Conflict-of-interest lookups: live clients, their contacts and the adverse parties of open
engagements whose names match a given name, compared as normalised name keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from .client_records import Engagement
from .clients import Client, Contact, name_key

# Engagements whose adverse parties still matter: the firm is, or is about to be, acting against them.
OPEN_ENGAGEMENT_STATUSES = ("proposed", "active")
# Rows fetched per name before the exact comparison; a name matching more than this is no name.
_CANDIDATES = 200


def _unspaced(text: str) -> bool:
    """True for scripts written without spaces between words (Chinese, Japanese, Korean)."""
    return any(
        0x3040 <= ord(ch) <= 0x30FF
        or 0x3400 <= ord(ch) <= 0x9FFF
        or 0xAC00 <= ord(ch) <= 0xD7AF
        or 0xF900 <= ord(ch) <= 0xFAFF
        for ch in text
    )


def keys_match(a: str, b: str) -> bool:
    """Whether two name keys name the same party: equal, or one holds the other as whole words
    ('acme' and 'acme holdings', not 'art' and 'smart'); for unspaced scripts, as a substring."""
    if not a or not b:
        return False
    if a == b:
        return True
    if _unspaced(a) or _unspaced(b):
        shorter, longer = sorted((a, b), key=len)
        return len(shorter) >= 2 and shorter in longer
    return f" {a} " in f" {b} " or f" {b} " in f" {a} "


def _needles(key: str) -> list[str]:
    """The words a candidate must contain one of: the longer words of the key (the whole key for
    unspaced scripts). Any name that matches `key` as whole words contains one of them."""
    if _unspaced(key):
        return [key]
    words = sorted({w for w in key.split() if len(w) >= 3} or set(key.split()), key=len, reverse=True)
    return words[:6]


def _like_any(column, needles: list[str]):
    escaped = (n.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for n in needles)
    return or_(*(column.like(f"%{n}%", escape="\\") for n in escaped))


@dataclass(frozen=True)
class AdversePartyMatch:
    party: str
    engagement: Engagement
    client: Client


def clients_named(session: Session, name: str) -> list[Client]:
    """Live clients whose name matches `name`."""
    key = name_key(name)
    if not key:
        return []
    rows = session.scalars(
        select(Client)
        .where(Client.deleted_at.is_(None), _like_any(Client.name_key, _needles(key)))
        .order_by(Client.id)
        .limit(_CANDIDATES)
    )
    return [c for c in rows if keys_match(key, c.name_key)]


def contacts_named(session: Session, name: str) -> list[tuple[Contact, Client]]:
    """Contacts of live clients whose name matches `name`. The LIKE is served by the trigram index
    on lower(name) on PostgreSQL; SQLite's lower() folds ASCII only, so there a capitalised
    non-ASCII word is not found."""
    key = name_key(name)
    if not key:
        return []
    rows = session.execute(
        select(Contact, Client)
        .join(Client, Client.id == Contact.client_id)
        .where(Client.deleted_at.is_(None), _like_any(func.lower(Contact.name), _needles(key)))
        .order_by(Contact.id)
        .limit(_CANDIDATES)
    )
    return [(contact, client) for contact, client in rows if keys_match(key, name_key(contact.name))]


def adverse_parties_named(session: Session, names: list[str]) -> list[AdversePartyMatch]:
    """Adverse parties of open engagements (of live clients) that match one of `names`.

    Adverse parties are a JSON list per engagement, so the comparison happens here rather than in
    SQL; only open engagements that name any party are read."""
    keys = [k for k in (name_key(n) for n in names) if k]
    if not keys:
        return []
    rows = session.execute(
        select(Engagement, Client)
        .join(Client, Client.id == Engagement.client_id)
        .where(
            Client.deleted_at.is_(None),
            Engagement.status.in_(OPEN_ENGAGEMENT_STATUSES),
            cast(Engagement.adverse_parties, Text) != "[]",
        )
        .order_by(Engagement.id)
    )
    found = []
    for engagement, client in rows:
        for party in engagement.adverse_parties or []:
            if isinstance(party, str) and any(keys_match(key, name_key(party)) for key in keys):
                found.append(AdversePartyMatch(party, engagement, client))
    return found
