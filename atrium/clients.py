"""Clients, the one home of their rules: who sees which, and every change to one (create, update,
delete, restore; imports and merges build on these) with what goes with it in the same transaction:
its derived search fields and identifiers, its status history, its follow-up cycle (atrium/follow_up_cycles:
an active client keeps one, any other client none) and its audit row. Whoever changes a client (an API
view, a BPMN service task, an import, the CLI, demo seeding) calls these functions with the process engine
and the acting username; callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable

import jsonschema
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from atrium import audit, clock, events, follow_up_cycles
from atrium.errors import Conflict, DuplicateFound, InvalidInput, NotFound
from storage.accounts import Account
from storage.client_records import Engagement
from storage.clients import (
    CLIENT_KEY_PREFIX,
    Client,
    add_new_clients,
    client_business_key,
    client_or_none,
    duplicate_candidates,
    record_status,
    refresh_derived,
)
from storage.firm_settings import CLIENT_CUSTOM_FIELDS, setting_value
from storage.instances import ACTIVE, ERROR, ProcessInstance

CLIENT_FIELDS = (
    "kind",
    "name",
    "industry",
    "tier",
    "status",
    "owner",
    "tags",
    "phones",
    "emails",
    "addresses",
    "notes",
    "custom_fields",
    "locale",
)


def client_target(client_id: int) -> str:
    """A client as an audit row's target."""
    return f"client:{client_id}"


def visible_owners(session: Session, account, *, sees_all: bool) -> set[str] | None:
    """None when `account` sees every client (`sees_all`, from its roles); else the owners whose
    clients it sees: itself and the accounts sharing one of its groups (its teams)."""
    if sees_all:
        return None
    owners = {account.username}
    teams = set(account.groups)
    if teams:
        for username, groups in session.execute(select(Account.username, Account.groups)):
            if teams & set(groups or []):
                owners.add(username)
    return owners


def record_read_other_team(session: Session, client, account, *, sees_all: bool) -> bool:
    """Audit a privileged read (`sees_all`: clients:read_all) of a client owned outside the reader's teams
    as `client.read_other_team`; returns whether it was one. Reads within one's teams are not recorded."""
    if not sees_all or client.owner in visible_owners(session, account, sees_all=False):
        return False
    audit.record(
        session,
        "client.read_other_team",
        actor=account.username,
        target=f"client:{client.id}",
        detail={"owner": client.owner},
    )
    return True


def sees_client(owners: set[str] | None, owner: str | None) -> bool:
    """Whether someone who sees the clients of `owners` (None: every client) sees a client owned by `owner`."""
    return owners is None or owner in owners


def owners_visible_to_username(session: Session, username: str | None) -> set[str] | None:
    """`visible_owners` for an account known by name, outside a request (a process step acting for the
    person who started it); None (no person: a timer or a message) sees every client, and an unknown
    account sees none."""
    # The role matrix has one home, the API's permissions; imported here, not at the top, because
    # the API imports the engine whose handlers call this.
    from api.permissions import has_permission

    if username is None:
        return None
    account = session.scalar(select(Account).where(Account.username == username, Account.active))
    if account is None:
        return set()
    return visible_owners(session, account, sees_all=has_permission(account.roles, "clients:read_all"))


def visible_client_or_none(
    session: Session, client_id: int, owners: set[str] | None, *, include_deleted: bool = False
) -> Client | None:
    """The client, if it exists and its owner is in `owners` (None: any); else None, whichever it was."""
    client = client_or_none(session, client_id, include_deleted=include_deleted)
    return client if client is not None and sees_client(owners, client.owner) else None


def visible_client_or_raise(
    session: Session, client_id: int, owners: set[str] | None, *, include_deleted: bool = False
) -> Client:
    """The client, if it exists and its owner is in `owners` (None: any); one you may not see is reported missing."""
    client = visible_client_or_none(session, client_id, owners, include_deleted=include_deleted)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    return client


def check_client_business_key(session: Session, business_key: str | None, owners: set[str] | None) -> None:
    """Refuse (422 naming `business_key`) a key `client:N` for a client not owned by `owners` (None: any
    live client), in the same words as for a client that does not exist; other keys are free text."""
    if not business_key or not business_key.startswith(CLIENT_KEY_PREFIX):
        return
    number = business_key[len(CLIENT_KEY_PREFIX) :]
    if not (
        number.isascii()
        and number.isdigit()
        and len(number) <= 18
        and visible_client_or_none(session, int(number), owners) is not None
    ):
        raise InvalidInput(
            f"business_key {business_key} names no client you may see", {"business_key": ["no such client"]}
        )


# Who looks into a match its requester may not see: partners see every client and merge duplicates.
RESOLVED_BY = "partner"


def withheld(count: int, what: str) -> dict:
    """What someone is told of `count` matches (duplicates, conflicts) with clients they may not see:
    that they exist and who resolves them, never which clients they are."""
    return {
        "count": count,
        "resolved_by": RESOLVED_BY,
        "detail": f"{count} {what} with {'a client' if count == 1 else 'clients'} you may not see; "
        f"a {RESOLVED_BY} can look into {'it' if count == 1 else 'them'}",
    }


OWNER_MUST_BE_ACTIVE = "must name an active account"


def active_usernames(session: Session, usernames: set[str]) -> set[str]:
    """Which of `usernames` are active accounts: who may own clients."""
    if not usernames:
        return set()
    return set(session.scalars(select(Account.username).where(Account.username.in_(usernames), Account.active)))


def _check_owner(session: Session, owner: str | None) -> None:
    if owner is not None and not active_usernames(session, {owner}):
        raise InvalidInput(f"owner {owner} is not an active account", {"owner": [OWNER_MUST_BE_ACTIVE]})


def custom_field_errors(validator: jsonschema.Validator, values: dict) -> dict[str, list[str]]:
    """Field path (custom_fields.<name>) -> messages, from the firm's custom-field schema `validator`."""
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(values):
        path = ".".join(["custom_fields", *(str(p) for p in error.absolute_path)])
        errors.setdefault(path, []).append(error.message)
    return errors


def custom_field_validator(session: Session) -> jsonschema.Validator | None:
    schema = setting_value(session, key=CLIENT_CUSTOM_FIELDS)
    return jsonschema.Draft202012Validator(schema) if schema else None


def _check_custom_fields(session: Session, values: dict) -> None:
    validator = custom_field_validator(session)
    errors = custom_field_errors(validator, values) if validator else {}
    if errors:
        raise InvalidInput("custom fields do not match the firm's schema", errors)


def _duplicates_error(matches: Iterable[tuple[Client, list[str]]], owners: set[str] | None) -> DuplicateFound:
    """The 409 for likely duplicates: candidates the caller may see in full, the others only counted."""
    matches = list(matches)
    candidates = [
        {"id": c.id, "name": c.name, "owner": c.owner, "status": c.status, "matched_on": kinds}
        for c, kinds in matches
        if sees_client(owners, c.owner)
    ]
    hidden = len(matches) - len(candidates)
    found = [f"{len(candidates)} existing client(s)"] if candidates else []
    if hidden:
        found.append(
            f"{hidden} {'more ' if candidates else ''}client(s) you may not see (a {RESOLVED_BY} can look into them)"
        )
    return DuplicateFound(
        f"{' and '.join(found)} match this one; send confirm_duplicate=true to create it anyway, or merge",
        candidates,
        withheld=withheld(hidden, "possible duplicate(s)") if hidden else None,
    )


def _assign(session: Session, client: Client, data: dict) -> None:
    for name in CLIENT_FIELDS:
        if name in data:
            setattr(client, name, data[name])
    _check_owner(session, client.owner)
    _check_custom_fields(session, client.custom_fields or {})


def blank_client(*, actor: str | None) -> Client:
    """A new client row with the defaults every way of creating one starts from."""
    now = clock.now()
    return Client(
        kind="organisation",
        tier="C",
        status="prospect",
        tags=[],
        phones=[],
        emails=[],
        addresses=[],
        custom_fields={},
        created_at=now,
        updated_at=now,
        created_by=actor,
    )


def _cycle(outcome: str | None) -> dict:
    """What happened to the follow-up cycle, for an audit row's detail ("started", "cancelled"; nothing)."""
    return {"follow_up_cycle": outcome} if outcome else {}


def client_event_data(client: Client) -> dict:
    """What the finance system hears of a client (events `client.created` and `client.changed`): enough for
    its customer record, none of the contact details."""
    return {
        "client_id": client.id,
        "kind": client.kind,
        "name": client.name,
        "status": client.status,
        "tier": client.tier,
        "owner": client.owner,
        "industry": client.industry,
        "locale": client.locale,
    }


def _created(
    session: Session, engine, client: Client, *, actor: str | None, detail: dict, cycle: str | bool | None = True
) -> None:
    """What goes with every new client once it has an id: its cycle (started here unless `cycle` says
    what already happened to it), its audit row and its event."""
    outcome = follow_up_cycles.sync_cycle(engine, session, client, actor=actor) if cycle is True else cycle
    events.emit(
        session,
        "client.created",
        aggregate=("client", client.id),
        data=client_event_data(client),
        actor=actor,
        first=True,
    )
    audit.record(
        session,
        "client.create",
        actor=actor,
        target=client_target(client.id),
        detail={
            "kind": client.kind,
            "status": client.status,
            "tier": client.tier,
            "owner": client.owner,
            **detail,
            **_cycle(outcome),
        },
    )


def create_client(
    session: Session,
    engine,
    *,
    data: dict,
    actor: str | None,
    confirm_duplicate: bool = False,
    owners: set[str] | None = None,
    created_by: str | None = None,
    source: str | None = None,
    detail: dict | None = None,
) -> Client:
    """A new client; a likely duplicate is refused (409 with the candidates) unless confirmed. The
    refusal names only candidates owned by `owners` (the caller's visible owners; None: all) and
    counts the others. An active client's follow-up cycle starts (with `engine`, when `follow_up` is
    deployed), and the audit row (`client.create` by `actor`, with `source` and `detail`) is written.
    `created_by` (default `actor`) is whom the record names as its creator (an onboarding's requester)."""
    client = blank_client(actor=actor if created_by is None else created_by)
    _assign(session, client, data)
    if not confirm_duplicate:
        matches = duplicate_candidates(session, client)
        if matches:
            raise _duplicates_error(matches, owners)
    session.add(client)
    refresh_derived(session, client)
    record_status(session, [client], from_status=None, actor=actor)
    _created(
        session,
        engine,
        client,
        actor=actor,
        detail={"confirmed_duplicate": confirm_duplicate, **({"source": source} if source else {}), **(detail or {})},
    )
    return client


def add_clients(session: Session, engine, clients: list[Client], *, actor: str | None, source: str) -> None:
    """New clients already checked (an import): added in bulk, each with its status history, cycle and
    audit row (detail `source`)."""
    add_new_clients(session, clients)
    record_status(session, clients, from_status=None, actor=actor)
    for client, outcome in follow_up_cycles.start_new_cycles(engine, session, clients, actor=actor):
        _created(session, engine, client, actor=actor, detail={"source": source}, cycle=outcome)


def change_client(
    session: Session, engine, client: Client, *, data: dict, actor: str | None
) -> tuple[dict, str | None]:
    """Change fields of `client` without an audit row of its own (a merge writes one for all it did):
    derived fields, status history and follow-up cycle follow. Returns what changed (`audit.changes`,
    personal fields masked) and what happened to the cycle."""
    before = audit.snapshot(client, CLIENT_FIELDS)
    status = client.status
    _assign(session, client, data)
    client.updated_at = clock.now()
    refresh_derived(session, client)
    if client.status != status:
        record_status(session, [client], from_status=status, actor=actor)
    outcome = follow_up_cycles.sync_cycle(engine, session, client, actor=actor)
    changed = audit.changes(before, audit.snapshot(client, CLIENT_FIELDS))
    if changed:
        events.emit(
            session,
            "client.changed",
            aggregate=("client", client.id),
            data={**client_event_data(client), "changed": sorted(changed)},
            actor=actor,
        )
    return changed, outcome


def update_client(
    session: Session, engine, client: Client, *, data: dict, actor: str | None, expected_version: int | None = None
) -> Client:
    """Change fields of `client` (a new status goes into its status history, as `actor`'s change; the
    follow-up cycle starts or ends with `active`); with `expected_version`, refuse (409) if someone changed
    it since. The audit row (`client.update`) lists each changed field with its old and new value."""
    if expected_version is not None and expected_version != client.version:
        raise Conflict(
            f"client {client.id} was changed by someone else (version {client.version}, you sent "
            f"{expected_version}); reload and try again"
        )
    changes, outcome = change_client(session, engine, client, data=data, actor=actor)
    audit.record(
        session,
        "client.update",
        actor=actor,
        target=client_target(client.id),
        detail={"changes": changes, **_cycle(outcome)},
    )
    return client


def open_work_of(session: Session, client: Client) -> list[str]:
    """Why the client cannot be deleted: its engagements and open processes (its follow-up cycle, which
    ends with it, is none)."""
    reasons = []
    engagements = session.scalar(select(exists().where(Engagement.client_id == client.id)))
    if engagements:
        reasons.append("it has engagements")
    running = session.scalar(
        select(
            exists().where(
                ProcessInstance.business_key == client_business_key(client.id),
                ProcessInstance.status.in_((ACTIVE, ERROR)),
                ProcessInstance.process_key.notin_(follow_up_cycles.CYCLE_PROCESS_KEYS),
            )
        )
    )
    if running:
        reasons.append("it has open process instances")
    return reasons


def remove_client(session: Session, engine, client: Client, *, actor: str) -> str | None:
    """Soft-delete `client` without an audit row of its own (a merge writes one): refused (409) while it
    has engagements or open processes; its follow-up cycle is cancelled. Returns what happened to the cycle."""
    reasons = open_work_of(session, client)
    if reasons:
        raise Conflict(f"client {client.id} cannot be deleted: {' and '.join(reasons)}")
    outcome = follow_up_cycles.sync_cycle(engine, session, client, actor=actor, deleting=True)
    client.deleted_at = clock.now()
    client.deleted_by = actor
    return outcome


def delete_client(session: Session, engine, client: Client, *, actor: str) -> Client:
    """Soft delete: hidden everywhere, restorable by admins, until data destruction. Its follow-up cycle
    is cancelled; the audit row is `client.delete`."""
    outcome = remove_client(session, engine, client, actor=actor)
    audit.record(
        session,
        "client.delete",
        actor=actor,
        target=client_target(client.id),
        detail=_cycle(outcome),
    )
    return client


def restore_client(session: Session, engine, client_id: int, *, actor: str) -> Client:
    """Bring back a soft-deleted client; an active one gets a new follow-up cycle. Audited as `client.restore`."""
    client = client_or_none(session, client_id, include_deleted=True)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    if client.deleted_at is None:
        raise Conflict(f"client {client_id} is not deleted")
    if client.erased_at is not None:
        raise Conflict(f"client {client_id} was erased: its data is destroyed and it cannot be restored")
    client.deleted_at = None
    client.deleted_by = None
    client.updated_at = clock.now()
    outcome = follow_up_cycles.sync_cycle(engine, session, client, actor=actor)
    audit.record(
        session,
        "client.restore",
        actor=actor,
        target=client_target(client.id),
        detail=_cycle(outcome),
    )
    return client
