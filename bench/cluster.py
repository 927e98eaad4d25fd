"""Several nodes against one PostgreSQL: `atrium serve --no-scheduler` nodes, `atrium scheduler` processes,
a round-robin TCP proxy in front, clients that retry, and the checks made afterwards.

Used by the fault bench (`python -m bench --only faults`, bench/faults.py) and its short version in
tests/test_several_nodes.py. Every process here is started by this module and stopped by its own pid
(its process group: a node is gunicorn's master and its workers, killed together like a machine).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

PASSWORD = "cluster-password-123"
FLOW = "timed_task.bpmn"
PROCESS_KEY = "bench_timed_task"
TIMER_ELEMENT = "wait"
_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 40.0, path: str = "/healthz") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered {path} on port {port} within {timeout:.0f} s")


class Proc:
    """One `atrium ...` command in its own process group; kill() is SIGKILL to the whole group."""

    def __init__(self, args: list[str], env: dict, port: int | None = None, log_path: str | None = None):
        self.args, self.env, self.port, self.log_path = args, env, port, log_path
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atrium.cli", *self.args],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self.port is not None:
            wait_for_port(self.port)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def node(port: int, env: dict, *, scheduler: bool = False, log_path: str | None = None) -> Proc:
    args = ["serve", "--port", str(port)] + ([] if scheduler else ["--no-scheduler"])
    return Proc(args, env, port=port, log_path=log_path)


def scheduler(env: dict, log_path: str | None = None) -> Proc:
    return Proc(["scheduler"], env, log_path=log_path)


class RoundRobinProxy(threading.Thread):
    """A TCP proxy: each client connection goes to the next backend in turn and is piped both ways.

    It re-sends nothing: a backend that dies mid-connection closes the client's connection, and the
    client retries. Only a backend that refuses the connection (nothing sent yet) is passed over for
    the next one, as a load balancer's health check would."""

    def __init__(self, port: int, backends: list[int]):
        super().__init__(daemon=True)
        self.backends, self.turn = backends, 0
        self.listener = socket.create_server(("127.0.0.1", port), backlog=256)
        self.port = port

    def run(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        backend = None
        for _ in range(len(self.backends)):
            port = self.backends[self.turn % len(self.backends)]
            self.turn += 1
            try:
                backend = socket.create_connection(("127.0.0.1", port), timeout=2)
                backend.settimeout(None)
                break
            except OSError:
                continue
        if backend is None:
            client.close()
            return
        threading.Thread(target=self._pipe, args=(backend, client), daemon=True).start()
        self._pipe(client, backend)

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.listener.close()


@dataclass
class Tally:
    """What the clients saw: every response status with its time, connection errors, retries."""

    statuses: list = field(default_factory=list)  # (time, status or "conn", method, path)
    retried_requests: int = 0
    retried_succeeded: int = 0
    resolved_by_reading: int = 0  # a retried completion answered 409 "already completed": it had committed
    gave_up: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, *entry) -> None:
        with self.lock:
            self.statuses.append(entry)


class RetryingClient:
    """Keep-alive HTTP through the proxy; retries connection errors, 5xx and 409 with the same
    Idempotency-Key (honoured where the server supports it) until `patience` seconds have passed."""

    def __init__(self, port: int, tally: Tally, token: str | None = None, patience: float = 90.0):
        self.port, self.tally, self.patience = port, tally, patience
        self.connection = None
        self.headers = {"Content-Type": "application/json"}
        if token is None:
            # One login for all clients: logins in flight count as failures until they succeed, so many at
            # once from one address are throttled (429), as they should be.
            status, body = self.call("POST", "/api/auth/token", {"username": "cluster", "password": PASSWORD})
            if status != 200:
                raise RuntimeError(f"login failed: {status} {body}")
            token = body["access_token"]
        self.token = token
        self.headers["Authorization"] = f"Bearer {token}"

    def _once(self, method: str, path: str, body, key: str | None):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = dict(self.headers, **({"Idempotency-Key": key} if key else {}))
        try:
            self.connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None
            return None, None
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None

    def call(self, method: str, path: str, body=None, *, key: str | None = None, ok_on_409=None):
        """(status, body) of the first answer that is neither a connection error nor 5xx nor 409; a 409
        for which `ok_on_409()` says the work is done counts as that success."""
        give_up = time.time() + self.patience
        attempts = 0
        while True:
            attempts += 1
            status, data = self._once(method, path, body, key)
            self.tally.note(time.time(), status or "conn", method, path)
            if status == 409 and attempts > 1 and ok_on_409 is not None and ok_on_409():
                with self.tally.lock:
                    self.tally.retried_requests += 1
                    self.tally.retried_succeeded += 1
                    self.tally.resolved_by_reading += 1
                return 200, data
            if status is not None and status < 500 and status != 409:
                if attempts > 1:
                    with self.tally.lock:
                        self.tally.retried_requests += 1
                        self.tally.retried_succeeded += status < 400
                return status, data
            if time.time() > give_up:
                with self.tally.lock:
                    self.tally.retried_requests += 1
                    self.tally.gave_up.append((method, path, status))
                return status, data
            time.sleep(0.25)


def _task_completed(client: RetryingClient, task_id: str):
    def check() -> bool:
        status, task = client._once("GET", f"/api/tasks/{task_id}", None, None)
        return status == 200 and task.get("status") == "completed"

    return check


def complete(client: RetryingClient, task_id: str) -> bool:
    status, _ = client.call(
        "POST",
        f"/api/tasks/{task_id}/complete",
        {"data": {}},
        key=str(uuid.uuid4()),
        ok_on_409=_task_completed(client, task_id),
    )
    return status == 200


def open_task(client: RetryingClient, instance_id: str, element_id: str) -> str | None:
    status, page = client.call("GET", f"/api/tasks?instance_id={instance_id}&status=open")
    if status != 200:
        return None
    for task in page["items"]:
        if task.get("element_id") == element_id and task.get("status", "open") == "open":
            return task["id"]
    return None


@dataclass
class Instance:
    key: str
    id: str | None = None
    stage: str = "starting"  # starting, waiting_timer, done
    prepared_at: float = 0.0


def login(port: int) -> str:
    """An access token for the clients' account (one login, shared by every client)."""
    return RetryingClient(port, Tally()).token


def client_events(client: RetryingClient) -> None:
    """A new client, then two changes of its tier: three events of one aggregate, numbered 1, 2, 3. The create
    carries an Idempotency-Key, so a retry after a lost answer makes no second client; a change retried after
    it had committed meets the version check (409) and counts as done once the client's version moved on."""
    token = uuid.uuid4().hex[:12]
    name = f"Cluster Client {token}"
    body = {"name": name, "kind": "organisation", "tier": "C"}
    status, made = client.call("POST", "/api/clients", body, key=f"create-{token}")
    if status != 201:
        return
    url = f"/api/clients/{made['id']}"

    def version() -> int:
        return client.call("GET", url)[1]["version"]

    before = made["version"]
    for tier in ("B", "A"):
        status, _ = client.call(
            "PATCH", url, {"tier": tier, "expected_version": before}, ok_on_409=lambda: version() > before
        )
        if status != 200:
            return
        before = version()


def client_loop(
    port: int,
    tally: Tally,
    stop_at: float,
    drain_until: float,
    mine: list[Instance],
    token: str,
    with_clients: bool = False,
) -> None:
    """Start instances and complete their first task until `stop_at`; complete the second task of each
    once its timer has fired, until all are done or `drain_until`."""
    client = RetryingClient(port, tally, token)
    rounds = 0
    while time.time() < drain_until:
        loading = time.time() < stop_at
        if loading and with_clients and rounds % 3 == 0:
            client_events(client)
        rounds += 1
        if loading:
            instance = Instance(key=f"cluster-{uuid.uuid4()}")
            mine.append(instance)
            status, started = client.call(
                "POST",
                "/api/process-instances",
                {"process_key": PROCESS_KEY, "business_key": instance.key},
                key=instance.key,
            )
            if status != 201:
                instance.stage = f"start failed {status}"
                continue
            instance.id = started["id"]
            first = next((t["id"] for t in started["open_tasks"] if t["element_id"] == "prepare"), None)
            if first is None or not complete(client, first):
                instance.stage = "prepare failed"
                continue
            instance.stage, instance.prepared_at = "waiting_timer", time.time()
        pending = [i for i in mine if i.stage == "waiting_timer" and time.time() - i.prepared_at > 2.5]
        for instance in pending[:5]:
            task = open_task(client, instance.id, "finish")
            if task is not None and complete(client, task):
                instance.stage = "done"
        if not loading:
            if all(i.stage != "waiting_timer" for i in mine):
                return
            time.sleep(0.3)


def check(db, instances: list[Instance]) -> dict:
    """What the database says about the clients' instances: each completed (or, for a start the client
    retried without the server knowing it was a retry, a second instance waiting at its first task), the
    timer of each fired exactly once (history), nothing in error."""
    keys = [i.key for i in instances]
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT i.id, i.business_key, i.status, "
                "(SELECT count(*) FROM history h WHERE h.instance_id = i.id AND h.event = 'timer_fired' "
                f"AND h.element_id = '{TIMER_ELEMENT}') AS fired, "
                "(SELECT string_agg(t.element_id, ',') FROM tasks t WHERE t.instance_id = i.id AND t.status = 'open') "
                "AS open_tasks, "
                "(SELECT count(*) FROM timers tm WHERE tm.instance_id = i.id) AS timers "
                "FROM process_instances i WHERE i.process_key = :key"
            ),
            {"key": PROCESS_KEY},
        ).all()
    by_key: dict[str, list] = {}
    for row in rows:
        by_key.setdefault(row.business_key, []).append(row)
    wanted = set(keys)
    result = {
        "started_by_clients": len(instances),
        "client_done": sum(i.stage == "done" for i in instances),
        "client_not_done": [(i.key, i.stage) for i in instances if i.stage != "done"],
        "instances_in_db": len(rows),
        "completed": 0,
        "timer_fired_once": 0,
        "timer_fired_twice": [],
        "timer_not_fired": [],
        "duplicate_starts": 0,
        "duplicates_waiting_at_first_task": 0,
        "misplaced": [],
        "unknown_instances": [k for k in by_key if k not in wanted],
    }
    for key in keys:
        found = by_key.get(key, [])
        client_instance = next(i for i in instances if i.key == key)
        for row in found:
            is_clients = client_instance.id is not None and str(row.id) == client_instance.id
            if row.fired > 1:
                result["timer_fired_twice"].append(str(row.id))
            if row.status == "completed":
                result["completed"] += 1
                if row.fired == 1:
                    result["timer_fired_once"] += 1
                else:
                    result["timer_not_fired"].append(str(row.id))
            elif not is_clients and row.status == "active" and row.open_tasks == "prepare" and row.fired == 0:
                result["duplicates_waiting_at_first_task"] += 1  # a start retried after it had committed
            elif row.status == "active" and row.open_tasks == "finish" and row.fired == 1:
                pass  # the client gave up before completing; waiting exactly where it should
            elif row.status == "active" and row.open_tasks is None and row.fired == 0 and row.timers == 1:
                pass  # its timer is still due
            else:
                result["misplaced"].append((str(row.id), row.status, row.open_tasks, row.fired, row.timers))
        result["duplicate_starts"] += max(0, len(found) - 1)
        if not found and client_instance.stage != "start failed None":
            result["misplaced"].append((key, "missing", None, 0, 0))
    return result


def http_figures(tally: Tally, db_down: tuple[float, float] | None, grace: float = 5.0) -> dict:
    """Response counts; 5xx inside the database-restart window (plus `grace` seconds) are expected."""
    counts: dict = {}
    outside = []
    for at, status, method, path in tally.statuses:
        counts[status] = counts.get(status, 0) + 1
        if isinstance(status, int) and status >= 500:
            if db_down is None or not (db_down[0] - 1 <= at <= db_down[1] + grace):
                outside.append((round(at, 1), status, method, path))
    return {
        "responses": counts,
        "server_errors_outside_db_restart": outside,
        "retried_requests": tally.retried_requests,
        "retried_succeeded": tally.retried_succeeded,
        "resolved_by_reading": tally.resolved_by_reading,
        "gave_up": tally.gave_up,
    }


def setup_database(db, engine_factory) -> None:
    """Deploy the flow and the clients' account on a migrated, empty schema."""
    from atrium.accounts import create_account
    from bench.common import FLOWS
    from engine.definitions import SourceFile
    from engine.deployments import deploy

    engine = engine_factory(db)
    with engine.transaction() as session:
        deploy(engine, session, [SourceFile(FLOW, (FLOWS / FLOW).read_bytes())])
        create_account(session, username="cluster", password=PASSWORD, roles=["admin"], actor="bench")


def environment(url: str, **extra) -> dict:
    return dict(
        os.environ,
        ATRIUM_DATABASE_URL=url,
        ATRIUM_SECRET_KEY="cluster-secret-key-cluster-secret-key-0123",
        ATRIUM_TIMER_POLL_SECONDS="0.5",
        ATRIUM_WORKERS="2",
        ATRIUM_THREADS="4",
        PYTHONPATH=os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    )
