"""The cost of encryption at rest (storage/crypto.py): per operation, and within creating, reading and
searching clients through the ORM on PostgreSQL, where the time spent in storage.crypto (AES-GCM, key
wrapping, keyed hashes, loading the clients' data keys) is measured and set beside the whole cost."""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.sample_data import sample_client
from storage import crypto
from storage.clients import (
    Client,
    add_new_clients,
    identifiers_of,
    plan_for_each_search,
    search_clients,
    search_text,
    search_tokens,
)

from . import common
from .common import fresh_database

SCHEMA = f"{common.SCHEMA}_crypto"


def _us(operation, repeat: int) -> float:
    began = time.perf_counter()
    for _ in range(repeat):
        operation()
    return (time.perf_counter() - began) / repeat * 1e6


def per_operation(rng: random.Random, repeat: int = 5000) -> dict:
    """Microseconds per AES-GCM encryption or decryption of a client's field, per data key wrapped or
    unwrapped, per keyed hash; and what writing and reading a client's four fields adds up to."""
    ring = crypto.Keyring(os.urandom(32))
    key, index_key = crypto.new_data_key(), crypto.new_data_key()
    fields = sample_client(rng)
    phones, aad = fields["phones"], crypto.value_aad("clients", 1, "phones")
    sealed = crypto.encrypt_value(key, phones, aad)
    wrapped, by = ring.wrap(key, crypto.client_key_aad(1))
    client = Client(**{k: fields[k] for k in ("name", "phones", "emails", "addresses")})
    figures = {
        "encrypt_value_us": _us(lambda: crypto.encrypt_value(key, phones, aad), repeat),
        "decrypt_value_us": _us(lambda: crypto.decrypt_value(key, sealed, aad, what="phones"), repeat),
        "wrap_us": _us(lambda: ring.wrap(key, crypto.client_key_aad(1)), repeat),
        # The keyring caches unwrapped keys: a fresh keyring each time is the first read of a client.
        "unwrap_us": _us(
            lambda: crypto.Keyring(ring.current).unwrap(wrapped, by, crypto.client_key_aad(1), what="key"), repeat
        ),
        "blind_indexes_us": _us(
            lambda: (identifiers_of(client, index_key), search_text(client), search_tokens(client, index_key)), repeat
        ),
    }
    figures["write_client_us"] = figures["wrap_us"] + 4 * figures["encrypt_value_us"] + figures["blind_indexes_us"]
    figures["read_client_us"] = figures["unwrap_us"] + 4 * figures["decrypt_value_us"]
    return figures


class CryptoTime:
    """While entered, the seconds spent inside storage.crypto's functions (the outermost call counted once:
    load_client_keys unwrapping keys is one call), measured by wrapping them."""

    FUNCTIONS = ("encrypt_value", "decrypt_value", "new_data_key", "blind", "load_client_keys", "index_key")
    METHODS = ("wrap", "unwrap")

    def __init__(self):
        self.seconds = 0.0
        self._depth = 0
        self._saved = []

    def _timed(self, function):
        def timed(*args, **kwargs):
            self._depth += 1
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - began

        return timed

    def __enter__(self):
        for owner, names in ((crypto, self.FUNCTIONS), (crypto.Keyring, self.METHODS)):
            for name in names:
                original = getattr(owner, name)
                self._saved.append((owner, name, original))
                setattr(owner, name, self._timed(original))
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


def create_and_read(n: int, rng: random.Random) -> dict:
    """Milliseconds per client to create `n` clients (100 a transaction) and to read them back (pages of
    50 in fresh sessions, every personal field read), and the part of each spent in storage.crypto."""
    db = fresh_database(SCHEMA)
    try:
        now = datetime.now(timezone.utc)
        made = []
        began = time.perf_counter()
        with CryptoTime() as create_crypto:
            for start in range(0, n, 100):
                with Session(db) as session:
                    batch = [
                        Client(**sample_client(rng), created_at=now, updated_at=now) for _ in range(min(100, n - start))
                    ]
                    add_new_clients(session, batch)
                    session.commit()
                    made += [(c.name, list(c.phones), list(c.emails)) for c in batch]
        create_ms = (time.perf_counter() - began) * 1000 / n
        began = time.perf_counter()
        with CryptoTime() as read_crypto:
            for offset in range(0, n, 50):
                with Session(db) as session:
                    for client in session.scalars(select(Client).order_by(Client.id).offset(offset).limit(50)):
                        client.phones, client.emails, client.addresses, client.notes  # noqa: B018
        read_ms = (time.perf_counter() - began) * 1000 / n
        searches = search(db, made, rng)
    finally:
        db.dispose()
    return {
        "create_ms_per_client": create_ms,
        "create_crypto_ms_per_client": create_crypto.seconds * 1000 / n,
        "read_ms_per_client": read_ms,
        "read_crypto_ms_per_client": read_crypto.seconds * 1000 / n,
        "search": searches,
    }


SEARCHES = 40


def search(db, made: list[tuple[str, list, list]], rng: random.Random) -> dict:
    """Per kind of `q` (a name fragment, phone digits, a whole email): milliseconds per search as the client
    list runs it (count, a page of 50 by name, every personal field of the page read), and the part in
    storage.crypto (the needle's keyed hashes, the page's data keys and fields)."""
    kinds = {
        "name fragment": lambda name, phones, emails: name[:4],
        "phone digits": lambda name, phones, emails: "".join(ch for ch in phones[0] if ch.isdigit())[-8:-2],
        "whole email": lambda name, phones, emails: emails[0],
    }
    figures = {}
    for kind, needle in kinds.items():
        queries = [needle(*rng.choice(made)) for _ in range(SEARCHES)]
        _search(db, queries[0])  # warm
        began = time.perf_counter()
        with CryptoTime() as timer:
            found = [_search(db, q) for q in queries]
        figures[kind] = {
            "ms": (time.perf_counter() - began) * 1000 / len(queries),
            "crypto_ms": timer.seconds * 1000 / len(queries),
            "matches": sorted(found)[len(found) // 2],
        }
    return figures


def _search(db, q: str) -> int:
    with Session(db) as session:
        plan_for_each_search(session)
        page, total, _ = search_clients(
            session,
            [Client.deleted_at.is_(None)],
            q=q,
            every_live_client=True,
            tagged=False,
            sort="name",
            limit=50,
            offset=0,
        )
        for client in page:
            client.phones, client.emails, client.addresses, client.notes  # noqa: B018
        session.commit()
    return total


def run(n: int = 2000) -> dict:
    rng = random.Random(7)
    crypto.keyring()  # the master key from the environment (development: var/master.key)
    return {**per_operation(rng), **create_and_read(n, rng), "clients": n}
