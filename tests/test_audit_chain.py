"""The tamper-evident audit trail (atrium/audit_chain.py): every row links to the one before by hash, with
gapless seqs even under concurrent writers; PostgreSQL refuses UPDATE and DELETE on the table; `verify`
and `atrium audit verify` name the first row altered, deleted or inserted out of order; the retention purge
anchors the chain with a signed checkpoint."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import exc, insert, select, text, update

from atrium import audit
from atrium.audit_chain import CHECKPOINT, GENESIS, daily_check, purge, row_hash, verify
from atrium.cli import main
from atrium.settings import Settings
from storage.audit import AuditChainHead, AuditEntry
from storage.db import make_session_factory, transaction
from storage.notifications import Notification

from .conftest import make_process_engine
from .factories import make_account

KEY = "k" * 40


def write(engine, count: int, *, per_transaction: int = 1, actor: str = "lin") -> None:
    factory = make_session_factory(engine)
    for i in range(count):
        with transaction(factory) as session:
            for j in range(per_transaction):
                audit.record(session, "client.update", actor=actor, target=f"client:{i}", detail={"n": j, "f": 1.5})


def chain(engine) -> list[tuple[int, int, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(AuditEntry.id, AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash).order_by(AuditEntry.id)
            )
        ]


def check(engine, *, secret_key: str | None = KEY):
    with transaction(make_session_factory(engine)) as session:
        return verify(session, secret_key=secret_key)


def tamper(engine, sql: str, **params) -> None:
    """Change the table behind the writer's back (on PostgreSQL past the append-only trigger, as an
    attacker with the table owner's rights could)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL atrium.audit_purge = 'on'"))
        conn.execute(text(sql), params)


def test_rows_link_by_hash_with_seqs_one_to_n(db, clock):
    write(db, 5, per_transaction=2)
    rows = chain(db)
    assert [r[1] for r in rows] == list(range(1, 11))
    assert rows[0][2] == GENESIS
    assert all(rows[i][2] == rows[i - 1][3] for i in range(1, 10))
    result = check(db)
    assert result.ok and result.rows == 10 and (result.first_seq, result.last_seq) == (1, 10), result
    with db.connect() as conn:
        assert tuple(conn.execute(select(AuditChainHead.seq, AuditChainHead.hash))).__len__() == 1
        assert conn.execute(select(AuditChainHead.seq)).scalar() == 10


def test_a_rolled_back_savepoint_leaves_no_link_and_a_rollback_no_gap(db, clock):
    factory = make_session_factory(db)
    with transaction(factory) as session:
        audit.record(session, "a.kept", actor="lin")
        try:
            with session.begin_nested():
                audit.record(session, "a.undone", actor="lin")
                raise RuntimeError
        except RuntimeError:
            pass
        audit.record(session, "a.kept_too", actor="lin")
    with pytest.raises(RuntimeError):
        with transaction(factory) as session:
            audit.record(session, "a.rolled_back", actor="lin")
            raise RuntimeError
    write(db, 1)
    with db.connect() as conn:
        rows = conn.execute(select(AuditEntry.action, AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert [tuple(r) for r in rows] == [("a.kept", 1), ("a.kept_too", 2), ("client.update", 3)]
    assert check(db).ok


def test_parallel_writers_get_gapless_seqs_and_a_valid_chain(pg, clock):
    threads, per_thread = 8, 25
    errors = []

    def writer(n):
        try:
            write(pg, per_thread, per_transaction=2, actor=f"writer{n}")
        except Exception as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    total = threads * per_thread * 2
    with pg.connect() as conn:
        seqs = conn.execute(select(AuditEntry.seq).order_by(AuditEntry.seq)).scalars().all()
    assert seqs == list(range(1, total + 1))
    result = check(pg)
    assert result.ok and result.rows == total, result


def test_postgresql_refuses_update_and_delete_from_the_apps_connection(pg, clock):
    write(pg, 2)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(exc.DBAPIError, match="append-only"):
            with pg.begin() as conn:
                conn.execute(text(statement))
    with pytest.raises(exc.DBAPIError, match="append-only"):  # nor through the ORM, nor on a chained row
        with transaction(make_session_factory(pg)) as session:
            session.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(detail={"n": 9}))
    assert check(pg).ok and len(chain(pg)) == 2


def test_an_altered_row_is_named(db, clock):
    write(db, 4)
    tamper(db, "UPDATE audit_log SET detail = :detail WHERE seq = 3", detail='{"n": 7, "f": 1.5}')
    result = check(db)
    assert not result.ok and (result.broken.kind, result.broken.seq) == ("altered", 3), result
    assert "seq 3" in result.broken.message and "altered" in result.broken.message


def test_an_altered_row_with_its_hash_recomputed_breaks_the_next_link(db, clock):
    write(db, 4)
    with db.connect() as conn:
        row = conn.execute(select(AuditEntry).where(AuditEntry.seq == 2)).mappings().one()
    forged = row_hash(2, row["prev_hash"], {**row, "actor": "mallory"})
    tamper(db, "UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = 2", h=forged)
    result = check(db)
    assert (result.broken.kind, result.broken.seq) == ("out_of_order", 3), result


def test_a_deleted_row_is_named(db, clock):
    write(db, 4)
    tamper(db, "DELETE FROM audit_log WHERE seq = 2")
    result = check(db)
    assert (result.broken.kind, result.broken.seq) == ("deleted", 2), result
    assert "seq 2 is missing" in result.broken.message


def test_deleted_first_and_last_rows_are_named(db, clock):
    write(db, 4)
    tamper(db, "DELETE FROM audit_log WHERE seq = 4")
    assert (check(db).broken.kind, check(db).broken.seq) == ("deleted", 4)
    tamper(db, "DELETE FROM audit_log WHERE seq = 1")
    assert (check(db).broken.kind, check(db).broken.seq) == ("deleted", 1)


def test_a_row_inserted_with_a_wrong_previous_hash_is_named(db, clock):
    write(db, 3)
    fields = {
        "at": clock.now(),
        "actor": "mallory",
        "action": "client.delete",
        "target": "client:1",
        "outcome": "success",
    }
    wrong = "f" * 64
    with db.begin() as conn:  # the table allows inserts: an attacker's row, hashed but not linked
        conn.execute(insert(AuditEntry).values(**fields, seq=4, prev_hash=wrong, hash=row_hash(4, wrong, fields)))
    result = check(db)
    assert (result.broken.kind, result.broken.seq) == ("out_of_order", 4), result


def test_a_row_inserted_outside_the_chain_is_named(db, clock):
    write(db, 2)
    with db.begin() as conn:
        row_id = conn.execute(
            insert(AuditEntry)
            .values(at=clock.now(), actor="mallory", action="x", outcome="success")
            .returning(AuditEntry.id)
        ).scalar_one()
    result = check(db)
    assert (result.broken.kind, result.broken.row_id) == ("unchained", row_id), result


def test_the_cli_exits_non_zero_on_a_break(db, clock, monkeypatch, capsys):
    monkeypatch.setenv("ATRIUM_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ATRIUM_SECRET_KEY", KEY)
    write(db, 3)
    assert main(["audit", "verify"]) == 0
    assert "audit chain intact: 3 rows, seq 1 to 3" in capsys.readouterr().out
    tamper(db, "UPDATE audit_log SET target = 'client:99' WHERE seq = 2")
    assert main(["audit", "verify"]) == 1
    assert "row seq 2 (id" in capsys.readouterr().err


def test_retention_purges_old_rows_behind_a_signed_checkpoint(db, clock):
    write(db, 3)
    clock.advance(days=40)
    write(db, 2)
    with transaction(make_session_factory(db)) as session:
        assert purge(session, retention_days=30, secret_key=KEY, actor=audit.SCHEDULER) == 3
    with db.connect() as conn:
        rows = conn.execute(select(AuditEntry.seq, AuditEntry.action, AuditEntry.detail).order_by(AuditEntry.seq))
        rows = [tuple(r) for r in rows]
    assert [r[0] for r in rows] == [4, 5, 6] and rows[-1][1] == CHECKPOINT
    assert rows[-1][2]["purged_through"] == 3
    result = check(db)
    assert result.ok and result.checkpoint_seq == 6 and result.first_seq == 4, result
    write(db, 1)
    assert check(db).ok
    assert check(db, secret_key="another key that is long enough").broken.kind == "checkpoint"
    assert check(db, secret_key=None).broken.kind == "checkpoint"
    tamper(db, "DELETE FROM audit_log WHERE seq = 4")  # a purged-looking gap the checkpoint does not cover
    assert (check(db).broken.kind, check(db).broken.seq) == ("deleted", 4)


def test_a_purge_with_nothing_old_enough_writes_nothing(db, clock):
    write(db, 2)
    with transaction(make_session_factory(db)) as session:
        assert purge(session, retention_days=30, secret_key=KEY, actor=audit.SCHEDULER) == 0
    assert len(chain(db)) == 2 and check(db).ok


def _scheduled_engine(db, services, **settings):
    return make_process_engine(db, services, secret_key=KEY, **settings)


def _notes(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Notification.recipient, Notification.kind).order_by(Notification.recipient))
        return [tuple(r) for r in rows]


def test_the_daily_check_audits_itself_once_a_day_and_notifies_admins_of_a_break(db, services, clock):
    engine = _scheduled_engine(db, services)
    with engine.transaction() as session:
        make_account(session, "ada", roles=("admin",))
        make_account(session, "bob", roles=("admin",), active=False)
        make_account(session, "may", roles=("manager",))
    write(db, 3)
    assert daily_check(engine).ok
    assert daily_check(engine) is None  # once a day
    with db.connect() as conn:
        row = conn.execute(select(AuditEntry).where(AuditEntry.action == "audit.verify")).mappings().one()
    assert (row["actor"], row["outcome"], row["target"]) == (audit.SCHEDULER, "success", "audit")
    assert _notes(db) == []

    tamper(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    clock.advance(days=1)
    result = daily_check(engine)
    assert (result.broken.kind, result.broken.seq) == ("altered", 2)
    assert _notes(db) == [("ada", "audit_chain_broken")]
    with db.connect() as conn:
        failed = conn.execute(
            select(AuditEntry.outcome, AuditEntry.detail)
            .where(AuditEntry.action == "audit.verify")
            .order_by(AuditEntry.id)
        ).all()
        queued = conn.execute(select(AuditEntry.actor).where(AuditEntry.action == "notification.queue")).scalars().all()
    assert failed[-1][0] == "failed" and failed[-1][1]["break"] == {"kind": "altered", "seq": 2, "row_id": 2}
    assert queued == [audit.SCHEDULER]


def test_the_daily_check_purges_by_the_retention_setting_only_an_intact_chain(db, services, clock):
    write(db, 3)
    clock.advance(days=10)
    assert daily_check(_scheduled_engine(db, services)).ok  # kept forever by default
    assert len(chain(db)) == 4
    clock.advance(days=1)
    engine = _scheduled_engine(db, services, audit_retention_days=5)
    assert daily_check(engine).ok
    with db.connect() as conn:
        actions = conn.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars().all()
    assert actions == ["audit.verify", "audit.verify", CHECKPOINT]  # the 3 rows 11 days old went
    assert check(db).ok
    tamper(db, "UPDATE audit_log SET actor = 'x' WHERE action = 'audit.verify'")
    clock.advance(days=30)
    assert not daily_check(engine).ok
    with db.connect() as conn:  # nothing purged while the chain is broken
        assert conn.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars().all()[:3] == actions


def test_the_retention_setting(monkeypatch):
    assert Settings.from_env({}).audit_retention_days is None
    assert Settings.from_env({"ATRIUM_AUDIT_RETENTION_DAYS": "400"}).audit_retention_days == 400
    with pytest.raises(ValueError, match="ATRIUM_AUDIT_RETENTION_DAYS"):
        Settings.from_env({"ATRIUM_AUDIT_RETENTION_DAYS": "0"})


def test_the_migration_chains_the_rows_written_before_it(tmp_path, clock):
    from alembic import command

    from storage.db import make_engine
    from storage.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0016")
    old_log = AuditEntry.__table__
    with engine.begin() as conn:
        for n in range(3):
            conn.execute(
                insert(old_log).values(at=clock.now(), actor="lin", action="client.create", outcome="success"),
                [{"detail": {"n": n}}],
            )
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert [r[1] for r in chain(engine)] == [1, 2, 3]
    write(engine, 1)
    assert check(engine).ok and check(engine).rows == 4
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0016")
    engine.dispose()
