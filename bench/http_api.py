"""The API under load, served by `atrium serve` on PostgreSQL.

- End-to-end rate: 8 concurrent clients, each instance = start + two task completions
  (the client finds the second task through the inbox), next to the in-process rate.
- Inbox latency: `GET /api/tasks?candidate_user=me&sort=due&page_size=50` with 1,000,000
  task rows of which 100,000 are open.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests
from sqlalchemy.engine import make_url

from atrium.accounts import create_account
from storage.accounts import ROLES

from .client_rows import copy_rows
from .common import SCHEMA, database_url, deploy_flow, fresh_database, percentile, process_engine

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
PASSWORD = "bench-password-123"


def _server_url() -> str:
    return (
        make_url(database_url())
        .update_query_dict({"options": f"-csearch_path={SCHEMA}"})
        .render_as_string(hide_password=False)
    )


class Server:
    """`atrium serve` in a child process, on the bench schema."""

    def __init__(self, workers: int = 2, threads: int = 4):
        env = dict(
            os.environ,
            ATRIUM_DATABASE_URL=_server_url(),
            ATRIUM_SECRET_KEY="bench-secret",
            ATRIUM_WORKERS=str(workers),
            ATRIUM_THREADS=str(threads),
            ATRIUM_TIMER_POLL_SECONDS="5",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atrium.cli", "serve", "--port", str(PORT)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                # Most likely the port is taken, e.g. by a server a failed run left behind:
                # answering health checks, it would be measured in place of this one.
                raise RuntimeError(f"atrium serve exited with status {self.process.returncode} (port {PORT} in use?)")
            try:
                if requests.get(f"{BASE}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("atrium serve did not come up")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def _session(username: str) -> requests.Session:
    session = requests.Session()
    token = session.post(f"{BASE}/api/auth/token", json={"username": username, "password": PASSWORD}).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    return session


class _LeanClient:
    """One keep-alive connection speaking JSON through http.client.

    The load generator shares the 2 cores with the server and PostgreSQL; `requests` spent
    about 1 ms of CPU per request, a quarter of what the server spends, taken from the server."""

    def __init__(self, username: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", PORT)
        token = _session(username).headers["Authorization"]
        self.headers = {"Authorization": token, "Content-Type": "application/json"}

    def call(self, method: str, path: str, body=None) -> tuple[int, dict]:
        self.connection.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())


def _client_loop(username: str, stop_at: float, counts: list, errors: list) -> None:
    http = _LeanClient(username)
    done = 0
    while time.time() < stop_at:
        status, instance = http.call("POST", "/api/process-instances", {"process_key": "bench_review"})
        if status != 201:
            errors.append(status)
            continue
        first = instance["open_tasks"][0]["id"]
        if http.call("POST", f"/api/tasks/{first}/complete", {"data": {"amount": 70}})[0] != 200:
            errors.append("complete 1")
            continue
        tasks = http.call("GET", f"/api/tasks?instance_id={instance['id']}")[1]["items"]
        if http.call("POST", f"/api/tasks/{tasks[0]['id']}/complete", {"data": {}})[0] != 200:
            errors.append("complete 2")
            continue
        done += 1
    counts.append(done)


def _cpu_seconds(match) -> float:
    """CPU time (user + system) so far of the processes whose (pid, ppid, name) `match` accepts."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                raw = stat.read()
        except OSError:
            continue  # exited meanwhile
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        if match(int(entry), int(fields[1]), name):
            total += int(fields[11]) + int(fields[12])
    return total / tick


class _CpuSplit:
    """Where the machine's CPU went during a run: server, load generator, PostgreSQL."""

    def __init__(self, server_pid: int):
        self.probes = {
            "server": lambda pid, ppid, name: pid == server_pid or ppid == server_pid,
            "postgres": lambda pid, ppid, name: name.startswith("postgres"),
        }

    def start(self):
        self.began = {key: _cpu_seconds(probe) for key, probe in self.probes.items()}
        self.began["load generator"] = time.process_time()

    def stop(self) -> dict:
        used = {key: _cpu_seconds(probe) - self.began[key] for key, probe in self.probes.items()}
        used["load generator"] = time.process_time() - self.began["load generator"]
        return used


def end_to_end_rate(clients: int = 8, seconds: float = 20.0) -> dict:
    db = fresh_database()
    engine = process_engine(db)
    deploy_flow(engine, "review.bpmn")
    with engine.transaction() as session:
        create_account(session, username="bench", password=PASSWORD, roles=["admin"], actor="bench")
    server = Server()
    try:
        warm: list = []
        _client_loop("bench", time.time() + 2, warm, [])
        counts, errors = [], []
        cpu = _CpuSplit(server.process.pid) if os.path.isdir("/proc") else None
        if cpu:
            cpu.start()
        stop_at = time.time() + seconds
        threads = [
            threading.Thread(target=_client_loop, args=("bench", stop_at, counts, errors)) for _ in range(clients)
        ]
        began = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - began
        cpu_used = cpu.stop() if cpu else {}
    finally:
        server.stop()
        db.dispose()
    instances = sum(counts)
    return {
        "instances_per_s": instances / elapsed,
        "instances": instances,
        "errors": len(errors),
        "clients": clients,
        "cpu_ms_per_instance": {key: used * 1000 / max(instances, 1) for key, used in cpu_used.items()},
        "cpus": os.cpu_count(),
    }


def seed_inbox(total_tasks: int, open_tasks: int):
    """A fresh bench schema with one account per role and `total_tasks` task rows of which
    `open_tasks` are open, each offered to one role; loaded with COPY, then vacuumed."""
    db = fresh_database()
    engine = process_engine(db)
    deploy_flow(engine, "review.bpmn")
    with engine.transaction() as session:
        for role in ROLES:
            create_account(session, username=role, password=PASSWORD, roles=[role], actor="bench")
        definition_id = session.execute(__import__("sqlalchemy").text("SELECT id FROM process_definitions")).scalar()
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    instances = [uuid.uuid4() for _ in range(max(1, total_tasks // 100))]
    raw = db.raw_connection()
    began = time.time()
    try:
        cur = raw.cursor()
        copy_rows(
            cur,
            "COPY process_instances (id, definition_id, process_key, status, state, lock_version, "
            "started_at, updated_at) FROM STDIN",
            ((i, definition_id, "bench_review", "active", b"x", 1, now, now) for i in instances),
        )

        offered, dues = [], []  # per task: open and unclaimed; due time

        def task_rows():
            for n in range(total_tasks):
                is_open = n % (total_tasks // open_tasks) == 0
                due = now + timedelta(minutes=rng.randint(-10_000, 50_000)) if rng.random() < 0.9 else None
                assignee = None if (not is_open or rng.random() < 0.8) else rng.choice(ROLES)
                offered.append(is_open and assignee is None)
                dues.append(due)
                yield (
                    uuid.uuid5(uuid.NAMESPACE_OID, str(n)),
                    instances[n // 100],
                    "bench_review",
                    "approve",
                    "Approve",
                    assignee,
                    rng.randint(0, 100),
                    due,
                    "open" if is_open else "completed",
                    now,
                )

        copy_rows(
            cur,
            "COPY tasks (id, instance_id, process_key, element_id, name, assignee, priority, due_at, "
            "status, created_at) FROM STDIN",
            task_rows(),
        )
        # Each task is offered to one role, spread evenly over the open ones.
        copy_rows(
            cur,
            "COPY task_candidates (task_id, kind, name, offered, due_at) FROM STDIN",
            (
                (uuid.uuid5(uuid.NAMESPACE_OID, str(n)), "group", ROLES[(n // 10) % len(ROLES)], offered[n], dues[n])
                for n in range(total_tasks)
            ),
        )
        raw.commit()
    finally:
        raw.close()
    # As autovacuum would have by then: statistics, and a visibility map for index-only scans.
    with db.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("process_instances", "tasks", "task_candidates"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    return db, time.time() - began


def inbox_latency(total_tasks: int = 1_000_000, open_tasks: int = 100_000, requests_n: int = 300) -> dict:
    db, load_s = seed_inbox(total_tasks, open_tasks)
    server = Server()
    try:
        http = _session("service_desk")
        url = f"{BASE}/api/tasks"
        params = {"candidate_user": "me", "sort": "due", "page_size": 50}
        first = http.get(url, params=params)
        assert first.status_code == 200, first.text
        timings = []
        for _ in range(requests_n):
            t0 = time.perf_counter()
            response = http.get(url, params=params)
            timings.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        matching = first.json()["total"]
    finally:
        server.stop()
        db.dispose()
    return {
        "p50_ms": percentile(timings, 50),
        "p95_ms": percentile(timings, 95),
        "rows": total_tasks,
        "open": open_tasks,
        "matching": matching,
        "load_s": load_s,
    }
