"""The connection pool replaces a connection that died while idle, without pinging busy ones."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage import db as db_module
from storage.db import make_engine

from .conftest import pg_url


@pytest.fixture
def pool():
    engine = make_engine(pg_url(), pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def _kill(engine, pid: int) -> None:
    with make_engine(str(engine.url)).connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_a_connection_killed_while_idle_is_replaced(pool, monkeypatch):
    pid = _backend_pid(pool)
    _kill(pool, pid)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had been idle a while

    assert _backend_pid(pool) != pid  # the request gets a live connection, not an error


def test_only_a_connection_idle_a_while_is_pinged(pool, monkeypatch):
    pings = []
    real_ping = db_module.ping
    monkeypatch.setattr(db_module, "ping", lambda conn: (pings.append(conn), real_ping(conn)))
    _backend_pid(pool)
    _backend_pid(pool)
    assert pings == []  # used a moment ago: no extra round trip

    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    _backend_pid(pool)
    assert len(pings) == 1
