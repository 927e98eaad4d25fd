"""The cost of encryption at rest (storage/crypto.py): per operation, and within creating and reading
clients through the ORM on PostgreSQL, where it is set beside the whole cost per client."""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.sample_data import sample_client
from storage import crypto
from storage.clients import Client, add_new_clients, identifiers_of, search_text, search_tokens

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


def create_and_read(n: int, rng: random.Random) -> dict:
    """Milliseconds per client to create `n` clients (100 a transaction) and to read them back (pages of
    50 in fresh sessions, every personal field read)."""
    db = fresh_database(SCHEMA)
    try:
        now = datetime.now(timezone.utc)
        began = time.perf_counter()
        for start in range(0, n, 100):
            with Session(db) as session:
                batch = [
                    Client(**sample_client(rng), created_at=now, updated_at=now) for _ in range(min(100, n - start))
                ]
                add_new_clients(session, batch)
                session.commit()
        create_ms = (time.perf_counter() - began) * 1000 / n
        began = time.perf_counter()
        for offset in range(0, n, 50):
            with Session(db) as session:
                for client in session.scalars(select(Client).order_by(Client.id).offset(offset).limit(50)):
                    client.phones, client.emails, client.addresses, client.notes  # noqa: B018
        read_ms = (time.perf_counter() - began) * 1000 / n
    finally:
        db.dispose()
    return {"create_ms_per_client": create_ms, "read_ms_per_client": read_ms}


def run(n: int = 2000) -> dict:
    rng = random.Random(7)
    crypto.keyring()  # the master key from the environment (development: var/master.key)
    return {**per_operation(rng), **create_and_read(n, rng), "clients": n}
