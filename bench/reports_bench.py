"""Statistics and the monthly PDF over 100,000 clients and 1,000,000 tasks on PostgreSQL."""
from __future__ import annotations

import random
import time
import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import text

from atrium import clock
from reports.catalogue import REPORTS
from reports.making import make
from reports.statistics import progress, satisfaction
from reports.tables import Filters
from storage.db import make_session_factory

from .common import fresh_database

SCHEMA = "atrium_bench_reports"
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _copy(cursor, sql: str, rows) -> None:
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def load(db, clients: int, tasks: int) -> float:
    rng = random.Random(5)
    began = time.time()
    start = NOW - timedelta(days=540)
    raw = db.raw_connection()
    try:
        cur = raw.cursor()
        owners = [f"am{n}" for n in range(40)]
        _copy(cur, "COPY clients (id, kind, name, name_key, industry, tier, status, owner, tags, phones, emails, addresses, "
                   "custom_fields, search_text, created_at, updated_at, version) FROM STDIN",
              ((n, "organisation", f"Client {n}", f"client {n}", rng.choice(["law", "tax", "it", "architecture"]),
                rng.choice("ABC"), rng.choice(["active"] * 6 + ["prospect", "dormant", "former"]), rng.choice(owners),
                "[]", "[]", "[]", "[]", "{}", f"client {n}", start + timedelta(minutes=rng.randint(0, 540 * 1440)),
                start + timedelta(minutes=rng.randint(0, 540 * 1440)), 1) for n in range(1, clients + 1)))
        cur.execute("INSERT INTO process_definitions (id, process_key, version, content_hash, source_name, bpmn_xml, "
                    "spec_json, start_events, form_ids, deployed_at) VALUES (1, 'service_request', 1, 'x', 'x', '', '{}', "
                    "'[]', '{}', now())")
        instances = [(uuid.uuid4(), rng.randint(1, clients)) for _ in range(tasks // 10)]
        started = {}

        def instance_rows():
            for instance_id, client in instances:
                began_at = start + timedelta(minutes=rng.randint(0, 530 * 1440))
                started[instance_id] = began_at
                done = rng.random() < 0.8
                yield (instance_id, 1, "service_request", f"client:{client}", "completed" if done else "active", b"x", 1,
                       began_at, began_at, began_at + timedelta(hours=rng.randint(1, 400)) if done else None)

        _copy(cur, "COPY process_instances (id, definition_id, process_key, business_key, status, state, lock_version, "
                   "started_at, updated_at, ended_at) FROM STDIN", instance_rows())

        def task_rows():
            for n in range(tasks):
                instance_id = instances[n // 10][0]
                created = started[instance_id] + timedelta(hours=n % 10)
                done = rng.random() < 0.9
                yield (uuid.uuid4(), instance_id, "service_request", f"step{n % 10}", f"Step {n % 10}",
                       rng.choice(owners) if rng.random() < 0.5 else None, 50, "completed" if done else "open", created,
                       created + timedelta(hours=rng.randint(1, 200)) if done else None)

        _copy(cur, "COPY tasks (id, instance_id, process_key, element_id, name, assignee, priority, status, created_at, "
                   "completed_at) FROM STDIN", task_rows())
        _copy(cur, "COPY service_requests (id, client_id, type, title, priority, status, source, sla_due_at, assignee, "
                   "created_at, updated_at, resolved_at) FROM STDIN",
              ((n, rng.randint(1, clients), rng.choice(["tax", "audit", "it"]), "Request", "normal", "resolved", "staff",
                (t := start + timedelta(minutes=rng.randint(0, 530 * 1440))) + timedelta(days=3), rng.choice(owners),
                t, t, t + timedelta(hours=rng.randint(1, 120))) for n in range(1, 30_001)))
        _copy(cur, "COPY feedback (client_id, csat, nps, subject_type, subject_id, created_at, updated_at) FROM STDIN",
              ((rng.randint(1, clients), rng.randint(1, 5), rng.randint(0, 10), "service_request", rng.randint(1, 30_000),
                t := start + timedelta(minutes=rng.randint(0, 540 * 1440)), t) for _ in range(50_000)))
        _copy(cur, "COPY complaints (client_id, severity, description, status, received_at, acknowledged_at, resolved_at, "
                   "created_at, updated_at) FROM STDIN",
              ((rng.randint(1, clients), rng.choice(["low", "medium", "high"]), "x", "resolved",
                t := start + timedelta(minutes=rng.randint(0, 530 * 1440)), t + timedelta(hours=rng.randint(1, 48)),
                t + timedelta(hours=rng.randint(10, 300)), t, t) for _ in range(5_000)))
        raw.commit()
    finally:
        raw.close()
    with db.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("clients", "process_instances", "tasks", "service_requests", "feedback", "complaints"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        conn.execute(text("SELECT setval(pg_get_serial_sequence('clients', 'id'), :n)"), {"n": clients})
    return time.time() - began


def run(clients: int = 100_000, tasks: int = 1_000_000) -> dict:
    db = fresh_database(SCHEMA)
    load_s = load(db, clients, tasks)
    sessions = make_session_factory(db)
    filters = Filters(date(2026, 10, 1), date(2026, 11, 1))
    statistics = [progress.instances_by_process_status, progress.open_tasks_by_age, progress.open_tasks_by_assignee,
                  progress.cycle_time_by_process, progress.cycle_time_by_task, progress.sla_compliance,
                  satisfaction.csat_distribution, satisfaction.nps_summary, satisfaction.satisfaction_trend,
                  satisfaction.satisfaction_by_service_type, satisfaction.satisfaction_by_employee]
    previous = clock.set_clock(clock.FrozenClock(NOW))
    try:
        timings = {}
        for statistic in statistics:
            best = float("inf")
            for _ in range(3):
                with sessions() as session:
                    t0 = time.perf_counter()
                    statistic(session, filters)
                    best = min(best, time.perf_counter() - t0)
            timings[statistic.__name__] = best
        with sessions() as session:
            t0 = time.perf_counter()
            document = make(session, REPORTS["monthly_client"], filters, "pdf", generated_at=NOW)
            pdf_s = time.perf_counter() - t0
    finally:
        clock.set_clock(previous)
        db.dispose()
    return {"load_s": load_s, "statistics_s": timings, "pdf_s": pdf_s, "pdf_bytes": len(document)}
