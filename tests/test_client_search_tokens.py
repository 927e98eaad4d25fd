"""The blind search tokens of clients' phones, emails and addresses (client_search_tokens): kept in step with
each client however it changes (create, update, merge, delete and restore, import), matched whole only, and
built from existing clients by migration 0021."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from storage import crypto
from storage.clients import refresh_derived, search_tokens
from storage.db import make_session_factory

from .api_helpers import client_body, people_in_two_teams
from .factories import make_client
from .test_client_encryption import raw_rows


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


def new_client(person, **fields) -> int:
    made = person.post("/api/clients", json=client_body(confirm_duplicate=True, **fields))
    assert made.status_code == 201, made.json
    return made.json["id"]


def names(person, q: str) -> list[str]:
    response = person.get("/api/clients", query_string={"q": q})
    assert response.status_code == 200, response.json
    return [c["name"] for c in response.json["items"]]


def stored_tokens(db, client_id: int) -> set[str]:
    return {t for (t,) in raw_rows(db, f"SELECT token FROM client_search_tokens WHERE client_id = {client_id}")}


def expected_tokens(db, **fields) -> set[str]:
    """The tokens a client with these phones, emails and addresses should have."""
    with make_session_factory(db)() as session:
        index_key = crypto.index_key(session)
    return search_tokens(SimpleNamespace(**{"phones": [], "emails": [], "addresses": [], **fields}), index_key)


def test_a_created_client_has_a_token_per_phone_run_email_domain_and_address_part_and_no_plaintext(people, db, keyring):
    client_id = new_client(
        people["partner"],
        phones=["+44 20 7946 0000"],
        emails=["info@harbour.example"],
        addresses=[{"street": "1 Quay St", "city": "Bristol"}],
    )
    tokens = stored_tokens(db, client_id)
    assert tokens == expected_tokens(
        db,
        phones=["+44 20 7946 0000"],
        emails=["info@harbour.example"],
        addresses=[{"street": "1 Quay St", "city": "Bristol"}],
    )
    assert len(tokens) == 9 + 2 + 2  # 442079460000: nine 4-digit runs; email and domain; street and city
    assert raw_rows(db, f"SELECT search_text FROM clients WHERE id = {client_id}") == [("harbour logistics ltd",)]


def test_tokens_follow_an_update_and_the_old_values_are_no_longer_found(people, db, keyring):
    partner = people["partner"]
    client_id = new_client(partner)
    changed = partner.patch(
        f"/api/clients/{client_id}",
        json={"phones": ["+1 212 555 0100"], "emails": ["law@meridian.example"], "addresses": [{"city": "Leeds"}]},
    )
    assert changed.status_code == 200, changed.json
    assert stored_tokens(db, client_id) == expected_tokens(
        db, phones=["+1 212 555 0100"], emails=["law@meridian.example"], addresses=[{"city": "Leeds"}]
    )
    for old in ("7946 0000", "info@harbour.example", "harbour.example", "bristol"):
        assert names(partner, old) == [], old
    for new in ("555 0100", "law@meridian.example", "meridian.example", "leeds"):
        assert names(partner, new) == ["Harbour Logistics Ltd"], new


def test_a_deleted_client_is_not_found_by_its_tokens_until_restored(people, db, keyring):
    partner, admin = people["partner"], people["admin"]
    client_id = new_client(partner, status="prospect")
    assert partner.delete(f"/api/clients/{client_id}").status_code in (200, 204)
    assert names(partner, "info@harbour.example") == [] and names(partner, "7946 0000") == []
    assert admin.post(f"/api/clients/{client_id}/restore").status_code == 200
    assert names(partner, "info@harbour.example") == ["Harbour Logistics Ltd"]


def test_a_merge_gives_the_survivor_the_tokens_of_what_it_gained(people, db, keyring):
    partner = people["partner"]
    kept = new_client(partner, status="prospect")
    duplicate = new_client(
        partner, name="Harbour Logistics", status="prospect", phones=["0117 496 0123"], emails=["ops@quay.example"]
    )
    merged = partner.post(f"/api/clients/{kept}/merge", json={"from_client_id": duplicate})
    assert merged.status_code == 200, merged.json
    assert stored_tokens(db, kept) == expected_tokens(
        db,
        phones=["+44 20 7946 0000", "0117 496 0123"],
        emails=["info@harbour.example", "ops@quay.example"],
        addresses=[{"street": "1 Quay St", "city": "Bristol"}],
    )
    assert names(partner, "ops@quay.example") == names(partner, "496 0123") == ["Harbour Logistics Ltd"]


def test_imported_clients_get_their_tokens(people, db, keyring):
    content = "Company,Status,Phone,Email\nImported Ltd,prospect,+44 20 7946 1111,sales@imported.example\n"
    response = people["manager"].post(
        "/api/clients/import",
        content_type="multipart/form-data",
        data={
            "file": (io.BytesIO(content.encode()), "clients.csv"),
            "mapping": json.dumps({"Company": "name", "Status": "status", "Phone": "phones", "Email": "emails"}),
        },
    )
    assert response.status_code == 200, response.json
    [client_id] = response.json["client_ids"]
    assert stored_tokens(db, client_id) == expected_tokens(
        db, phones=["+44 20 7946 1111"], emails=["sales@imported.example"]
    )
    assert names(people["partner"], "imported.example") == names(people["partner"], "7946 1111") == ["Imported Ltd"]


def test_fragments_of_an_email_or_of_a_token_find_nothing(people, db, keyring):
    partner = people["partner"]
    client_id = new_client(partner, name="Quay Traders")
    for fragment in ("info@harbour", "nfo@harbour.example", "harbour.exam", "harbour", "info", "example"):
        assert names(partner, fragment) == [], fragment
    # The tokens are not in the name's searched text: a piece of one (hex digits) finds nothing either.
    for token in sorted(stored_tokens(db, client_id)):
        assert names(partner, token[2:7]) == [], token
    assert names(partner, "info@harbour.example") == ["Quay Traders"]


def test_migration_0021_builds_the_tokens_of_existing_clients_and_the_downgrade_puts_them_back(tmp_path, keyring):
    from alembic import command

    from storage.db import make_engine
    from storage.migrate import alembic_config, upgrade_to_head

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_to_head(engine)
    with make_session_factory(engine)() as session:
        client = make_client(
            session,
            name="Harbour Logistics Ltd",
            phones=["+44 20 7946 0000"],
            emails=["info@harbour.example"],
            addresses=[{"city": "Bristol"}],
        )
        refresh_derived(session, client)
        session.commit()
        client_id = client.id
    before = stored_tokens(engine, client_id)
    assert len(before) == 9 + 2 + 1
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0017")
    [(old_text,)] = raw_rows(engine, "SELECT search_text FROM clients")
    assert old_text.split("\n")[0] == "harbour logistics ltd"
    assert {t.lstrip("#") for t in old_text.split("\n")[1].split()} == before  # the tokens, as 0017 kept them
    with engine.begin() as conn:
        conn.execute(text("UPDATE clients SET search_text = :t"), {"t": old_text})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert stored_tokens(engine, client_id) == before
    assert raw_rows(engine, "SELECT search_text FROM clients") == [("harbour logistics ltd",)]
    engine.dispose()


def test_postgresql_finds_tokens_through_the_token_index(pg, keyring):
    """An email is looked up by equality in client_search_tokens' primary key, not by reading every token;
    a word in a name and an address both, through both indexes (an email in no name: the tokens alone)."""
    from sqlalchemy import event, select

    from storage.clients import Client, search_condition

    with make_session_factory(pg)() as session:
        client = make_client(
            session, name="Harbour London Ltd", emails=["info@harbour.example"], addresses=[{"city": "London"}]
        )
        refresh_derived(session, client)
        session.flush()
        email = search_condition("info@harbour.example", dialect="postgresql", session=session)
        word = search_condition("london", dialect="postgresql", session=session)
        for condition in (email, word):
            assert session.scalars(select(Client.name).where(condition)).all() == ["Harbour London Ltd"]
        session.execute(text("SET LOCAL enable_seqscan = off"))

        @event.listens_for(session.connection(), "before_cursor_execute", retval=True)
        def explain(conn, cursor, statement, parameters, context, executemany):
            return "EXPLAIN " + statement, parameters

        plans = "\n".join(session.scalars(select(Client.id).where(email)))
        assert "pk_client_search_tokens" in plans and "ix_clients_search_trgm" not in plans, plans
        plans = "\n".join(session.scalars(select(Client.id).where(word)))
        assert "pk_client_search_tokens" in plans and "ix_clients_search_trgm" in plans, plans


def token_rows(db, client_id: int) -> set[tuple[str, bool]]:
    """(name_key, live) of each of a client's token rows."""
    rows = raw_rows(db, f"SELECT name_key, live FROM client_search_tokens WHERE client_id = {client_id}")
    return {(name_key, bool(live)) for name_key, live in rows}


def test_token_rows_follow_their_clients_name_and_deletion(people, db, keyring):
    # A search by token sorts and filters on these copies (storage.clients._plain_search_page): a stale one
    # would list a deleted client, or out of order.
    partner, admin = people["partner"], people["admin"]
    client_id = new_client(partner, status="prospect")
    assert token_rows(db, client_id) == {("harbour logistics", True)}
    renamed = partner.patch(f"/api/clients/{client_id}", json={"name": "Quayside Freight Ltd"})
    assert renamed.status_code == 200, renamed.json
    assert token_rows(db, client_id) == {("quayside freight", True)}
    assert partner.delete(f"/api/clients/{client_id}").status_code in (200, 204)
    assert token_rows(db, client_id) == {("quayside freight", False)}
    assert admin.post(f"/api/clients/{client_id}/restore").status_code == 200
    assert token_rows(db, client_id) == {("quayside freight", True)}


def test_a_search_by_token_lists_pages_and_counts_as_the_list_does(people, monkeypatch, keyring):
    # The partner's search by an email domain is answered from the tokens' index (every live client, no
    # filter); an account manager's, from the clients they see: the same order, paging and capped count.
    import storage.clients

    partner, manager = people["partner"], people["account_manager"]
    for name, owner in (("delta", "account_manager"), ("Alpha", "am_audit"), ("charlie", "account_manager")):
        new_client(partner, name=f"{name} Freight", owner=owner, emails=[f"ops@{name}.example", "x@quay.example"])
    new_client(partner, name="Bravo Freight", owner="account_manager", emails=["x@quay.example"], phones=[])
    gone = new_client(partner, name="Aardvark Freight", status="prospect", emails=["x@quay.example"], phones=[])
    assert partner.delete(f"/api/clients/{gone}").status_code in (200, 204)

    def page(person, **params):
        response = person.get("/api/clients", query_string={"q": "quay.example", **params})
        assert response.status_code == 200, response.json
        body = response.json
        return [c["name"].split()[0] for c in body["items"]], body["total"], body["total_exact"]

    assert page(partner) == (["Alpha", "Bravo", "charlie", "delta"], 4, True)
    assert page(partner, sort="-name", page_size=3) == (["delta", "charlie", "Bravo"], 4, True)
    assert page(partner, page=2, page_size=3) == (["delta"], 4, True)
    assert page(partner, page=3, page_size=3) == ([], 4, True)
    assert page(manager) == (["Bravo", "charlie", "delta"], 3, True)
    monkeypatch.setattr(storage.clients, "COUNT_LIMIT", 2)
    pages = [page(partner, page=p, page_size=2) for p in (1, 2, 3)]
    assert pages == [(["Alpha", "Bravo"], 2, False), (["charlie", "delta"], 2, False), ([], 2, False)]
    assert page(manager, page=2, page_size=2) == (["delta"], 2, False)


def test_migration_0023_gives_existing_tokens_their_clients_name_and_state(tmp_path, keyring):
    from alembic import command

    from storage.clients import ClientSearchToken
    from storage.db import make_engine
    from storage.migrate import alembic_config, upgrade_to_head

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_to_head(engine)
    with make_session_factory(engine)() as session:
        kept = make_client(session, name="Harbour Logistics Ltd", emails=["info@harbour.example"])
        gone = make_client(session, name="Quay Traders", emails=["ops@quay.example"])
        for client in (kept, gone):
            refresh_derived(session, client)
        session.flush()
        gone.deleted_at = gone.created_at
        session.commit()
        ids = kept.id, gone.id
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0022")
    assert "name_key" not in {c["name"] for c in sa_inspect(engine).get_columns(ClientSearchToken.__tablename__)}
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert token_rows(engine, ids[0]) == {("harbour logistics", True)}
    assert token_rows(engine, ids[1]) == {("quay traders", False)}
    engine.dispose()
