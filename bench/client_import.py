"""What an import costs now that every imported client is audited and an active one starts its follow-up
cycle in the import's transaction: `POST /api/clients/import` of the same number of generated clients as
prospects (audit rows only) and as active clients (audit rows and a `follow_up` instance each), side by
side in one run on PostgreSQL, through the real request path (the Flask app in-process).

Runs in its own schema, so it can run while other bench sections use `atrium_bench`."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from pathlib import Path

from api.app import create_app
from atrium import audit
from atrium.accounts import create_account
from atrium.cli import collect_files
from atrium.settings import Settings
from engine.deployments import deploy
from engine.sample_data import sample_client

from . import common
from .common import database_url, fresh_database, schema_url

SCHEMA = f"{common.SCHEMA}_import"
PASSWORD = "bench-password-123"
ROOT = Path(__file__).resolve().parent.parent


def _csv(rows: int, status: str, rng: random.Random, batch: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Company", "Status", "Phone", "Email"])
    for n in range(rows):
        client = sample_client(rng)
        # Distinct names, phones and emails, so no row is a duplicate (duplicates are refused, not timed here).
        k = (batch * 2 + (status == "active")) * rows + n
        writer.writerow([f"{client['name']} {k}", status, f"+86 13{k:09d}", f"client{k}@bench.example"])
    return out.getvalue().encode()


def run(rows: int = 1000, rounds: int = 3) -> dict:
    """Import `rounds` files of `rows` prospects and as many of active clients, alternating; ms per row."""
    rng = random.Random(5)
    fresh_database(SCHEMA).dispose()
    settings = Settings(database_url=schema_url(SCHEMA), secret_key="bench-secret", import_max_rows=rows)
    app = create_app(settings)
    engine = app.extensions["atrium.engine"]
    with engine.transaction() as session:
        create_account(session, username="importer", password=PASSWORD, roles=["manager"], actor=audit.SYSTEM)
        deploy(engine, session, collect_files([ROOT / "processes"], ROOT / "forms"), actor=audit.SYSTEM)
    http = app.test_client()
    token = http.post("/api/auth/token", json={"username": "importer", "password": PASSWORD}).json["access_token"]
    mapping = json.dumps({"Company": "name", "Status": "status", "Phone": "phones", "Email": "emails"})
    timings: dict[str, list[float]] = {"prospect": [], "active": []}
    try:
        for batch in range(rounds):
            for status in ("prospect", "active"):
                content = _csv(rows, status, rng, batch)
                began = time.perf_counter()
                response = http.post(
                    "/api/clients/import",
                    headers={"Authorization": f"Bearer {token}"},
                    content_type="multipart/form-data",
                    data={"file": (io.BytesIO(content), "clients.csv"), "mapping": mapping},
                )
                elapsed = time.perf_counter() - began
                assert response.status_code == 200, response.json
                assert len(response.json["client_ids"]) == rows, response.json
                timings[status].append(elapsed * 1000 / rows)
    finally:
        app.extensions["atrium.db"].dispose()
    prospect, active = min(timings["prospect"]), min(timings["active"])
    return {
        "rows": rows,
        "prospect_ms_per_row": prospect,
        "active_ms_per_row": active,
        "ratio": active / prospect,
        "database": database_url().split("@")[-1],
        "load_average": os.getloadavg()[0],
    }
