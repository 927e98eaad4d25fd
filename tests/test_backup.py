"""Backup and restore (atrium/backup.py): a round trip keeps clients, running instances, timers and the audit
trail; a damaged archive, a wrong passphrase and a non-empty target are refused and change nothing; scheduled
backups keep ATRIUM_BACKUP_KEEP archives."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from atrium import audit
from atrium.backup import BackupRefused, create_backup, decrypt_file, encrypt_file, restore_backup, scheduled_backup
from atrium.cli import main
from engine.scheduler import fire_due_timers
from storage.audit import AuditEntry
from storage.clients import Client
from storage.db import make_engine
from storage.instances import ProcessInstance
from storage.migrate import upgrade_to_head
from storage.tasks import open_tasks
from storage.timers import Timer

from .conftest import PG_SCHEMA, deploy_files, make_process_engine
from .factories import make_client, start_instance


def _pg_engine_on(db, schema: str, *, recreate: bool = True):
    """An engine on `schema` of the test PostgreSQL (dropped and created empty first)."""
    if recreate:
        with db.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = db.url.update_query_dict({"options": f"-csearch_path={schema}"})
    return make_engine(url.render_as_string(hide_password=False))


@pytest.fixture
def empty_target(db, tmp_path):
    """An empty database of db's backend, other than db (PostgreSQL: a schema of its own)."""
    engines = []

    def make(name="empty"):
        if db.dialect.name == "sqlite":
            engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        else:
            engine = _pg_engine_on(db, f"{PG_SCHEMA}_{name}")
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {engine.url.query['options'].split('=')[1]} CASCADE"))
        engine.dispose()


def _tables(engine) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return conn.scalar(text("SELECT count(*) FROM sqlite_master WHERE type = 'table'"))
        return conn.scalar(text("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"))


def _state(engine) -> dict:
    with Session(engine) as session:
        return {
            "clients": sorted((c.id, c.name, c.tier) for c in session.scalars(select(Client))),
            "instances": sorted((str(i.id), i.process_key, i.status) for i in session.scalars(select(ProcessInstance))),
            "timers": sorted((t.element_id, t.due_at, str(t.instance_id)) for t in session.scalars(select(Timer))),
            "audit": [
                (a.at, a.actor, a.action, a.target) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ],
        }


def _running_firm(db, services, clock):
    """Two clients and a timers_demo instance waiting at its `work` task with its two boundary timers."""
    process = make_process_engine(db, services)
    deploy_files(process, "timers.bpmn")
    with process.transaction() as session:
        make_client(session, name="Harbour Logistics")
        make_client(session, name="Jade Garden Trading", tier="B")
    instance = start_instance(process, "timers_demo", variables={"reminders": 0})
    clock.advance(hours=1, seconds=1)
    assert fire_due_timers(process) == 1
    return instance


def test_round_trip_keeps_clients_instances_timers_and_audit_and_work_goes_on(db, services, clock, tmp_path):
    instance = _running_firm(db, services, clock)
    before = _state(db)
    assert len(before["clients"]) == 2 and len(before["timers"]) == 2 and before["audit"]
    archive = tmp_path / "firm.tar"
    manifest = create_backup(db, archive, actor="cli:tester")
    assert manifest["schema_revision"] and manifest["key_metadata"] == {}
    assert {"processes/timers_demo/v1/timers.bpmn", "processes/timers_demo/v1/spec.json"} <= set(manifest["members"])

    if db.dialect.name == "sqlite":
        target = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    else:  # pg_restore recreates the schema the dump names: empty the test schema itself
        db.dispose()
        with db.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {PG_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        target = db
    try:
        restored = restore_backup(target, archive, actor="cli:tester")
        after = _state(target)
        assert {k: after[k] for k in ("clients", "instances", "timers")} == {
            k: before[k] for k in ("clients", "instances", "timers")
        }
        assert after["audit"][:-1] == before["audit"]  # backup.create was written after the dump
        assert after["audit"][-1][1:] == ("cli:tester", "backup.restore", "backup:firm.tar")
        assert restored["manifest"]["created_at"] == manifest["created_at"]

        # The instance goes on: its reminder timer fires and its task completes.
        process = make_process_engine(target, services)
        clock.advance(minutes=30, seconds=1)
        assert fire_due_timers(process) == 1
        with process.transaction() as session:
            [task] = open_tasks(session, instance_id=instance.id)
            assert task.element_id == "work"
        with process.transaction() as session:
            process.complete_task(session, task_id=task.id, data={}, actor="ann")
        with process.transaction() as session:
            assert session.get(ProcessInstance, instance.id).status == "completed"
    finally:
        if target is db:  # whatever happened, leave the session's schema migrated for the tests after
            db.dispose()
            upgrade_to_head(db)
        else:
            target.dispose()


def _member_offset(archive, name: str) -> int:
    with tarfile.open(archive) as tar:
        return tar.getmember(name).offset_data


def _flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("member", ["database", "processes/timers_demo/v1/timers.bpmn"])
def test_a_flipped_byte_is_refused_naming_the_member_and_changes_nothing(
    db, services, clock, tmp_path, empty_target, member
):
    _running_firm(db, services, clock)
    archive = tmp_path / "firm.tar"
    manifest = create_backup(db, archive, actor="cli:tester")
    if member == "database":
        member = manifest["database"]["member"]
    _flip(archive, _member_offset(archive, member) + 100)
    target = empty_target()
    with pytest.raises(BackupRefused, match=f"member '{member}' fails its SHA-256 checksum"):
        restore_backup(target, archive, actor="cli:tester")
    assert _tables(target) == 0


def test_a_damaged_manifest_is_refused(db, tmp_path, empty_target):
    archive = tmp_path / "firm.tar"
    create_backup(db, archive, actor="cli:tester")
    _flip(archive, _member_offset(archive, "manifest.json") + 2)
    target = empty_target()
    with pytest.raises(BackupRefused, match="manifest.json"):
        restore_backup(target, archive, actor="cli:tester")
    assert _tables(target) == 0


def test_encrypted_archive_restores_with_its_passphrase_and_refuses_a_wrong_one(
    db, services, clock, tmp_path, empty_target
):
    _running_firm(db, services, clock)
    before = _state(db)
    archive = tmp_path / "firm.tar.enc"
    create_backup(db, archive, passphrase="correct horse battery staple", actor="cli:tester")
    assert b"Harbour Logistics" not in archive.read_bytes() and b"timers_demo" not in archive.read_bytes()
    target = empty_target("wrong")
    with pytest.raises(BackupRefused, match="wrong passphrase"):
        restore_backup(target, archive, passphrase="Correct horse battery staple", actor="cli:tester")
    with pytest.raises(BackupRefused, match="is encrypted: give its passphrase"):
        restore_backup(target, archive, actor="cli:tester")
    assert _tables(target) == 0

    sealed = tmp_path / "damaged.tar.enc"
    sealed.write_bytes(archive.read_bytes())
    _flip(sealed, sealed.stat().st_size // 2)
    with pytest.raises(BackupRefused, match="fails authentication"):
        restore_backup(target, sealed, passphrase="correct horse battery staple", actor="cli:tester")
    assert _tables(target) == 0

    if db.dialect.name == "sqlite":  # PostgreSQL's restore of the same schema is the round trip's
        restore_backup(target, archive, passphrase="correct horse battery staple", actor="cli:tester")
        assert _state(target)["clients"] == before["clients"]


def test_encryption_blocks_cannot_be_cut_off_or_reordered(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(bytes(range(256)) * 20)  # 5120 bytes: six blocks of 1000
    sealed = tmp_path / "sealed"
    with open(sealed, "wb") as out:
        encrypt_file(plain, out, "pass", block_size=1000)
    with open(tmp_path / "back", "wb") as out:
        decrypt_file(sealed, out, "pass")
    assert (tmp_path / "back").read_bytes() == plain.read_bytes()
    data = sealed.read_bytes()
    header = len(data) - 5 * 1016 - (120 + 16)
    cut = tmp_path / "cut"
    cut.write_bytes(data[: header + 3 * 1016])  # the last whole blocks dropped
    swapped = tmp_path / "swapped"
    swapped.write_bytes(
        data[:header] + data[header + 1016 : header + 2032] + data[header : header + 1016] + data[header + 2032 :]
    )
    for damaged in (cut, swapped):
        with open(tmp_path / "out", "wb") as out, pytest.raises(BackupRefused, match="fails authentication"):
            decrypt_file(damaged, out, "pass")


def test_restore_into_a_non_empty_database_is_refused_and_changes_nothing(db, services, clock, tmp_path):
    _running_firm(db, services, clock)
    archive = tmp_path / "firm.tar"
    create_backup(db, archive, actor="cli:tester")
    before = _state(db)
    with pytest.raises(BackupRefused, match="is not empty .* restore only into an empty database; nothing was changed"):
        restore_backup(db, archive, actor="cli:tester")
    assert _state(db) == before


def test_scheduled_backups_fire_on_the_cron_and_keep_only_keep(db, services, clock, tmp_path):
    folder = tmp_path / "backups"
    process = make_process_engine(db, services, backup_cron="0 2 * * *", backup_dir=folder, backup_keep=2)
    since = clock.now()  # Monday 5 January 2026, 09:00 UTC
    assert scheduled_backup(process, since=since) is None  # the first firing is tomorrow at 02:00
    clock.advance(hours=17)  # 02:00 Tuesday
    written = [scheduled_backup(process, since=since)]
    assert written[0].name == "atrium-backup-20260106T020000Z.tar"
    clock.advance(minutes=5)
    assert scheduled_backup(process, since=since) is None  # this firing has its archive
    for _ in range(2):
        clock.advance(days=1)
        written.append(scheduled_backup(process, since=since))
    clock.advance(days=3)  # a server stopped for days: one archive, for the latest firing
    written.append(scheduled_backup(process, since=since))
    assert [p.name for p in written] == [
        "atrium-backup-20260106T020000Z.tar",
        "atrium-backup-20260107T020000Z.tar",
        "atrium-backup-20260108T020000Z.tar",
        "atrium-backup-20260111T020000Z.tar",
    ]
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "atrium-backup-20260108T020000Z.tar",
        "atrium-backup-20260111T020000Z.tar",
    ]
    with process.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "backup.create")).all()
    assert [(r.actor, r.target) for r in rows] == [("scheduler", f"backup:{p.name}") for p in written]
    manifest = json.loads(tarfile.open(written[-1]).extractfile("manifest.json").read())
    assert manifest["created_at"] == clock.now().isoformat()


def test_scheduled_backups_are_off_without_a_cron_and_refuse_a_bad_one(db, services, tmp_path, clock):
    from atrium.settings import Settings

    process = make_process_engine(db, services, backup_dir=tmp_path)
    clock.advance(days=30)
    assert scheduled_backup(process, since=clock.now() - timedelta(days=30)) is None
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="ATRIUM_BACKUP_CRON"):
        Settings.from_env({"ATRIUM_BACKUP_CRON": "0 2 * *"})
    with pytest.raises(ValueError):
        Settings.from_env({"ATRIUM_BACKUP_CRON": "0 25 * * *"})
    assert Settings.from_env({"ATRIUM_BACKUP_CRON": "30 1 * * 0"}).backup_cron == "30 1 * * 0"


def test_cli_backup_and_restore_with_a_passphrase_file(tmp_path, monkeypatch, capsys, clock):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    monkeypatch.setenv("ATRIUM_DATABASE_URL", source)
    assert main(["migrate"]) == 0
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a long passphrase\n")
    archive = tmp_path / "nightly.tar.enc"
    assert main(["backup", str(archive), "--passphrase-file", str(passphrase)]) == 0
    assert "(encrypted)" in capsys.readouterr().out
    assert main(["restore", str(archive), "--passphrase-file", str(passphrase)]) == 1
    assert "is not empty" in capsys.readouterr().err

    monkeypatch.setenv("ATRIUM_DATABASE_URL", f"sqlite:///{tmp_path / 'restored.db'}")
    assert main(["restore", str(archive)]) == 1
    assert "is encrypted: give its passphrase" in capsys.readouterr().err
    monkeypatch.setenv("ATRIUM_BACKUP_PASSPHRASE", "a long passphrase")
    assert main(["restore", str(archive)]) == 0
    assert "checksums verified" in capsys.readouterr().out
    restored = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    source_engine = make_engine(source)
    try:
        with restored.connect() as conn:
            actions = conn.execute(text("SELECT action, actor FROM audit_log ORDER BY id")).all()
        with source_engine.connect() as conn:
            created = conn.execute(text("SELECT actor FROM audit_log WHERE action = 'backup.create'")).scalars().all()
    finally:
        restored.dispose()
        source_engine.dispose()
    assert [a for a, _ in actions] == ["database.migrate", "backup.restore"]
    assert actions[-1][1].startswith("cli:") and created[0].startswith("cli:")
    assert make_url(source).database.endswith("source.db")


def test_the_server_scheduler_runs_the_backup_job_only_with_a_cron(db, services, tmp_path):
    from engine.scheduler import start_scheduler

    for cron, expected in ((None, None), ("0 2 * * *", "scheduled_backup")):
        process = make_process_engine(db, services, backup_cron=cron, backup_dir=tmp_path, timer_poll_seconds=3600)
        scheduler = start_scheduler(process)
        try:
            job = scheduler.get_job("scheduled_backup")
            assert (job and job.id) == expected
        finally:
            scheduler.shutdown(wait=False)


def test_restore_verifies_the_audit_chain_and_refuses_an_altered_one(db, tmp_path, empty_target):
    if db.dialect.name != "sqlite":
        pytest.skip("backend-independent; PostgreSQL restores only into the dump's own schema (the round trip's)")
    with Session(db) as session, session.begin():
        for n in range(3):
            audit.record(session, "client.update", actor="lin", target=f"client:{n}", detail={"n": n})
    sound = tmp_path / "sound.tar"
    create_backup(db, sound, actor="cli:tester")
    restored = restore_backup(empty_target("sound"), sound, actor="cli:tester", secret_key="k")
    assert not any("audit" in note for note in restored["notes"])

    # Someone edits a row in the database before the next backup (SQLite has no append-only trigger).
    with db.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE target = 'client:1'"))
    altered = tmp_path / "altered.tar"
    create_backup(db, altered, actor="cli:tester")
    with pytest.raises(BackupRefused, match="hash chain does not verify .*altered"):
        restore_backup(empty_target("altered"), altered, actor="cli:tester", secret_key="k")


def test_an_archive_of_an_unknown_schema_revision_is_refused(db, tmp_path, empty_target):
    archive = tmp_path / "firm.tar"
    create_backup(db, archive, actor="cli:tester")
    newer = tmp_path / "newer.tar"
    with tarfile.open(archive) as source, tarfile.open(newer, "w", format=tarfile.PAX_FORMAT) as target:
        for member in source:
            data = source.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["schema_revision"], manifest["atrium_version"] = "9999", "9.0"
                data = json.dumps(manifest).encode()
                member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    target = empty_target()
    with pytest.raises(
        BackupRefused, match="schema revision '9999' is unknown .* the Atrium version that made it \\(9.0\\)"
    ):
        restore_backup(target, newer, actor="cli:tester")
    assert _tables(target) == 0
