"""The floor of the end-to-end bench: a minimal WSGI app answering the same five requests per instance
(start, list the instance's open task, complete it, list the next, complete it) by running only the SQL
statements the real app ran for one instance (captured by bench/end_to_end.py through SQLAlchemy's
before_cursor_execute, in the same transactions) with psycopg, ids mapped to this instance's.

No Flask, no SpiffWorkflow, no JSON schema, no ORM: what is left is HTTP under the same gunicorn
settings, the round trips and PostgreSQL's own work. Served by `gunicorn bench.e2e_floor:app` with
E2E_FLOOR_CAPTURE (the pickled capture) and E2E_FLOOR_DSN (a psycopg conninfo) in the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
import uuid
from urllib.parse import parse_qs

import psycopg

with open(os.environ.get("E2E_FLOOR_CAPTURE", "/dev/null"), "rb") as _f:
    CAPTURE = pickle.load(_f) if os.environ.get("E2E_FLOOR_CAPTURE") else None
_local = threading.local()


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["E2E_FLOOR_DSN"])
    return conn


def _remap(value, mapping: dict):
    if isinstance(value, uuid.UUID):
        return mapping.get(value, value)
    if isinstance(value, str):
        for old, new in mapping.items():
            if isinstance(old, uuid.UUID) and str(old) in value:
                value = value.replace(str(old), str(new))
        return value
    if isinstance(value, dict):
        return {k: _remap(v, mapping) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_remap(v, mapping) for v in value)
    return value


def replay(request: list, mapping: dict) -> list:
    """Run one captured request's statements; returns the rows of each statement that returned any.

    The audit chain's statements are given this run's values: the id the audit insert returned, and the
    next link from the chain head it locked (as atrium/audit.py computes them)."""
    conn = _connection()
    results = []
    audit_id = head = None
    with conn.cursor() as cursor:
        for statement, params, many in request:
            if statement == "COMMIT":
                conn.commit()
                continue
            if statement == "ROLLBACK":
                conn.rollback()
                continue
            params = _remap(params, mapping)
            if "audit_log" in statement and isinstance(params, dict):
                if "id_1_1" in params:
                    params = dict(params, id_1_1=audit_id)
                if "row_id" in params:
                    link = hashlib.sha256(f"{head[1]}{audit_id}".encode()).hexdigest()
                    params = dict(params, row_id=audit_id, link_seq=head[0] + 1, link_prev=head[1], link_hash=link)
                    head = (head[0] + 1, link)
            if "UPDATE audit_chain_head" in statement:
                params = dict(params, seq=head[0], hash=head[1])
            if many:
                cursor.executemany(statement, params)
            else:
                cursor.execute(statement, params)
            rows = cursor.fetchall() if cursor.description else []
            if statement.startswith("INSERT INTO audit_log"):
                audit_id = rows[0][0]
            elif "FROM audit_chain_head" in statement:
                head = rows[0]
            results.append(rows)
    return results


def _json(start_response, status: str, body) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    ids = CAPTURE["ids"]
    if method == "POST" and path == "/api/process-instances":
        instance, task = uuid.uuid4(), uuid.uuid4()
        replay(CAPTURE["requests"][0], {ids["instance"]: instance, ids["first"]: task})
        return _json(start_response, "201 Created", {"id": str(instance), "open_tasks": [{"id": str(task)}]})
    if method == "GET" and path == "/api/tasks":
        instance = uuid.UUID(parse_qs(environ.get("QUERY_STRING", ""))["instance_id"][0])
        rows = replay(CAPTURE["requests"][1], {ids["instance"]: instance})[-1]  # the tasks query's rows
        return _json(start_response, "200 OK", {"items": [{"id": str(row[0])} for row in rows]})
    if method == "POST" and path.startswith("/api/tasks/") and path.endswith("/complete"):
        task = uuid.UUID(path.split("/")[3])
        # Authentication and reading the task, as both completions begin; its element says which one this is.
        first, second = CAPTURE["requests"][2], CAPTURE["requests"][4]
        read = replay(first[:3], {ids["first"]: task})
        row = read[-1][0]  # the task's row
        instance, element = row[1], row[3]
        if element == "first":
            replay(first[3:], {ids["instance"]: instance, ids["first"]: task, ids["second"]: uuid.uuid4()})
        else:
            replay(second[3:], {ids["instance"]: instance, ids["second"]: task})
        return _json(start_response, "200 OK", {"id": str(task), "status": "completed"})
    if path == "/healthz":
        return _json(start_response, "200 OK", {"status": "ok"})
    return _json(start_response, "404 Not Found", {})
