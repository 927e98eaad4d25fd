"""A firm's worth of report data on PostgreSQL, loaded with COPY: clients over 18 months with their status
history, process instances and a million tasks, feedback, service requests, complaints and follow-ups."""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from .client_rows import copy_clients, copy_rows

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)  # the data's "now": October 2026 is the last full month
START = NOW - timedelta(days=540)
OWNERS = [f"am{n}" for n in range(40)]
GROUPS = ["manager", "partner", "tax", "audit", "service_desk"]
PROCESSES = {
    "service_request": ["triage", "assign", "work", "resolve", "rate"],
    "client_onboarding": ["check", "approve", "engage"],
    "complaint": ["acknowledge", "investigate", "propose", "close"],
    "follow_up": ["plan", "call"],
}
SERVICE_TYPES = ["tax", "audit", "it", "payroll", "advice"]


def _moment(rng: random.Random, after: datetime = START, before: datetime = NOW) -> datetime:
    return after + timedelta(seconds=rng.uniform(0, (before - after).total_seconds()))


def load(db, clients: int = 100_000, tasks: int = 1_000_000) -> dict:
    """Fill the freshly migrated (empty) database `db` and VACUUM ANALYZE it: rows per table and load seconds."""
    rng = random.Random(7)
    began = time.perf_counter()
    counts: dict[str, int] = {}
    raw = db.raw_connection()
    try:
        cur = raw.cursor()
        made = {}  # client id -> (created_at, status)

        def client_rows():
            # Stored as the application stores them (bench.client_rows): data keys, encrypted fields.
            for n in range(1, clients + 1):
                at, status = _moment(rng), rng.choice(["active"] * 6 + ["prospect", "dormant", "former"])
                made[n] = at, status
                yield {
                    "id": n,
                    "kind": "organisation",
                    "name": f"Client {n}",
                    "industry": rng.choice(["law", "tax", "it", "architecture", None]),
                    "tier": rng.choice("AABCCC"),
                    "status": status,
                    "owner": rng.choice(OWNERS),
                    "tags": [],
                    "phones": [],
                    "emails": [],
                    "addresses": [],
                    "created_at": at,
                    "updated_at": at,
                    "deleted_at": at + timedelta(days=1) if rng.random() < 0.01 else None,
                }

        counts["clients"] = copy_clients(db, cur, client_rows())

        def status_rows():
            # Created as a prospect or active; dormant clients went dormant later, former ones dormant then lost.
            for client_id, (at, status) in made.items():
                first = "prospect" if status == "prospect" else "active"
                yield (client_id, None, first, at, "import")
                path = {"dormant": ["dormant"], "former": ["dormant", "former"]}.get(status, [])
                for to_status in path:
                    at = _moment(rng, at)
                    yield (client_id, first, to_status, at, rng.choice(OWNERS))
                    first = to_status

        counts["client_status_changes"] = copy_rows(
            cur,
            "COPY client_status_changes (client_id, from_status, to_status, changed_at, changed_by) FROM STDIN",
            status_rows(),
        )

        for n, key in enumerate(PROCESSES, 1):
            cur.execute(
                "INSERT INTO process_definitions (id, process_key, version, content_hash, source_name, bpmn_xml, "
                "spec_json, start_events, form_ids, deployed_at) VALUES (%s, %s, 1, 'x', 'x', '', '{}', '[]', "
                "'{}', %s)",
                (n, key, START),
            )
        instances = []  # (id, process_key, started_at, ended_at or None)

        def instance_rows():
            for _ in range(max(1, tasks // 100)):
                key = rng.choice(list(PROCESSES))
                started = _moment(rng, START, NOW - timedelta(days=1))
                status = rng.choices(["completed", "active", "cancelled", "error"], [80, 15, 3, 2])[0]
                ended = (
                    min(started + timedelta(hours=rng.uniform(1, 400)), NOW)
                    if status in ("completed", "cancelled")
                    else None
                )
                instance_id = uuid.uuid4()
                instances.append((instance_id, key, started, ended))
                yield (
                    instance_id,
                    list(PROCESSES).index(key) + 1,
                    key,
                    f"client:{rng.randint(1, clients)}",
                    status,
                    b"x",
                    1,
                    started,
                    ended or started,
                    ended,
                )

        counts["process_instances"] = copy_rows(
            cur,
            "COPY process_instances (id, definition_id, process_key, business_key, "
            "status, state, lock_version, started_at, updated_at, ended_at) FROM STDIN",
            instance_rows(),
        )
        offered = []  # (task id, group, due) of open, unclaimed tasks

        def task_rows():
            per_instance = tasks // len(instances) + 1
            for n in range(tasks):
                instance_id, key, started, ended = instances[n // per_instance]
                element = rng.choice(PROCESSES[key])
                task_id = uuid.uuid4()
                if rng.random() < 0.9:
                    opened = _moment(rng, started, ended or NOW - timedelta(hours=1))
                    done = min(opened + timedelta(hours=rng.expovariate(1 / 30)), ended or NOW)
                    yield (
                        task_id,
                        instance_id,
                        key,
                        element,
                        element.title(),
                        rng.choice(OWNERS),
                        50,
                        "completed",
                        opened,
                        done,
                    )
                    continue
                opened = NOW - timedelta(days=rng.expovariate(1 / 8))
                assignee = rng.choice(OWNERS) if rng.random() < 0.5 else None
                if assignee is None:
                    offered.append((task_id, rng.choice(GROUPS), opened + timedelta(days=5)))
                yield (task_id, instance_id, key, element, element.title(), assignee, 50, "open", opened, None)

        counts["tasks"] = copy_rows(
            cur,
            "COPY tasks (id, instance_id, process_key, element_id, name, assignee, priority, "
            "status, created_at, completed_at) FROM STDIN",
            task_rows(),
        )
        counts["task_candidates"] = copy_rows(
            cur,
            "COPY task_candidates (task_id, kind, name, offered, due_at) FROM STDIN",
            ((t, "group", g, True, due) for t, g, due in offered),
        )

        def request_rows():
            for n in range(1, 30_001):
                opened = _moment(rng, START, NOW - timedelta(days=2))
                resolved = opened + timedelta(hours=rng.uniform(1, 120)) if rng.random() < 0.9 else None
                closed = resolved + timedelta(days=rng.uniform(0, 7)) if resolved and rng.random() < 0.8 else None
                yield (
                    n,
                    rng.randint(1, clients),
                    rng.choice(SERVICE_TYPES),
                    "Request",
                    "normal",
                    "closed" if closed else "resolved" if resolved else "in_progress",
                    "staff",
                    opened + timedelta(days=3),
                    rng.choice(OWNERS),
                    rng.choice([None, 3, 4, 5, 5]) if closed else None,
                    opened,
                    opened,
                    resolved,
                    closed,
                )

        counts["service_requests"] = copy_rows(
            cur,
            "COPY service_requests (id, client_id, type, title, priority, status, "
            "source, sla_due_at, assignee, rating, created_at, updated_at, "
            "resolved_at, closed_at) FROM STDIN",
            request_rows(),
        )
        cur.execute("SELECT setval(pg_get_serial_sequence('service_requests', 'id'), 30000)")
        counts["feedback"] = copy_rows(
            cur,
            "COPY feedback (client_id, csat, nps, subject_type, subject_id, created_at, updated_at) FROM STDIN",
            (
                (
                    rng.randint(1, clients),
                    rng.choice([None, 1, 2, 3, 4, 4, 5, 5]),
                    rng.randint(0, 10),
                    *(("service_request", rng.randint(1, 30_000)) if rng.random() < 0.7 else (None, None)),
                    at := _moment(rng),
                    at,
                )
                for _ in range(50_000)
            ),
        )

        def complaint_rows():
            for _ in range(5_000):
                received = _moment(rng)
                acknowledged = received + timedelta(hours=rng.expovariate(1 / 12)) if rng.random() < 0.95 else None
                resolved = received + timedelta(hours=rng.uniform(10, 300)) if rng.random() < 0.8 else None
                yield (
                    rng.randint(1, clients),
                    rng.choice(["low", "medium", "high", "critical"]),
                    "x",
                    "resolved" if resolved else "registered",
                    received,
                    acknowledged,
                    resolved,
                    received,
                    received,
                )

        counts["complaints"] = copy_rows(
            cur,
            "COPY complaints (client_id, severity, description, status, received_at, "
            "acknowledged_at, resolved_at, created_at, updated_at) FROM STDIN",
            complaint_rows(),
        )
        counts["follow_ups"] = copy_rows(
            cur,
            "COPY follow_ups (client_id, planned_at, done_at, channel, created_at, updated_at) FROM STDIN",
            (
                (
                    rng.randint(1, clients),
                    planned := _moment(rng, START, NOW + timedelta(days=30)),
                    planned if planned < NOW and rng.random() < 0.8 else None,
                    "call",
                    START,
                    START,
                )
                for _ in range(20_000)
            ),
        )
        raw.commit()
    finally:
        raw.close()
    with db.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in (
            "clients",
            "client_keys",
            "client_identifiers",
            "client_search_tokens",
            "client_status_changes",
            "process_instances",
            "tasks",
            "task_candidates",
            "service_requests",
            "feedback",
            "complaints",
            "follow_ups",
        ):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    return {**counts, "load_s": time.perf_counter() - began}
