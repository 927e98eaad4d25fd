"""Read replicas (ATRIUM_DATABASE_REPLICA_URL): client search, reports and health statistics read on the
replica; writes, and the audit row a report view leaves, stay on the primary.

On PostgreSQL the "replica" is the test database itself, reached through a URL whose sessions are
read-only (`default_transaction_read_only=on`): a write routed there fails. A statement listener on
each engine records which one served what. On SQLite there is no replica: everything reads on the
primary, as before."""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from .api_helpers import caller
from .factories import make_client


def _replica_url(primary) -> str:
    url = make_url(primary.url.render_as_string(hide_password=False))
    options = url.query.get("options", "")
    return url.update_query_dict({"options": f"{options} -cdefault_transaction_read_only=on".strip()}).render_as_string(
        hide_password=False
    )


def _record(engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn, _cursor, statement, *_):
        seen.append(" ".join(statement.split()).lower())

    return seen


def test_searches_reports_and_statistics_read_on_the_replica_and_writes_stay_on_the_primary(db, app_factory, request):
    replica_url = _replica_url(db) if db.dialect.name == "postgresql" else None
    app = app_factory(database_replica_url=replica_url)
    primary, replica = app.extensions["atrium.db"], app.extensions["atrium.replica_db"]
    assert (replica is None) == (replica_url is None)
    if replica is not None:
        request.addfinalizer(replica.dispose)
    on_primary = _record(primary)
    on_replica = _record(replica) if replica is not None else []
    client = app.test_client()
    partner = caller(client, "partner")

    created = make_client(partner, name="Harbour Logistics")  # a write: the primary
    assert on_replica == []
    assert any(s.startswith("insert into clients") for s in on_primary)

    del on_primary[:]
    found = partner.get("/api/clients?q=Harbour")
    assert found.status_code == 200, found.json
    assert [c["id"] for c in found.json["items"]] == [created["id"]]
    report = partner.get("/api/reports/monthly_client?from=2026-01-01&to=2026-01-31&format=json")
    assert report.status_code == 200, report.json
    statistics = partner.get("/api/health/statistics")
    assert statistics.status_code == 200, statistics.json
    audited = [s for s in on_primary if s.startswith("insert into audit")]
    assert audited, "the report view is audited on the primary"
    if replica is None:
        return
    # The replica served the search, the report's figures and the statistics, and nothing that writes.
    assert any("from clients" in s for s in on_replica)
    assert any("client_health" in s for s in on_replica)
    assert not any(s.startswith(("insert", "update", "delete")) for s in on_replica)
    # The primary only authenticated the caller and wrote the audit row: no client search ran there.
    assert not any("from clients" in s and "like" in s for s in on_primary)
    with app.extensions["atrium.engine"].read_transaction() as session:  # the replica refuses writes
        try:
            session.execute(text("CREATE TEMPORARY TABLE replica_probe (n int)"))
        except Exception as exc:
            session.rollback()
            assert "read-only" in str(exc)
        else:
            raise AssertionError("a write on the replica was accepted")
