"""Fault bench (`python -m bench --only faults`, a few minutes): 3 `atrium serve --no-scheduler` nodes and
2 `atrium scheduler` processes on one PostgreSQL, behind bench/cluster.py's round-robin proxy; clients
start instances of `bench_timed_task` (a task, a PT2S timer, a task) and complete the tasks, retrying
failed requests. During the load: one node SIGKILLed (and restarted), one scheduler SIGKILLed (and
restarted), and PostgreSQL restarted once (`pg_ctlcluster 15 main restart`, as root). Afterwards the
checks of bench/cluster.py: every instance completed (or waiting exactly where it should), each timer
fired exactly once, no 5xx outside the database-restart window, every retried request succeeded; and the
clients' events (each client made and changed twice during the load) all reached a webhook receiver, each
client's in order, none missing (bench/event_receiver.py)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time

from . import cluster
from .common import SCHEMA, fresh_database, process_engine, schema_url
from .event_receiver import EventReceiver

FAULT_SCHEMA = f"{SCHEMA}_faults"
PG_RESTART = os.environ.get("ATRIUM_BENCH_PG_RESTART", "pg_ctlcluster 15 main restart")


def run(load_seconds: float = 60.0, clients: int = 6) -> dict:
    db = fresh_database(FAULT_SCHEMA)
    cluster.setup_database(db, process_engine)
    # Every event goes to a webhook receiver of the bench's own, on loopback (allowed for this run only).
    receiver = EventReceiver()
    env = cluster.environment(schema_url(FAULT_SCHEMA), ATRIUM_WEBHOOK_ALLOW_PRIVATE="true")
    ports = [cluster.free_port() for _ in range(3)]
    logs = tempfile.mkdtemp(prefix="atrium-faults-")
    procs, events = [], []
    proxy = None
    db_down = None
    try:
        nodes = [cluster.node(p, env, log_path=f"{logs}/node{i}.log") for i, p in enumerate(ports)]
        schedulers = [cluster.scheduler(env, log_path=f"{logs}/scheduler{i}.log") for i in range(2)]
        procs = nodes + schedulers
        proxy = cluster.RoundRobinProxy(cluster.free_port(), ports)
        proxy.start()
        token = cluster.login(proxy.port)
        status, hook = cluster.RetryingClient(proxy.port, cluster.Tally(), token).call(
            "POST", "/api/webhooks", {"url": receiver.url, "event_types": ["*"]}
        )
        if status != 201:
            raise RuntimeError(f"webhook subscription refused: {status} {hook}")
        receiver.secret = hook["secret"]
        tally = cluster.Tally()
        began = time.time()
        stop_at, drain_until = began + load_seconds, began + load_seconds + 90
        per_client: list[list] = [[] for _ in range(clients)]
        threads = [
            threading.Thread(
                target=cluster.client_loop, args=(proxy.port, tally, stop_at, drain_until, mine, token, True)
            )
            for mine in per_client
        ]
        for t in threads:
            t.start()

        def at(offset: float) -> None:
            time.sleep(max(0.0, began + offset - time.time()))

        at(load_seconds * 0.2)
        nodes[1].kill()
        events.append((round(time.time() - began, 1), "node 1 SIGKILLed"))
        time.sleep(5)
        nodes[1].start()  # returns once it answers /healthz
        events.append((round(time.time() - began, 1), "node 1 restarted (answering)"))
        at(load_seconds * 0.4)
        schedulers[0].kill()
        events.append((round(time.time() - began, 1), "scheduler 0 SIGKILLed"))
        time.sleep(5)
        schedulers[0].start()
        events.append((round(time.time() - began, 1), "scheduler 0 restarted"))
        at(load_seconds * 0.6)
        down_from = time.time()
        restart = subprocess.run(PG_RESTART.split(), capture_output=True, text=True)
        db_down = (down_from, time.time())
        events.append(
            (
                round(down_from - began, 1),
                f"`{PG_RESTART}` took {db_down[1] - down_from:.1f} s (rc {restart.returncode})",
            )
        )
        for t in threads:
            t.join()
        finished = time.time() - began
        instances = [i for mine in per_client for i in mine]
        db.dispose()  # its connections died with the restart
        result = cluster.check(db, instances)
        result["deliveries_still_pending"] = receiver.wait_for_deliveries(db)
        result.update(receiver.check(db))
        figures = cluster.http_figures(tally, db_down=db_down)
        alive = {f"node{i}": n.process.poll() is None for i, n in enumerate(nodes)}
        alive.update({f"scheduler{i}": s.process.poll() is None for i, s in enumerate(schedulers)})
    finally:
        if proxy is not None:
            proxy.close()
        for proc in procs:
            proc.stop()
        receiver.close()
        db.dispose()
    return {
        **result,
        **figures,
        "events": events,
        "alive_at_end": alive,
        "seconds": finished,
        "load_seconds": load_seconds,
        "logs": logs,
        "clients": clients,
    }
