"""Client search latency: `GET /api/clients` over 100,000 generated clients on PostgreSQL.

Clients come from `engine.sample_data` (half Chinese, half English; people and firms; phones,
emails, addresses, tiers, tags) and are owned by 40 account managers in 8 teams. Each query
kind is asked with needles drawn from the loaded data, through the real request path (the
Flask app in-process, with a bearer token), page_size 50 with the `total` count.

Runs in its own schema, so it can run while other bench sections use `atrium_bench`.
"""

from __future__ import annotations

import json
import os
import random
import time
from datetime import datetime, timedelta, timezone

from api.app import create_app
from atrium.accounts import hash_password
from atrium.settings import Settings
from engine.sample_data import sample_client

from . import common
from .client_rows import copy_clients
from .common import database_url, fresh_database, percentile, schema_url

SCHEMA = f"{common.SCHEMA}_clients"
PASSWORD = "bench-password-123"
TEAMS = [f"team{t}" for t in range(1, 9)]
MANAGERS = [f"am{t}{m}" for t in range(1, 9) for m in range(1, 6)]  # am11 .. am85: team t, member m
TARGET_MS = 50


def _team_of(username: str) -> str:
    return f"team{username[2]}"


def load(db, n: int, rng: random.Random) -> list[dict]:
    """COPY `n` clients (stored as the application stores them: bench.client_rows) and the accounts owning
    them into the fresh schema; returns the clients."""
    now = datetime.now(timezone.utc)
    clients = []
    for client_id in range(1, n + 1):
        fields = sample_client(rng)
        fields["id"] = client_id
        fields["owner"] = rng.choice(MANAGERS) if rng.random() < 0.95 else None
        fields["created_at"] = fields["updated_at"] = now - timedelta(days=rng.uniform(0, 5 * 365))
        fields["deleted_at"] = now if rng.random() < 0.02 else None
        clients.append(fields)
    password_hash = hash_password(PASSWORD)
    accounts = [("partner", ["partner"], []), ("admin", ["admin"], [])] + [
        (username, ["account_manager"], [_team_of(username)]) for username in MANAGERS
    ]
    raw = db.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(
            "COPY accounts (username, display_name, password_hash, active, roles, groups, failed_logins, "
            "created_at) FROM STDIN"
        ) as copy:
            for u, r, g in accounts:
                copy.write_row((u, u, password_hash, True, json.dumps(r), json.dumps(g), 0, now))
        copy_clients(db, cur, clients)
        raw.commit()
    finally:
        raw.close()
    # As autovacuum would have by then: statistics, and a visibility map for index-only scans.
    with db.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("clients", "client_keys", "client_identifiers", "client_search_tokens"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    return clients


def _fragment(rng: random.Random, text: str, shortest: int, longest: int) -> str:
    size = min(len(text), rng.randint(shortest, longest))
    start = rng.randint(0, len(text) - size)
    return text[start : start + size]


def _email_or_domain(rng: random.Random, email: str) -> str:
    return email if rng.random() < 0.5 else email.partition("@")[2]


def query_kinds(clients: list[dict], rng: random.Random, per_kind: int) -> dict[str, tuple[str, list[dict]]]:
    """Per kind of query: who asks, and `per_kind` query strings drawn from the loaded clients."""
    live = [c for c in clients if c["deleted_at"] is None]
    english = [c for c in live if c["name"].isascii()]
    cn_people = [c for c in live if not c["name"].isascii() and c["kind"] == "person"]
    cn_3 = [c for c in cn_people if len(c["name"]) == 3]

    def draw(make):
        return [make() for _ in range(per_kind)]

    def english_word():
        words = [w for w in rng.choice(english)["name"].split() if len(w) >= 4 and w not in ("Group", "Limited")]
        return words[0] if words else "Harbour"

    return {
        # The request's fixed cost in this run (login check, parsing, an empty search): on a shared machine
        # whose speed drifts, the other figures read against it.
        "(reference) q that finds nothing": (
            "partner",
            draw(lambda: {"q": "".join(rng.choice("qxzj") for _ in range(8))}),
        ),
        "name fragment, 3-6 letters": ("partner", draw(lambda: {"q": _fragment(rng, english_word(), 3, 6)})),
        "Chinese name, 2 characters": (
            "partner",
            draw(lambda: {"q": rng.choice(cn_3)["name"][rng.choice((0, 1)) :][:2]}),
        ),
        "Chinese name, 3 characters": ("partner", draw(lambda: {"q": rng.choice(cn_3)["name"]})),
        "Chinese surname, 1 character": ("partner", draw(lambda: {"q": rng.choice(cn_people)["name"][0]})),
        "phone fragment, 4-8 digits": (
            "partner",
            draw(
                lambda: {"q": _fragment(rng, "".join(ch for ch in rng.choice(live)["phones"][0] if ch.isdigit()), 4, 8)}
            ),
        ),
        "whole email or its domain (blind tokens)": (
            "partner",
            draw(lambda: {"q": _email_or_domain(rng, rng.choice(live)["emails"][0])}),
        ),
        "broad word (ltd, gmail, london, 北京, 有限公司)": (
            "partner",
            draw(lambda: {"q": rng.choice(["ltd", "gmail", "有限公司", "consulting", "london", "北京"])}),
        ),
        "no q, tier=A, sorted by name": ("partner", draw(lambda: {"tier": "A"})),
        "tag filter, newest first": (
            "partner",
            draw(lambda: {"tag": rng.choice(["vip", "referral", "at-risk"]), "sort": "-created"}),
        ),
        "account manager (own team): name fragment": (
            "am11",
            draw(lambda: {"q": _fragment(rng, english_word(), 3, 6)}),
        ),
        "account manager (own team): list by name": ("am11", draw(lambda: {})),
    }


def run(n: int = 100_000, per_kind: int = 60) -> dict:
    """Load `n` clients, then time every query kind; p50/p95 in milliseconds per kind."""
    rng = random.Random(11)
    db = fresh_database(SCHEMA)
    began = time.time()
    try:
        clients = load(db, n, rng)
    finally:
        db.dispose()
    load_s = time.time() - began
    app = create_app(Settings(database_url=schema_url(SCHEMA), secret_key="bench-secret"))
    http = app.test_client()
    tokens = {}
    results = {}
    try:
        for kind, (username, queries) in query_kinds(clients, rng, per_kind).items():
            if username not in tokens:
                login = http.post("/api/auth/token", json={"username": username, "password": PASSWORD})
                tokens[username] = {"Authorization": f"Bearer {login.json['access_token']}"}
            timings, totals = [], []
            for params in [queries[0], *queries]:  # the first one warms caches and is not counted
                params = {**params, "page_size": 50}
                t0 = time.perf_counter()
                response = http.get("/api/clients", query_string=params, headers=tokens[username])
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (params, response.json)
                totals.append(response.json["total"])
            timings, totals = timings[1:], totals[1:]
            results[kind] = {
                "p50_ms": percentile(timings, 50),
                "p95_ms": percentile(timings, 95),
                "median_total": int(percentile(totals, 50)),
                "max_total": max(totals),
                "example": queries[0],
            }
    finally:
        app.extensions["atrium.db"].dispose()
    # Latency on a busy machine says little: the load average is printed beside the figures.
    return {
        "clients": n,
        "load_s": load_s,
        "kinds": results,
        "database": database_url().split("@")[-1],
        "load_average": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
