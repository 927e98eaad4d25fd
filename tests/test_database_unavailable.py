"""The database out of reach (restarting, refusing logins): requests answer 503 problem+json with
Retry-After, never a 500 or a stack trace, and the same app serves again once the database is back,
without a restart. Real PostgreSQL: the app logs in as a role of its own, which the test stops from
logging in and whose connections it ends (what a database restart does to every node)."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import make_engine

from .api_helpers import caller, make_app
from .conftest import PG_SCHEMA


def test_requests_answer_503_while_the_database_refuses_and_work_again_after(pg, services):
    role = f"atrium_down_{uuid.uuid4().hex[:8]}"
    with pg.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA {PG_SCHEMA} TO {role}"))
        conn.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA {PG_SCHEMA} TO {role}"))
        conn.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA {PG_SCHEMA} TO {role}"))
    as_role = make_engine(make_url(pg.url).set(username=role).render_as_string(hide_password=False))
    try:
        app = make_app(as_role, services)
        partner = caller(app.test_client(), "partner")
        assert partner.get("/api/clients").status_code == 200

        with pg.begin() as conn:
            conn.execute(text(f"ALTER ROLE {role} NOLOGIN"))
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"))
        for method, url in (("get", "/api/clients"), ("post", "/api/clients")):
            down = getattr(partner, method)(url, json={"name": "Nobody Ltd"} if method == "post" else None)
            assert down.status_code == 503, (url, down.status_code, down.get_data(as_text=True)[:300])
            assert down.headers["Content-Type"] == "application/problem+json"
            assert down.headers["Retry-After"] == "5"
            assert down.json["type"].endswith("/database-unavailable")
            assert "Traceback" not in down.get_data(as_text=True) and role not in down.get_data(as_text=True)
        chinese = partner.get("/api/clients", headers={"Accept-Language": "zh-CN"})
        assert chinese.status_code == 503 and chinese.json["title"] == "服务暂不可用"

        with pg.begin() as conn:
            conn.execute(text(f"ALTER ROLE {role} LOGIN"))
        assert partner.get("/api/clients").status_code == 200  # the same app, no restart
    finally:
        as_role.dispose()
        with pg.begin() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"))
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
