"""End-to-end rate (`python -m bench --only e2e`): 8 client processes drive the real stack, `atrium serve`
(gunicorn, the production settings: ATRIUM_WORKERS=2 x ATRIUM_THREADS=4, scheduler on) on PostgreSQL.

Per instance 5 requests over a keep-alive connection: start `bench_two_steps` (two user tasks), list the
instance's open task (`GET /api/tasks?instance_id=`), complete it, list the next, complete it.

Measured in one run: 1 node; 3 nodes (3 `atrium serve` processes, the clients spread over their ports,
client i on node i mod 3: no proxy in the path); the floor: bench/e2e_floor.py under the same gunicorn
settings answering the same five requests with only the SQL statements the real app ran for one instance
(captured here through before_cursor_execute); the ratio real/floor; and the in-process engine rate on
the same flow (bench/engine_rate.py)."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url

from atrium.accounts import create_account
from atrium.settings import Settings

from . import cluster, engine_rate
from .common import SCHEMA, deploy_flow, fresh_database, process_engine, schema_url

PASSWORD = "bench-password-123"
PROCESS_KEY = "bench_two_steps"
E2E_SCHEMA = f"{SCHEMA}_e2e"
SECRET = "e2e-bench-secret-e2e-bench-secret-0123456789"


def _env(url: str) -> dict:
    env = dict(os.environ, ATRIUM_DATABASE_URL=url, ATRIUM_SECRET_KEY=SECRET, ATRIUM_WORKERS="2", ATRIUM_THREADS="4")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")])
    )
    return env


def _five(call, on_instance=None):
    """One instance's five requests through `call(method, path, body) -> (status, json)`; True if all succeeded."""
    status, started = call("POST", "/api/process-instances", {"process_key": PROCESS_KEY})
    if status != 201:
        return False
    instance = started["id"]
    for _ in range(2):
        status, page = call("GET", f"/api/tasks?instance_id={instance}", None)
        if status != 200 or not page["items"]:
            return False
        status, _ = call("POST", f"/api/tasks/{page['items'][0]['id']}/complete", {"data": {}})
        if status != 200:
            return False
    return True


def capture(url: str) -> dict:
    """The statements of one instance's five requests (after one warm-up instance), per request, with the
    transaction ends, run by the real app in this process on the bench schema."""
    from api.app import create_app

    app = create_app(Settings(database_url=url, secret_key=SECRET))
    client = app.test_client()
    token = client.post("/api/auth/token", json={"username": "bench", "password": PASSWORD}).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    log: list = []
    db = app.extensions["atrium.db"]

    @event.listens_for(db, "before_cursor_execute")
    def _statement(_conn, _cursor, statement, params, _context, many):
        log.append((statement, params, many))

    @event.listens_for(db, "commit")
    def _commit(_conn):
        log.append(("COMMIT", None, False))

    @event.listens_for(db, "rollback")
    def _rollback(_conn):
        log.append(("ROLLBACK", None, False))

    requests, answers = [], []

    def call(method, path, body):
        del log[:]
        response = client.open(path, method=method, json=body, headers=headers)
        requests.append(list(log))
        answers.append(response.json)
        return response.status_code, response.json

    assert _five(call)  # warm: specs and caches loaded, as in a running server
    requests.clear()
    answers.clear()
    assert _five(call)
    db.dispose()
    import uuid

    ids = {
        "instance": uuid.UUID(answers[0]["id"]),
        "first": uuid.UUID(answers[1]["items"][0]["id"]),
        "second": uuid.UUID(answers[3]["items"][0]["id"]),
    }
    for index in (2, 4):  # both completions begin: authenticate, end that, read the task (bench/e2e_floor.py)
        assert requests[index][1][0] == "ROLLBACK" and "FROM tasks" in requests[index][2][0], requests[index][:3]
    return {"ids": ids, "requests": requests}


def _client(port: int, token: str, start_at: float, stop_at: float, out) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(method, path, body):
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    done = errors = 0
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < stop_at:
        try:
            if _five(call):
                done += 1
            else:
                errors += 1
        except (OSError, http.client.HTTPException, ValueError):
            errors += 1
            connection.close()
    out.put((done, errors))


def _cpu_by_group(server_groups: set[int]) -> dict:
    """CPU seconds so far (user + system) of the servers (by process group), PostgreSQL, and the rest."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"server": 0.0, "postgres": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                raw = stat.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[2]) in server_groups:
            used["server"] += cpu
        elif name.startswith("postgres"):
            used["postgres"] += cpu
    return used


def drive(ports: list[int], token: str, *, clients: int = 8, seconds: float, server_groups=()) -> dict:
    """`clients` processes, client i on ports[i mod len(ports)], for `seconds`: instances/s, and the CPU
    ms per instance of the servers (`server_groups`, process groups) and of PostgreSQL."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.time() + 1.5  # every process started and connected before the clock runs
    stop_at = start_at + seconds
    processes = [
        context.Process(target=_client, args=(ports[i % len(ports)], token, start_at, stop_at, out))
        for i in range(clients)
    ]
    for p in processes:
        p.start()
    time.sleep(max(0.0, start_at - time.time()))
    before = _cpu_by_group(set(server_groups))
    results = [out.get(timeout=seconds + 60) for _ in processes]
    after = _cpu_by_group(set(server_groups))
    for p in processes:
        p.join()
    done = sum(r[0] for r in results)
    cpu = {key: (after[key] - before[key]) * 1000 / max(done, 1) for key in before}
    return {
        "instances_per_s": done / seconds,
        "instances": done,
        "errors": sum(r[1] for r in results),
        "cpu_ms_per_instance": cpu,
        "load_average": os.getloadavg()[0],
    }


def _token(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"username": "bench", "password": PASSWORD})
    connection.request("POST", "/api/auth/token", body=body, headers={"Content-Type": "application/json"})
    return json.loads(connection.getresponse().read())["access_token"]


def _floor_server(port: int, capture_path: str, url: str) -> subprocess.Popen:
    parsed = make_url(url)
    dsn = (
        f"host={parsed.host} port={parsed.port or 5432} dbname={parsed.database} user={parsed.username}"
        + (f" password={parsed.password}" if parsed.password else "")
        + f" options='-csearch_path={E2E_SCHEMA}'"
    )
    env = dict(_env(url), E2E_FLOOR_CAPTURE=capture_path, E2E_FLOOR_DSN=dsn)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.e2e_floor:app", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "2", "--worker-class", "gthread", "--threads", "4", "--timeout", "60"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    cluster.wait_for_port(port)
    return process


def run(seconds: float = 20.0, clients: int = 8, engine_instances: int = 500) -> dict:
    db = fresh_database(E2E_SCHEMA)
    engine = process_engine(db)
    deploy_flow(engine, "two_steps.bpmn")
    with engine.transaction() as session:
        create_account(session, username="bench", password=PASSWORD, roles=["admin"], actor="bench")
    in_process = engine_rate.in_process_rate(engine, engine_instances, process_key=PROCESS_KEY)
    url = schema_url(E2E_SCHEMA)
    captured = capture(url)
    statements = [sum(1 for s, _, _ in r if s not in ("COMMIT", "ROLLBACK")) for r in captured["requests"]]
    result: dict = {"in_process_per_s": in_process, "statements_per_request": statements}
    with tempfile.TemporaryDirectory() as folder:
        capture_path = str(Path(folder) / "capture.pickle")
        with open(capture_path, "wb") as f:
            pickle.dump(captured, f)
        env = _env(url)
        for label, count in (("one_node", 1), ("three_nodes", 3)):
            ports = [cluster.free_port() for _ in range(count)]
            nodes = [cluster.node(port, env, scheduler=True) for port in ports]
            try:
                token = _token(ports[0])
                drive(ports, token, clients=clients, seconds=2)  # warm every worker
                groups = [node.process.pid for node in nodes]
                result[label] = drive(ports, token, clients=clients, seconds=seconds, server_groups=groups)
            finally:
                for node in nodes:
                    node.stop()
        port = cluster.free_port()
        floor = _floor_server(port, capture_path, url)
        try:
            drive([port], "floor", clients=clients, seconds=2)
            result["floor"] = drive([port], "floor", clients=clients, seconds=seconds, server_groups=[floor.pid])
        finally:
            os.killpg(floor.pid, 15)
            floor.wait(timeout=30)
    db.dispose()
    result["ratio_one_node_floor"] = result["one_node"]["instances_per_s"] / result["floor"]["instances_per_s"]
    result["ratio_three_nodes_floor"] = result["three_nodes"]["instances_per_s"] / result["floor"]["instances_per_s"]
    return result
