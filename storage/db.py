"""Database engines and sessions: one place owns the connection lifecycle."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and writer-serialising transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A connection back in the pool this recently was working then; one idle longer (the
# server may have restarted, or a firewall dropped it) is checked before use.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, but only for connections idle a while.

    pool_pre_ping sends a round trip on every checkout; under load that is one in four of a
    request's round trips for no benefit. A dead connection is replaced here the same way:
    DisconnectionError makes the pool discard it and check out another."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        record.info["atrium.idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        idle_since = record.info.get("atrium.idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # new, or idle too briefly to have gone stale
        try:
            ping(dbapi_conn)
        except Exception as error:  # any failure here means the connection is unusable
            raise exc.DisconnectionError() from error


def ping(dbapi_conn) -> None:
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SELECT 1")
    dbapi_conn.rollback()


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN; we take control so that a
    # transaction that will write takes the lock up front (BEGIN IMMEDIATE). Two writers
    # then queue instead of failing with "database is locked" on lock upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Deleted content is overwritten, not left in free pages: erasure (atrium/erasure.py) means it.
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session], *, bind: Connection | None = None) -> Iterator[Session]:
    """One unit of work: commit once at the end, roll back everything on any error.

    `bind`, a connection the caller already holds, saves a pool checkout. It is used only while idle: a session joining a transaction already under
    way would not commit it, so a nested unit of work gets a connection of its own."""
    if bind is not None and not bind.closed and not bind.in_transaction():
        session = factory(bind=bind)
    else:
        session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work that only reads, on `factory`'s engine (the read replica's, when one is set).

    Ended like `transaction` (a commit keeps the loaded rows usable after it, expire_on_commit being off);
    on a replica that is read-only, as hot standbys are, a write slipped in here fails loudly, so whatever
    writes takes `transaction` on the primary instead."""
    with transaction(factory) as session:
        yield session


# Advisory-lock namespace (the first of the two int4 keys) of the scheduler's singleton jobs; the two-key
# space does not overlap the bigint keys used elsewhere (audit chain, health).
_JOB_LOCK_NAMESPACE = 0x4A0B


@contextmanager
def job_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Whether this process may run the job `name` now: on PostgreSQL a session advisory lock held on a
    connection of its own for the job's whole run (another scheduler process polling meanwhile skips it;
    the lock goes with the connection if the process dies or the server restarts). SQLite: always True
    (one file, one host; its writers queue anyway)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    import zlib

    key = zlib.crc32(name.encode()) & 0x7FFFFFFF
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        mine = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({_JOB_LOCK_NAMESPACE}, {key})").scalar())
        try:
            yield mine
        finally:
            if mine:
                try:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_JOB_LOCK_NAMESPACE}, {key})")
                except exc.DBAPIError:  # connection gone: so is the lock
                    conn.invalidate()
