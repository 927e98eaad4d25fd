"""The `atrium` command: serve, migrate, deploy, validate, demo, report run, backup, restore. Every command honours ATRIUM_DATABASE_URL."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date
from pathlib import Path

from sqlalchemy.engine import make_url

from atrium import audit, clock, i18n
from atrium.errors import AtriumError, DefinitionInvalid
from atrium.settings import Settings

BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn")
FORM_SUFFIXES = (".json",)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def collect_files(paths: list[Path], forms_dir: Path | None) -> list:
    """BPMN, DMN and form files from the given files and folders, plus the shared forms folder."""
    from engine.definitions import SourceFile

    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.name.lower().endswith(BPMN_SUFFIXES + FORM_SUFFIXES):
                    found[file.resolve()] = None
        elif path.is_file():
            found[path.resolve()] = None
            if path.name.lower().endswith(BPMN_SUFFIXES):
                # Its translation files sit beside it (approval.bpmn -> approval.zh-CN.json), and so do the
                # decision tables and forms it uses and the processes it calls, as when the folder is deployed.
                stem = path.name.split(".", 1)[0]
                for sibling in sorted(
                    [
                        *path.parent.glob(f"{stem}.*.json"),
                        *path.parent.glob("*.dmn"),
                        *_forms_beside(path),
                        *_called_processes_beside(path),
                    ]
                ):
                    found.setdefault(sibling.resolve(), None)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if forms_dir is not None and forms_dir.is_dir():
        for file in sorted(forms_dir.glob("*.json")):
            found.setdefault(file.resolve(), None)
    return [SourceFile(_display_name(file), file.read_bytes()) for file in found]


def _forms_beside(path: Path) -> list[Path]:
    from engine.translations import translation_file_parts

    return [f for f in path.parent.glob("*.json") if not translation_file_parts(f.name)]


def _called_processes_beside(path: Path) -> list[Path]:
    """The BPMN files in `path`'s folder that define the processes it calls (and those they call)."""
    from lxml import etree

    from engine.dialects import BPMN_NS

    def read(file: Path):
        try:
            return etree.parse(str(file), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
        except (etree.XMLSyntaxError, OSError):
            return None  # reported when the file itself is validated

    defines: dict[str, Path] = {}
    for sibling in sorted(path.parent.iterdir()):
        if sibling != path and sibling.is_file() and sibling.name.lower().endswith((".bpmn", ".bpmn20.xml")):
            root = read(sibling)
            for process in root.iter(f"{{{BPMN_NS}}}process") if root is not None else ():
                defines.setdefault(process.get("id"), sibling)
    needed, queue = [], [path]
    while queue:
        root = read(queue.pop())
        for call in root.iter(f"{{{BPMN_NS}}}callActivity") if root is not None else ():
            file = defines.get(call.get("calledElement"))
            if file is not None and file not in needed:
                needed.append(file)
                queue.append(file)
    return needed


def _display_name(file: Path) -> str:
    try:
        return str(file.relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _process_engine(settings: Settings):
    from engine.runtime import ProcessEngine
    from storage.db import make_engine, make_session_factory

    return ProcessEngine(make_session_factory(make_engine(settings.database_url)), settings=settings)


def cmd_migrate(args, settings: Settings) -> int:
    from storage.db import make_engine, make_session_factory
    from storage.migrate import current_revision, upgrade_to_head

    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade_to_head(engine)
    after = current_revision(engine)
    if before != after:  # the audit table exists from the first revision on
        with make_session_factory(engine).begin() as session:
            audit.record(
                session,
                "database.migrate",
                actor=audit.cli_actor(),
                target="database",
                detail={"from": before, "to": after},
            )
    if before == after:
        print(f"Database {_safe_url(settings.database_url)} is already at revision {after}.")
    else:
        print(f"Migrated {_safe_url(settings.database_url)} from revision {before or 'empty'} to {after}.")
    return 0


def cmd_validate(args, settings: Settings) -> int:
    from engine.definitions import parse_deployment
    from engine.handlers import register_all
    from engine.services import services

    register_all(services)

    files = collect_files([Path(p) for p in args.files], settings.forms_dir)
    result = parse_deployment(files, services=services, form_exists=lambda name: False)
    for problem in result.problems:
        print(problem)
    if result.problems:
        print(f"{len(result.problems)} problem(s) found.", file=sys.stderr)
        return 1
    keys = ", ".join(p.key for p in result.processes) or "none"
    print(f"OK: {len(result.processes)} process(es) valid ({keys}).")
    return 0


def cmd_deploy(args, settings: Settings) -> int:
    from engine.deployments import deploy

    paths = [Path(p) for p in args.paths] or [settings.processes_dir]
    files = collect_files(paths, settings.forms_dir)
    engine = _process_engine(settings)
    try:
        with engine.transaction() as session:
            result = deploy(engine, session, files, actor=audit.cli_actor())
    except DefinitionInvalid as exc:
        for problem in exc.problems:
            print(problem)
        print(f"Nothing deployed: {len(exc.problems)} problem(s).", file=sys.stderr)
        return 1
    for form, version, created in result.forms:
        if created:
            print(f"Deployed form {form} version {version}.")
    for kind, name, locale, created in result.translations:
        if created:
            print(f"Deployed the {locale} translation of {kind} {name}.")
    for definition in result.definitions:
        if definition.created:
            print(f"Deployed {definition.process_key} version {definition.version}.")
        else:
            print(f"{definition.process_key} version {definition.version} is unchanged.")
    for key, version, created in result.decisions:
        print(
            f"Deployed decision {key} version {version}."
            if created
            else f"Decision {key} version {version} is unchanged."
        )
    if not result.definitions and not result.decisions:
        print("No process definitions found in " + ", ".join(str(p) for p in paths) + ".")
    return 0


def cmd_demo(args, settings: Settings) -> int:
    from engine.demo import seed_demo

    engine = _process_engine(settings)
    with engine.transaction() as session:
        lines = seed_demo(engine, session, actor=audit.cli_actor())
    for line in lines:
        print(line)
    return 0


def cmd_user_create(args, settings: Settings) -> int:
    from atrium.accounts import create_account

    if not args.password_stdin:
        print("atrium user create: pass the password on standard input with --password-stdin", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n")
    engine = _process_engine(settings)
    with engine.transaction() as session:
        account = create_account(
            session,
            username=args.username,
            password=password,
            roles=args.role,
            groups=args.group,
            display_name=args.display_name,
            email=args.email,
            actor=audit.cli_actor(),
        )
    print(
        f"Created account {account.username} with roles {', '.join(account.roles)}"
        + (f" and groups {', '.join(account.groups)}." if account.groups else ".")
    )
    return 0


def cmd_integration_create(args, settings: Settings) -> int:
    """An integration account (a finance system) and its first key, printed once: only its hash is kept."""
    from atrium.integration_accounts import create_integration

    engine = _process_engine(settings)
    with engine.transaction() as session:
        integration, issued = create_integration(
            session, name=args.name, scopes=args.scope, description=args.description, actor=audit.cli_actor()
        )
    print(f"Created integration account {integration.name} with scopes {', '.join(integration.scopes)}.")
    print("Its API key (shown this once; send it as Authorization: Bearer <key> or X-API-Key):")
    print(issued.key)
    return 0


def cmd_user_totp_reset(args, settings: Settings) -> int:
    """Remove an account's second factor (a lost device), e.g. when the only admin lost theirs."""
    from atrium import second_factor

    engine = _process_engine(settings)
    with engine.transaction() as session:
        second_factor.reset(session, username=args.username, actor=audit.cli_actor())
    print(f"Removed the second factor of {args.username}: they log in with their password and enrol again.")
    return 0


def cmd_follow_ups_start(args, settings: Settings) -> int:
    from atrium.audit import cli_actor
    from atrium.follow_up_cycles import start_missing_cycles

    started = start_missing_cycles(_process_engine(settings), actor=cli_actor())
    print(f"Started the follow-up cycle of {started} active client(s) that had none.")
    return 0


def cmd_health_recompute(args, settings: Settings) -> int:
    from atrium.health import mail_at_risk_owners, recompute_health

    engine = _process_engine(settings)
    try:
        with engine.transaction() as session:
            scored = recompute_health(session, settings, client_ids=args.client or None, actor=audit.cli_actor())
            mailed = mail_at_risk_owners(session, settings, actor=audit.cli_actor()) if args.mail else []
    except DefinitionInvalid as exc:
        for problem in exc.problems:
            print(problem)
        print("Nothing computed: the deployed client_health table cannot be evaluated.", file=sys.stderr)
        return 1
    print(f"Scored the health of {scored} active client(s).")
    if args.mail:
        print(f"Mailed {len(mailed)} owner(s) their at-risk clients for this week.")
    return 0


def cmd_report_run(args, settings: Settings) -> int:
    from datetime import timedelta

    from atrium import clock
    from reports.making import Viewer, make, report_or_raise, resolve_filters

    report = report_or_raise(args.name)
    fmt = args.out.suffix.lstrip(".").lower()
    if fmt not in ("pdf", "html", "xlsx", "json"):
        raise RuntimeError(f"--out must end in .pdf, .html, .xlsx or .json, not {args.out.name}")
    parameters = {
        k: v
        for k, v in (
            ("owner", args.owner),
            ("team", args.team),
            ("service_type", args.service_type),
            ("process_key", args.process_key),
        )
        if v
    }
    engine = _process_engine(settings)
    with engine.transaction() as session:
        # The command line is the operator's: firm-wide figures unless filtered.
        filters = resolve_filters(
            session,
            Viewer("cli", ("admin",), args.locale),
            args.date_from,
            args.date_to + timedelta(days=1),
            parameters,
        )
        made = make(session, report, filters, fmt, generated_at=clock.now(), firm=settings.firm_name)
        # Client figures leave the database: the trail says which, for whom and where to.
        audit.record(
            session,
            "report.run",
            actor=audit.cli_actor(),
            target=f"report:{report.name}",
            detail={
                "from": args.date_from.isoformat(),
                "to": args.date_to.isoformat(),
                "format": fmt,
                "parameters": parameters,
                "out": str(args.out)[:300],
            },
        )
    if fmt == "json":
        made = json.dumps(made, ensure_ascii=False, indent=2)
    args.out.write_bytes(made if isinstance(made, bytes) else made.encode())
    print(f"Wrote {report.title_in(filters.locale)}, {args.date_from} to {args.date_to}, to {args.out}.")
    return 0


def _passphrase(args, settings: Settings) -> str | None:
    """--passphrase-file (its first line), else ATRIUM_BACKUP_PASSPHRASE, else none."""
    if args.passphrase_file is not None:
        lines = args.passphrase_file.read_text().splitlines()
        if not lines or not lines[0]:
            raise RuntimeError(f"{args.passphrase_file}: the passphrase file is empty")
        return lines[0]
    return settings.backup_passphrase


def cmd_backup(args, settings: Settings) -> int:
    from atrium.backup import create_backup
    from storage.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        manifest = create_backup(engine, args.file, passphrase=_passphrase(args, settings), actor=audit.cli_actor())
    finally:
        engine.dispose()
    print(
        f"Wrote {args.file}{' (encrypted)' if manifest['encrypted'] else ''}: {len(manifest['members'])} file(s), "
        f"{manifest['database']['backend']} database at schema revision {manifest['schema_revision']}."
    )
    return 0


def cmd_restore(args, settings: Settings) -> int:
    from atrium.backup import restore_backup
    from storage.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        restored = restore_backup(
            engine,
            args.file,
            passphrase=_passphrase(args, settings),
            actor=audit.cli_actor(),
            secret_key=settings.signing_key(),
        )
    finally:
        engine.dispose()
    manifest = restored["manifest"]
    print(
        f"Restored {args.file} (made {manifest['created_at']} by Atrium {manifest['atrium_version']}) into "
        f"{_safe_url(settings.database_url)}; all {len(manifest['members'])} checksums verified."
    )
    for note in restored["notes"]:
        print(note)
    return 0


def cmd_keys_rotate(args, settings: Settings) -> int:
    from atrium.encryption import rotate
    from storage import crypto
    from storage.db import make_engine, make_session_factory

    sessions = make_session_factory(make_engine(settings.database_url))
    done = rotate(sessions, batch=args.batch, actor=audit.cli_actor())
    print(f"Re-wrapped {done} key(s) under master key {crypto.keyring().current_id}; every key is now wrapped by it.")
    return 0


def cmd_audit_verify(args, settings: Settings) -> int:
    from atrium.audit_chain import verify
    from storage.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            result = verify(session, secret_key=settings.signing_key())
    finally:
        engine.dispose()
    print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _years(args, settings: Settings) -> int:
    years = args.years or settings.erase_after_years
    if not years:
        raise RuntimeError("no retention policy: set ATRIUM_ERASE_AFTER_YEARS or give --years")
    return years


def cmd_erasure_due(args, settings: Settings) -> int:
    """The retention policy's preview: which clients it erases within --within-days, and what blocks each."""
    from atrium.erasure import due_for_erasure

    years = _years(args, settings)
    engine = _process_engine(settings)
    with engine.transaction() as session:
        due = due_for_erasure(session, years=years, now=clock.now(), within_days=args.within_days)
    print(f"{len(due)} client(s) due for erasure within {args.within_days} day(s) ({years}-year policy):")
    for row in due:
        blocked = "; ".join(row["blockers"]) or "nothing blocks it"
        print(f"  client {row['client_id']}  {row['status']:<9} due {row['due_at']:%Y-%m-%d}  {blocked}")
    return 0


def cmd_erasure_run(args, settings: Settings) -> int:
    """Erase now every client the retention policy makes due (confirmed by the policy)."""
    from atrium.erasure import erase_due

    done = erase_due(_process_engine(settings), years=_years(args, settings), actor=audit.cli_actor())
    print(f"Erased {len(done)} client(s): " + (", ".join(str(e.client_id) for e in done) or "none due"))
    return 0


def cmd_serve(args, settings: Settings) -> int:
    from api.server import serve

    settings.check_production()
    from atrium.encryption import verify
    from storage.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    verify(make_session_factory(engine))  # a wrong master key stops the start, not the first request
    engine.dispose()
    print(f"Serving Atrium on http://{args.host}:{args.port} (database {_safe_url(settings.database_url)}).")
    serve(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def _integration_scopes() -> tuple[str, ...]:
    from atrium.integration_accounts import SCOPES

    return SCOPES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atrium", description="Atrium process service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the HTTP API and fire timers")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=None, help="worker processes (default ATRIUM_WORKERS or 2)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="bring the database schema to the latest revision").set_defaults(func=cmd_migrate)
    deploy = sub.add_parser("deploy", help="deploy BPMN, DMN and form files (default: processes/)")
    deploy.add_argument("paths", nargs="*")
    deploy.set_defaults(func=cmd_deploy)
    validate = sub.add_parser("validate", help="check BPMN/DMN/form files; prints file:line: element: message")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(func=cmd_validate)
    sub.add_parser("demo", help="demo accounts and instances so the inbox has work").set_defaults(func=cmd_demo)
    user = sub.add_parser("user", help="manage accounts").add_subparsers(dest="user_command", required=True)
    create = user.add_parser("create", help="create an account; the password is read from standard input")
    create.add_argument("--username", required=True)
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.add_argument("--role", action="append", required=True, help="repeat for several roles")
    create.add_argument("--group", action="append", default=[], help="repeat for several groups")
    create.add_argument("--display-name")
    create.add_argument("--email")
    create.set_defaults(func=cmd_user_create)
    totp_reset = user.add_parser("totp-reset", help="remove an account's second factor (a lost device)")
    totp_reset.add_argument("--username", required=True)
    totp_reset.set_defaults(func=cmd_user_totp_reset)
    integration = sub.add_parser("integration", help="integration accounts (machine clients)").add_subparsers(
        dest="integration_command", required=True
    )
    integration_create = integration.add_parser(
        "create", help="create an integration account and print its first API key (shown once)"
    )
    integration_create.add_argument("name", help="lower-case letters, digits, '.', '_' or '-'")
    integration_create.add_argument(
        "--scope", action="append", required=True, help="repeat for several: " + ", ".join(_integration_scopes())
    )
    integration_create.add_argument("--description")
    integration_create.set_defaults(func=cmd_integration_create)
    follow_ups = sub.add_parser("follow-ups", help="client follow-up cycles").add_subparsers(
        dest="follow_ups_command", required=True
    )
    follow_ups.add_parser(
        "start", help="start the follow-up cycle of every active client without one (after deploying follow_up)"
    ).set_defaults(func=cmd_follow_ups_start)
    health = sub.add_parser("health", help="client health scores").add_subparsers(dest="health_command", required=True)
    recompute = health.add_parser(
        "recompute", help="score every active client (or --client ones) with the newest deployed client_health table"
    )
    recompute.add_argument("--client", type=int, action="append", help="a client id (repeatable)")
    recompute.add_argument(
        "--mail", action="store_true", help="then mail owners their at-risk clients (once an ISO week)"
    )
    recompute.set_defaults(func=cmd_health_recompute)
    report = sub.add_parser("report", help="statistics and reports").add_subparsers(
        dest="report_command", required=True
    )
    run = report.add_parser("run", help="make a report for a period into a file (.pdf, .html, .xlsx or .json)")
    run.add_argument("name", help="monthly_client, service_performance, satisfaction or complaints")
    run.add_argument("--from", dest="date_from", type=date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
    run.add_argument("--to", dest="date_to", type=date.fromisoformat, required=True, help="last day (included)")
    run.add_argument("--out", type=Path, required=True, help="the file to write; its extension is the format")
    for name in ("owner", "team", "service-type", "process-key"):
        run.add_argument(f"--{name}")
    run.add_argument("--locale", choices=i18n.SUPPORTED, default=i18n.DEFAULT, help="the report's language (en)")
    run.set_defaults(func=cmd_report_run)
    for name, func, text in (
        ("backup", cmd_backup, "write a backup archive: database dump, deployed files, manifest of checksums"),
        ("restore", cmd_restore, "restore a backup archive into an empty database (checksums verified first)"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("file", type=Path)
        command.add_argument(
            "--passphrase-file",
            type=Path,
            help="encrypt (backup) or decrypt (restore) with the passphrase on this file's first line "
            "(default: ATRIUM_BACKUP_PASSPHRASE, if set)",
        )
        command.set_defaults(func=func)
    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True)
    rotate = keys.add_parser(
        "rotate",
        help="re-wrap every client's data key and every account's TOTP secret under ATRIUM_MASTER_KEY "
        "(old keys in ATRIUM_OLD_MASTER_KEYS)",
    )
    rotate.add_argument("--batch", type=int, default=500, help="keys per transaction (default 500)")
    rotate.set_defaults(func=cmd_keys_rotate)
    audit_commands = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser(
        "verify", help="walk the audit hash chain; names the first altered, deleted or out-of-order row"
    ).set_defaults(func=cmd_audit_verify)
    erasure = sub.add_parser("erasure", help="data destruction by the retention policy").add_subparsers(
        dest="erasure_command", required=True
    )
    due = erasure.add_parser("due", help="which clients the retention policy erases soon (a preview)")
    due.add_argument("--within-days", type=int, default=30, help="look this many days ahead (default 30)")
    run_erasure = erasure.add_parser("run", help="erase the clients the retention policy makes due now")
    for command, func in ((due, cmd_erasure_due), (run_erasure, cmd_erasure_run)):
        command.add_argument("--years", type=int, help="the policy's years (default: ATRIUM_ERASE_AFTER_YEARS)")
        command.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command != "validate":
            from atrium.encryption import install

            install(settings)  # in production, no master key: no start
        return args.func(args, settings)
    except (AtriumError, FileNotFoundError, RuntimeError) as exc:
        print(f"atrium {args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a command prints a sentence, not a traceback
        logging.getLogger("atrium").debug("command failed", exc_info=True)
        print(f"atrium {args.command}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
