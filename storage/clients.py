"""Clients (organisations or people), their contacts, and the identifiers duplicates are found by."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, delete, insert, select, tuple_
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, BigId, UTCDateTime

KINDS = ("organisation", "person")
TIERS = ("A", "B", "C")
STATUSES = ("prospect", "active", "dormant", "former")


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (
        Index("ix_clients_owner", "owner"),
        Index("ix_clients_status_tier", "status", "tier"),
        Index("ix_clients_name_key", "name_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(300))
    # Case-folded, punctuation-free name: what duplicates and sorting compare.
    name_key: Mapped[str] = mapped_column(String(300))
    industry: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(1), default="C")
    status: Mapped[str] = mapped_column(String(20), default="prospect")
    owner: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list] = mapped_column(JSON, default=list)
    phones: Mapped[list] = mapped_column(JSON, default=list)
    emails: Mapped[list] = mapped_column(JSON, default=list)
    addresses: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    custom_fields: Mapped[dict] = mapped_column(JSON, default=dict)
    # Lower-cased name, phones (as written and as digits), emails and addresses in one
    # string: `q` searches it with a trigram index on PostgreSQL, LIKE on SQLite.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class ClientIdentifier(Base):
    """A normalised phone, email or name of a client, kept in step with the client row."""

    __tablename__ = "client_identifiers"
    __table_args__ = (Index("ix_client_identifiers_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # name, phone, email
    value: Mapped[str] = mapped_column(String(320))


class Contact(Base):
    """A person at a client, with their role and channels."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str | None] = mapped_column(String(200))
    phones: Mapped[list] = mapped_column(JSON, default=list)
    emails: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Legal-form words that do not tell two firms apart when looking for duplicates.
_LEGAL_FORMS = {"ltd", "limited", "llp", "llc", "inc", "plc", "gmbh", "co", "corp", "company", "sa", "ag", "bv"}
_CJK_LEGAL_FORMS = ("有限责任公司", "股份有限公司", "有限公司", "事务所", "公司")


def name_key(name: str) -> str:
    """Case-folded name without punctuation or legal form: 'Harbour Logistics, Ltd.' -> 'harbour logistics'."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    words = [w for w in text.split() if w not in _LEGAL_FORMS]
    key = " ".join(words)
    for suffix in _CJK_LEGAL_FORMS:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)].strip()
            break
    return key


def phone_key(phone: str) -> str | None:
    """The last nine digits: '+44 20 7946 0000' and '020 7946 0000' are the same line."""
    digits = re.sub(r"\D", "", phone)
    return digits[-9:] if len(digits) >= 7 else None


def email_key(email: str) -> str:
    return email.strip().casefold()


def _address_text(address) -> str:
    if isinstance(address, dict):
        return " ".join(str(v) for v in address.values() if v)
    return str(address)


def search_text(client: Client) -> str:
    """Everything `q` matches, lower-cased; phones also as bare digits so '7946 0000' finds '79460000'."""
    parts = [client.name, *client.phones, *(re.sub(r"\D", "", p) for p in client.phones), *client.emails,
             *(_address_text(a) for a in client.addresses)]
    return "\n".join(unicodedata.normalize("NFKC", p).casefold() for p in parts if p)


def identifiers_of(client: Client) -> set[tuple[str, str]]:
    found = {("name", name_key(client.name))} if name_key(client.name) else set()
    found |= {("phone", key) for key in map(phone_key, client.phones) if key}
    found |= {("email", email_key(e)) for e in client.emails if e.strip()}
    return found


def refresh_derived(session: Session, client: Client) -> None:
    """Recompute name key, search text and identifiers after the client's fields changed."""
    client.name_key = name_key(client.name)[:300]
    client.search_text = search_text(client)
    if client.id is None:
        session.add(client)
        session.flush()
    table = ClientIdentifier.__table__
    session.execute(delete(table).where(table.c.client_id == client.id))
    rows = [{"client_id": client.id, "kind": kind, "value": value[:320]} for kind, value in identifiers_of(client)]
    if rows:
        session.execute(insert(table), rows)


def add_new_clients(session: Session, clients: list[Client]) -> None:
    """refresh_derived for many new clients at once: one flush, one insert of their identifiers (imports)."""
    for client in clients:
        client.name_key = name_key(client.name)[:300]
        client.search_text = search_text(client)
    session.add_all(clients)
    session.flush()
    rows = [{"client_id": c.id, "kind": kind, "value": value[:320]}
            for c in clients for kind, value in identifiers_of(c)]
    if rows:
        session.execute(insert(ClientIdentifier.__table__), rows)


def live_holders(session: Session, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
    """For each (kind, value) identifier in `wanted`, the live clients holding it."""
    table = ClientIdentifier.__table__
    found: dict[tuple[str, str], list[int]] = {}
    wanted = list(wanted)
    for start in range(0, len(wanted), 1000):  # bounded IN lists
        rows = session.execute(
            select(table.c.client_id, table.c.kind, table.c.value)
            .join(Client, Client.id == table.c.client_id)
            .where(tuple_(table.c.kind, table.c.value).in_(wanted[start:start + 1000]), Client.deleted_at.is_(None))
            .order_by(table.c.client_id)
        ).all()
        for client_id, kind, value in rows:
            found.setdefault((kind, value), []).append(client_id)
    return found


def duplicate_candidates(session: Session, client: Client) -> list[tuple[Client, list[str]]]:
    """Live clients sharing a normalised name, phone or email with `client`, with what matched."""
    wanted = identifiers_of(client)
    if not wanted:
        return []
    matched = matches_by_client(wanted, live_holders(session, wanted), exclude=client.id)
    found = session.scalars(select(Client).where(Client.id.in_(matched)).order_by(Client.id)).all()
    return [(c, matched[c.id]) for c in found]


def matches_by_client(identifiers: set[tuple[str, str]], holders: dict[tuple[str, str], list[int]], *,
                      exclude: int | None = None) -> dict[int, list[str]]:
    """client id -> the kinds of `identifiers` it holds (name, phone, email, each once)."""
    matched: dict[int, list[str]] = {}
    for kind, value in sorted(identifiers):
        for client_id in holders.get((kind, value), []):
            if client_id != exclude and kind not in matched.setdefault(client_id, []):
                matched[client_id].append(kind)
    return {client_id: kinds for client_id, kinds in matched.items() if kinds}


def search_condition(q: str):
    """`q` as a case-insensitive substring of name, phones, emails or addresses.

    On PostgreSQL the LIKE is answered from the trigram index on search_text."""
    needle = unicodedata.normalize("NFKC", q).casefold().strip()
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Client.search_text.like(f"%{escaped}%", escape="\\")


def live_clients():
    return select(Client).where(Client.deleted_at.is_(None))


def client_or_none(session: Session, client_id: int, *, include_deleted: bool = False) -> Client | None:
    client = session.get(Client, client_id)
    if client is None or (client.deleted_at is not None and not include_deleted):
        return None
    return client
