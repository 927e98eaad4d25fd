"""Backups and restores: one archive holding a consistent database dump, the deployed process and form
files, and a manifest of SHA-256 checksums; optionally encrypted with a passphrase.

The archive is an uncompressed tar (a flipped byte then shows up as the checksum of the one member it is
in):
- `manifest.json`: format, created_at, the Atrium version, the Alembic schema revision, the database
  backend (and PostgreSQL schema), every other member's SHA-256 and size, and `key_metadata`.
- `database/atrium.pgdump` (pg_dump custom format, one snapshot) or `database/atrium.sqlite3` (SQLite's
  online backup API, one consistent copy while the server keeps running).
- `processes/<key>/v<version>/<file>` (and `spec.json`, the parsed spec with its DMN tables), `forms/<name>/v<version>/<name>-schema.json` (and `-uischema.json`),
  `translations/<kind>/<name>.<locale>.json`: every deployed version, as deployed, for people to read; the
  restore takes them from the database dump, which holds them too.

`key_metadata` is where the metadata of wrapped data keys will go once data is encrypted at rest (the
wrapped keys' ids, algorithms and the id of the master key that wraps them): never the master key itself,
which stays out of every backup. It is empty for now.

Encrypted archives (a passphrase given) are the tar encrypted as a whole: scrypt derives the key from the
passphrase, and AES-256-GCM seals it in 1 MiB blocks, each block's nonce numbering it and marking the last
one, so a block changed, dropped, reordered or cut off fails authentication.

A restore goes only into an empty database, and changes nothing until the archive has been read whole and
every checksum, the backend and the schema revision have been checked."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.errors import AtriumError

FORMAT = "atrium-backup/1"
MANIFEST = "manifest.json"
PG_MEMBER = "database/atrium.pgdump"
SQLITE_MEMBER = "database/atrium.sqlite3"

# Encrypted archives: MAGIC, salt, scrypt log2(n), r, p, block size, nonce prefix, passphrase check; then blocks.
MAGIC = b"ATRIUM-BACKUP-ENC\x01"
_HEADER = struct.Struct(">16sBIII7s32s")
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 16, 8, 1
BLOCK_SIZE = 1024 * 1024
_TAG = 16

ARCHIVE_NAME = re.compile(r"^atrium-backup-(\d{8}T\d{6}Z)\.tar(\.enc)?$")


class BackupRefused(AtriumError):
    """A backup or restore that cannot be done; nothing was changed."""

    status = 422
    title = "Backup refused"


# Encryption ------------------------------------------------------------------------------------------


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    material = Scrypt(salt=salt, length=64, n=2**log2_n, r=r, p=p).derive(passphrase.encode())
    return material[:32], hashlib.sha256(b"atrium-backup-check" + material[32:]).digest()


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def encrypt_file(source: Path, target, passphrase: str, *, block_size: int = BLOCK_SIZE) -> None:
    """Write `source` to the binary file `target`, sealed with a key derived from `passphrase`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, prefix = secrets.token_bytes(16), secrets.token_bytes(7)
    key, check = _derive(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    header = MAGIC + _HEADER.pack(salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, block_size, prefix, check)
    aead = AESGCM(key)
    target.write(header)
    with open(source, "rb") as plain:
        block, index = plain.read(block_size), 0
        while True:
            following = plain.read(block_size)
            last = not following
            target.write(aead.encrypt(_nonce(prefix, index, last), block, header))
            if last:
                break
            block, index = following, index + 1


def decrypt_file(source: Path, target, passphrase: str) -> None:
    """Write the plain archive of the encrypted `source` to the binary file `target`; BackupRefused for a
    wrong passphrase or a block that fails authentication (changed, dropped, reordered, cut off)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    with open(source, "rb") as sealed:
        header = sealed.read(len(MAGIC) + _HEADER.size)
        if len(header) < len(MAGIC) + _HEADER.size or not header.startswith(MAGIC):
            raise BackupRefused(f"{source}: not an encrypted Atrium backup")
        salt, log2_n, r, p, block_size, prefix, check = _HEADER.unpack(header[len(MAGIC) :])
        if not (10 <= log2_n <= 22 and 1 <= r <= 32 and 1 <= p <= 16 and 1 <= block_size <= 64 * 1024 * 1024):
            raise BackupRefused(f"{source}: the encryption header is damaged")
        key, expected = _derive(passphrase, salt, log2_n, r, p)
        if not secrets.compare_digest(check, expected):
            raise BackupRefused(f"{source}: wrong passphrase (or a damaged encryption header); nothing was changed")
        aead = AESGCM(key)
        block, index = sealed.read(block_size + _TAG), 0
        while True:
            following = sealed.read(block_size + _TAG)
            last = not following
            try:
                target.write(aead.decrypt(_nonce(prefix, index, last), block, header))
            except InvalidTag:
                raise BackupRefused(
                    f"{source}: encrypted block {index} (bytes from {len(header) + index * (block_size + _TAG)}) "
                    "fails authentication: the archive is damaged, truncated or was altered; nothing was changed"
                ) from None
            if last:
                return
            block, index = following, index + 1


def is_encrypted(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(len(MAGIC)) == MAGIC


# The database ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """Where the archive's database comes from or goes to."""

    url: str
    backend: str  # "postgresql" or "sqlite"
    schema: str | None = None  # PostgreSQL: the schema Atrium's tables are in (search_path's first)
    path: Path | None = None  # SQLite: the database file

    @classmethod
    def of(cls, url: str) -> Database:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise BackupRefused("an in-memory SQLite database cannot be backed up or restored")
            return cls(url, backend, path=Path(parsed.database))
        if backend == "postgresql":
            return cls(url, backend, schema=_pg_schema(parsed))
        raise BackupRefused(f"backups support PostgreSQL and SQLite, not {backend}")

    def libpq(self) -> tuple[str, dict]:
        """A libpq connection URI without the password, and the environment carrying it (not in `ps`)."""
        parsed = make_url(self.url)
        env = dict(os.environ)
        if parsed.password is not None:
            env["PGPASSWORD"] = str(parsed.password)
        return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _pg_schema(parsed) -> str:
    options = parsed.query.get("options")
    for option in [options] if isinstance(options, str) else list(options or ()):
        found = re.search(r"-c\s*search_path=([^\s]+)", unquote(option))
        if found:
            first = found.group(1).split(",")[0].strip().strip('"')
            if first and first != "$user":
                return first
    return "public"


def _run(command: list[str], env: dict, what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupRefused(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def _dump(database: Database, target: Path) -> None:
    if database.backend == "sqlite":
        if not database.path.exists():
            raise BackupRefused(f"{database.path}: no such database file")
        source = sqlite3.connect(f"file:{database.path}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # one consistent snapshot, writers carry on meanwhile
        finally:
            copy.close()
            source.close()
        return
    uri, env = database.libpq()
    _run(
        ["pg_dump", "--format=custom", f"--schema={database.schema}", f"--file={target}", f"--dbname={uri}"],
        env,
        "pg_dump",
    )


def _tables(database: Database, engine: Engine) -> list[str]:
    with engine.connect() as conn:
        if database.backend == "sqlite":
            return list(
                conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
            )
        return list(
            conn.scalars(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": database.schema},
            )
        )


def _schema_exists(engine: Engine, schema: str) -> bool:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}) > 0


def _load(database: Database, engine: Engine, dump: Path, dumped_schema: str | None) -> None:
    if database.backend == "sqlite":
        source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        target = sqlite3.connect(database.path, timeout=30)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    if dumped_schema != database.schema:
        raise BackupRefused(
            f"the archive holds PostgreSQL schema {dumped_schema!r} but the database URL's schema is "
            f"{database.schema!r}: restore into a database whose search_path names {dumped_schema!r}"
        )
    uri, env = database.libpq()
    listing = subprocess.run(["pg_restore", "--list", str(dump)], env=env, capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupRefused(f"pg_restore --list failed: {listing.stderr.strip()[-2000:]}")
    lines = listing.stdout.splitlines()
    if _schema_exists(engine, database.schema):  # empty but there (public always is): do not create it again
        schema_entry = re.compile(rf"^\d+; \d+ \d+ (SCHEMA|COMMENT) - (SCHEMA )?{re.escape(database.schema)}\b")
        lines = [line for line in lines if not schema_entry.match(line)]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as chosen:
        chosen.write("\n".join(lines) + "\n")
    try:
        _run(
            [
                "pg_restore",
                "--exit-on-error",
                "--single-transaction",  # all of it or nothing
                "--no-owner",
                "--no-privileges",
                f"--use-list={chosen.name}",
                f"--dbname={uri}",
                str(dump),
            ],
            env,
            "pg_restore",
        )
    finally:
        os.unlink(chosen.name)


# The archive -----------------------------------------------------------------------------------------


def atrium_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("atrium")
    except PackageNotFoundError:  # pragma: no cover - always installed
        return "unknown"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "_"


def deployed_files(session: Session) -> dict[str, bytes]:
    """Every deployed version of every process, form and translation, as files."""
    from storage.definitions import Form, ProcessDefinition
    from storage.translations import Translation

    files: dict[str, bytes] = {}
    for d in session.execute(
        select(ProcessDefinition.process_key, ProcessDefinition.version, ProcessDefinition.source_name)
        .add_columns(ProcessDefinition.bpmn_xml, ProcessDefinition.spec_json)
        .order_by(ProcessDefinition.process_key, ProcessDefinition.version)
    ):
        folder = f"processes/{_safe(d.process_key)}/v{d.version}"
        files[f"{folder}/{_safe(Path(d.source_name).name)}"] = d.bpmn_xml.encode()
        # The parsed spec as the engine runs it: it alone holds the DMN decision tables the process uses.
        files[f"{folder}/spec.json"] = d.spec_json.encode()
    for form in session.scalars(select(Form).order_by(Form.name, Form.version)):
        base = f"forms/{_safe(form.name)}/v{form.version}/{_safe(form.name)}"
        files[f"{base}-schema.json"] = json.dumps(form.schema, indent=2, ensure_ascii=False).encode()
        if form.ui_schema is not None:
            files[f"{base}-uischema.json"] = json.dumps(form.ui_schema, indent=2, ensure_ascii=False).encode()
    for t in session.scalars(select(Translation).order_by(Translation.kind, Translation.name, Translation.locale)):
        files[f"translations/{_safe(t.kind)}/{_safe(t.name)}.{_safe(t.locale)}.json"] = json.dumps(
            t.content, indent=2, ensure_ascii=False
        ).encode()
    return files


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o600
    tar.addfile(info, io.BytesIO(data))


def create_backup(engine: Engine, path: Path, *, passphrase: str | None = None, actor: str | None) -> dict:
    """Write the archive of `engine`'s database to `path` (written beside it, then renamed into place) and
    audit it (`backup.create`); returns the manifest."""
    from storage.migrate import current_revision

    database = Database.of(engine.url.render_as_string(hide_password=False))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created_at = clock.now()
    with tempfile.TemporaryDirectory(prefix="atrium-backup-", dir=path.parent) as work:
        work = Path(work)
        dump = work / "database"
        _dump(database, dump)
        revision = current_revision(engine)
        with Session(engine) as session:
            files = deployed_files(session)
        db_member = SQLITE_MEMBER if database.backend == "sqlite" else PG_MEMBER
        members = {db_member: {"sha256": _sha256_file(dump), "size": dump.stat().st_size}}
        for name, data in files.items():
            members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        manifest = {
            "format": FORMAT,
            "created_at": created_at.isoformat(),
            "atrium_version": atrium_version(),
            "schema_revision": revision,
            "database": {"backend": database.backend, "schema": database.schema, "member": db_member},
            "encrypted": passphrase is not None,
            # Where the metadata of wrapped data keys goes (key ids, algorithms, the id of the master key
            # that wraps them); never the master key itself. Empty until data is encrypted at rest.
            "key_metadata": {},
            "members": members,
        }
        plain = work / "archive.tar"
        mtime = created_at.timestamp()
        with tarfile.open(plain, "w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode(), mtime)
            info = tar.gettarinfo(dump, arcname=db_member)
            info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = mtime, 0o600, 0, 0, "", ""
            with open(dump, "rb") as data:
                tar.addfile(info, data)
            for name, data in files.items():
                _add(tar, name, data, mtime)
        partial = path.with_name(path.name + ".partial")
        if passphrase is not None:
            with open(partial, "wb") as sealed:
                encrypt_file(plain, sealed, passphrase)
        else:
            shutil.move(plain, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    with Session(engine) as session, session.begin():
        audit.record(
            session,
            "backup.create",
            actor=actor,
            target=f"backup:{path.name}",
            detail={
                "file": str(path)[:300],
                "size": path.stat().st_size,
                "sha256": _sha256_file(path),
                "schema_revision": revision,
                "encrypted": passphrase is not None,
            },
        )
    return manifest


@dataclass
class VerifiedArchive:
    manifest: dict
    database_file: Path  # extracted into the caller's work folder
    notes: list[str] = field(default_factory=list)


def verify_archive(path: Path, work: Path, *, passphrase: str | None = None) -> VerifiedArchive:
    """Read the archive whole: decrypt it, check the manifest and every member's SHA-256; the database
    dump is extracted into `work`. BackupRefused naming the member at fault."""
    path = Path(path)
    if not path.is_file():
        raise BackupRefused(f"{path}: no such file")
    if is_encrypted(path):
        if passphrase is None:
            raise BackupRefused(
                f"{path} is encrypted: give its passphrase (--passphrase-file or ATRIUM_BACKUP_PASSPHRASE)"
            )
        plain = work / "archive.tar"
        with open(plain, "wb") as target:
            decrypt_file(path, target, passphrase)
    else:
        plain = path
    manifest, seen, database_file, current = None, {}, None, None
    try:
        with tarfile.open(plain, "r:") as tar:
            for member in tar:
                current = member.name
                if not member.isfile():
                    raise BackupRefused(f"{path}: member {member.name!r} is not a regular file")
                if member.name in seen or (member.name == MANIFEST and manifest is not None):
                    raise BackupRefused(f"{path}: member {member.name!r} appears twice")
                source = tar.extractfile(member)
                if member.name == MANIFEST:
                    try:
                        manifest = json.loads(source.read())
                    except ValueError as exc:
                        raise BackupRefused(f"{path}: member {MANIFEST} is damaged: {exc}") from None
                    continue
                digest = hashlib.sha256()
                sink = None
                if manifest is not None and member.name == manifest.get("database", {}).get("member"):
                    database_file = work / "database"
                    sink = open(database_file, "wb")
                try:
                    for chunk in iter(lambda: source.read(1024 * 1024), b""):
                        digest.update(chunk)
                        if sink:
                            sink.write(chunk)
                finally:
                    if sink:
                        sink.close()
                seen[member.name] = digest.hexdigest()
    except tarfile.TarError as exc:
        where = f"at or after member {current!r}" if current else "at its start"
        raise BackupRefused(f"{path}: the archive is damaged {where}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupRefused(f"{path}: no {MANIFEST} of format {FORMAT} at its start: not an Atrium backup")
    listed = manifest.get("members") or {}
    for name, entry in listed.items():
        if name not in seen:
            raise BackupRefused(f"{path}: member {name!r} listed in the manifest is missing")
        if seen[name] != entry.get("sha256"):
            raise BackupRefused(f"{path}: member {name!r} fails its SHA-256 checksum: the archive is damaged")
    extra = sorted(set(seen) - set(listed))
    if extra:
        raise BackupRefused(f"{path}: member {extra[0]!r} is not in the manifest")
    if database_file is None:
        raise BackupRefused(f"{path}: the database member is missing")
    return VerifiedArchive(manifest, database_file)


def _verify_audit_chain(engine: Engine, secret_key: str | None) -> str | None:
    """The one place a restore checks the restored audit trail's hash chain (atrium.audit_chain); returns a
    note to print when it could not (an archive older than the chain). BackupRefused when the chain is broken.
    `secret_key` checks the signed checkpoints retention leaves (the app's signing key)."""
    from atrium import audit_chain
    from storage.migrate import current_revision, head_revision

    if current_revision(engine) != head_revision(engine):
        return "note: the archive predates this Atrium's schema: run `atrium migrate`, then `atrium audit verify`"
    with Session(engine) as session:
        result = audit_chain.verify(session, secret_key=secret_key)
    if not result.ok:
        raise BackupRefused(
            f"the restored audit trail's hash chain does not verify ({result.summary()}); the data is restored "
            "but its audit trail was altered before the backup"
        )
    return None


def restore_backup(
    engine: Engine, path: Path, *, passphrase: str | None = None, actor: str | None, secret_key: str | None = None
) -> dict:
    """Restore the archive at `path` into `engine`'s database, which must be empty; nothing is changed until
    the archive verifies whole. Audited (`backup.restore`) in the restored database. Returns a summary with
    `notes` to show (an older schema revision to migrate, an audit chain that could not be verified)."""
    from storage.migrate import alembic_config, current_revision, head_revision

    database = Database.of(engine.url.render_as_string(hide_password=False))
    tables = _tables(database, engine) if database.backend == "postgresql" or database.path.exists() else []
    if tables:
        where = f"schema {database.schema}" if database.schema else str(database.path)
        raise BackupRefused(
            f"the database ({where}) is not empty ({len(tables)} tables, e.g. {sorted(tables)[0]}): restore only "
            "into an empty database; nothing was changed"
        )
    with tempfile.TemporaryDirectory(prefix="atrium-restore-") as work:
        archive = verify_archive(Path(path), Path(work), passphrase=passphrase)
        manifest = archive.manifest
        backend = manifest["database"]["backend"]
        if backend != database.backend:
            raise BackupRefused(f"the archive holds a {backend} database; the target is {database.backend}")
        revision = manifest.get("schema_revision")
        from alembic.script import ScriptDirectory

        scripts = ScriptDirectory.from_config(alembic_config(engine))
        try:
            known = revision is not None and scripts.get_revision(revision) is not None
        except Exception:
            known = False
        if not known:
            raise BackupRefused(
                f"the archive's schema revision {revision!r} is unknown to this Atrium "
                f"({atrium_version()}): restore it with the Atrium version that made it "
                f"({manifest.get('atrium_version')})"
            )
        engine.dispose()
        _load(database, engine, archive.database_file, manifest["database"].get("schema"))
    engine.dispose()  # SQLite: connections opened before the copy must not keep a stale view
    restored = current_revision(engine)
    if restored != revision:
        raise BackupRefused(f"the restored database is at schema revision {restored}, the manifest says {revision}")
    notes = []
    chain_note = _verify_audit_chain(engine, secret_key)
    if chain_note:
        notes.append(chain_note)
    if revision != head_revision(engine):
        notes.append(f"the database is at schema revision {revision}: run `atrium migrate` to bring it up to date")
    with Session(engine) as session, session.begin():
        audit.record(
            session,
            "backup.restore",
            actor=actor,
            target=f"backup:{Path(path).name}",
            detail={
                "file": str(path)[:300],
                "created_at": manifest.get("created_at"),
                "atrium_version": manifest.get("atrium_version"),
                "schema_revision": revision,
            },
        )
    return {"manifest": manifest, "notes": notes}


# Scheduled backups -----------------------------------------------------------------------------------


def archives(directory: Path) -> list[tuple[datetime, Path]]:
    """The scheduled archives in `directory`, oldest first, by the firing their name carries."""
    found = []
    for path in directory.glob("atrium-backup-*"):
        named = ARCHIVE_NAME.match(path.name)
        if named and path.is_file():
            found.append((datetime.strptime(named.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc), path))
    return sorted(found)


def _next_firing(cron: str, after: datetime) -> datetime:
    from apscheduler.triggers.cron import CronTrigger

    fire = CronTrigger.from_crontab(cron, timezone=timezone.utc).get_next_fire_time(None, after + timedelta(seconds=1))
    if fire is None:
        raise BackupRefused(f"ATRIUM_BACKUP_CRON {cron!r} never fires")
    return fire.astimezone(timezone.utc)


def check_cron(cron: str) -> None:
    """Raise ValueError for a cron expression that is not 5 valid fields."""
    from apscheduler.triggers.cron import CronTrigger

    if len(cron.split()) != 5:
        raise ValueError(f"ATRIUM_BACKUP_CRON: {cron!r} is not a 5-field cron expression")
    CronTrigger.from_crontab(cron)


@contextmanager
def _directory_lock(directory: Path):
    """True while this process alone writes scheduled archives in `directory` (several workers poll)."""
    with open(directory / ".atrium-backup.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def scheduled_backup(process_engine, *, since: datetime) -> Path | None:
    """The scheduler's job: when ATRIUM_BACKUP_CRON has fired since the newest archive in ATRIUM_BACKUP_DIR
    (or since `since`, the scheduler's start, when there is none), write one archive named for the latest
    firing (missed firings are coalesced), then remove the oldest beyond ATRIUM_BACKUP_KEEP. Returns the
    archive written, if any. Every worker polls; a lock on the folder and the firing in the name make one
    archive per firing."""
    settings = process_engine.settings
    if not settings.backup_cron:
        return None
    directory = Path(settings.backup_dir)
    directory.mkdir(parents=True, exist_ok=True)
    now = clock.now()
    with _directory_lock(directory) as mine:
        if not mine:
            return None
        existing = archives(directory)
        firing = _next_firing(settings.backup_cron, existing[-1][0] if existing else since)
        if firing > now:
            return None
        while (following := _next_firing(settings.backup_cron, firing)) <= now:
            firing = following
        suffix = ".tar.enc" if settings.backup_passphrase else ".tar"
        path = directory / f"atrium-backup-{firing:%Y%m%dT%H%M%SZ}{suffix}"
        create_backup(
            process_engine.sessions.kw["bind"], path, passphrase=settings.backup_passphrase, actor=audit.SCHEDULER
        )
        for _, old in archives(directory)[: -settings.backup_keep] if settings.backup_keep > 0 else []:
            old.unlink()
        return path
