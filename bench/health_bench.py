"""Client health over 100,000 clients on PostgreSQL (`make bench`'s health section): a full recompute with
the deployed client_health table, then the statistics, the at-risk lists and the relationships report's
statistics, each the best of three. The firm's data is bench/report_data.py's, plus engagements."""

from __future__ import annotations

import random
import time
from datetime import date, timedelta

from atrium import clock
from atrium.health import health_list, recompute_health
from atrium.settings import PROJECT_ROOT
from engine.definitions import SourceFile
from engine.deployments import deploy
from reports.statistics.relationships import (
    health_by_band_and_tier,
    health_distribution,
    health_fall_reasons,
    health_movements,
)
from reports.tables import Filters
from storage.db import make_session_factory

from . import common, report_data
from .client_rows import copy_rows
from .common import fresh_database

SCHEMA = f"{common.SCHEMA}_health"


def _engagements(db, clients: int) -> int:
    rng = random.Random(14)
    raw = db.raw_connection()
    try:
        cur = raw.cursor()
        n = copy_rows(
            cur,
            "COPY engagements (client_id, service_type, status, fee_basis, adverse_parties, created_at, updated_at) "
            "FROM STDIN",
            (
                (
                    rng.randint(1, clients),
                    "tax",
                    rng.choice(["active", "active", "completed", "proposed"]),
                    "fixed",
                    "[]",
                    at := report_data._moment(rng),
                    at,
                )
                for _ in range(clients // 2)
            ),
        )
        raw.commit()
    finally:
        raw.close()
    return n


def _best(sessions, work, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        with sessions() as session:
            began = time.perf_counter()
            work(session)
            best = min(best, time.perf_counter() - began)
    return best


def run(clients: int = 100_000) -> dict:
    db = fresh_database(SCHEMA)
    previous = clock.set_clock(clock.FrozenClock(report_data.NOW - timedelta(days=14)))
    try:
        loaded = report_data.load(db, clients, tasks=10_000)
        _engagements(db, clients)
        engine = common.process_engine(db)
        table = PROJECT_ROOT / "processes" / "client_health.dmn"
        with engine.transaction() as session:
            deploy(engine, session, [SourceFile(table.name, table.read_bytes())])
        # Two weeks apart, so the report has movements to count.
        with engine.transaction() as session:
            recompute_health(session, engine.settings)
        clock.set_clock(clock.FrozenClock(report_data.NOW))
        with engine.transaction() as session:
            began = time.perf_counter()
            scored = recompute_health(session, engine.settings)
            recompute_s = time.perf_counter() - began
        with db.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for name in ("client_health", "client_health_snapshots"):
                conn.exec_driver_sql(f"VACUUM ANALYZE {name}")
        sessions = make_session_factory(db)
        period = Filters(date(2026, 10, 1), date(2026, 11, 2))
        timings = {
            "statistics (bands by tier, the firm)": _best(sessions, lambda s: health_distribution(s, owners=None)),
            "at-risk list, the firm (page 1 of 50)": _best(
                sessions, lambda s: health_list(s, owners=None, limit=50, offset=0)
            ),
            "at-risk list, one account manager": _best(
                sessions, lambda s: health_list(s, owners={"am7"}, limit=50, offset=0)
            ),
            "report: bands by tier": _best(sessions, lambda s: health_by_band_and_tier(s, period)),
            "report: movements": _best(sessions, lambda s: health_movements(s, period)),
            "report: reasons behind a fall": _best(sessions, lambda s: health_fall_reasons(s, period)),
        }
        with sessions() as session:
            bands = health_distribution(session, owners=None)["by_band"]
    finally:
        clock.set_clock(previous)
        db.dispose()
    return {
        "load_s": loaded["load_s"],
        "scored": scored,
        "recompute_s": recompute_s,
        "timings": timings,
        "bands": bands,
    }
