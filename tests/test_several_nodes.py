"""Several nodes against one PostgreSQL (issue 15): two scheduler processes fire each timer once, a singleton
job runs in one scheduler at a time, and a short fault run: 2 `atrium serve --no-scheduler` nodes and
2 `atrium scheduler` processes behind a round-robin proxy, one node SIGKILLed mid-load.

PostgreSQL only (the `pg` fixture: skips without ATRIUM_TEST_DATABASE_URL, fails under CI=true). The
database is never restarted here (other test schemas share it); `python -m bench --only faults` does."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import text

from bench import cluster
from engine.definitions import SourceFile
from engine.deployments import deploy
from engine.scheduler import _job, fire_due_timers
from storage.db import job_lock, make_engine

from .conftest import make_process_engine


def _deploy_timed_task(engine) -> None:
    from bench.common import FLOWS

    with engine.transaction() as session:
        deploy(engine, session, [SourceFile(cluster.FLOW, (FLOWS / cluster.FLOW).read_bytes())])


def test_two_schedulers_fire_each_timer_exactly_once(pg, services, clock):
    engine = make_process_engine(pg, services)
    _deploy_timed_task(engine)
    count = 40
    for n in range(count):
        with engine.transaction() as session:
            row = engine.start_instance(session, process_key=cluster.PROCESS_KEY, business_key=f"t{n}")
            task = session.execute(
                text("SELECT id FROM tasks WHERE instance_id = :i AND status = 'open'"), {"i": row.id}
            ).scalar()
        with engine.transaction() as session:
            engine.complete_task(session, task_id=task)
    clock.advance(timedelta(seconds=3))
    # Two scheduler processes: each its own connection pool and engine, firing in small batches at once.
    others = [make_engine(pg.url.render_as_string(hide_password=False)) for _ in range(2)]
    schedulers = [make_process_engine(db, services) for db in others]
    fired = [0, 0]
    start = threading.Barrier(2)

    def poll(i):
        start.wait()
        while (n := fire_due_timers(schedulers[i], batch_size=3)) or fired[i] == 0:
            fired[i] += n
            if n == 0:
                break

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in others:
        db.dispose()
    with pg.connect() as conn:
        per_instance = conn.execute(
            text(
                "SELECT i.id, (SELECT count(*) FROM history h WHERE h.instance_id = i.id AND h.event = 'timer_fired') "
                "FROM process_instances i"
            )
        ).all()
        left = conn.execute(text("SELECT count(*) FROM timers")).scalar()
    assert sum(fired) == count and left == 0
    assert sorted(n for _, n in per_instance) == [1] * count
    assert all(fired), f"both schedulers should have fired some: {fired}"


def test_a_singleton_job_runs_in_one_scheduler_at_a_time(pg, services):
    engine = make_process_engine(pg, services)
    runs = []
    job = _job(lambda e: runs.append(1) or "ran", "test_singleton", singleton=True)
    with job_lock(pg, "test_singleton") as first:  # another scheduler process is running it
        assert first is True
        assert job(engine) is None and runs == []
    assert job(engine) == "ran" and runs == [1]


def test_a_failing_job_is_logged_and_not_raised(pg, services, caplog):
    engine = make_process_engine(pg, services)

    def broken(_engine):
        raise ConnectionError("server closed the connection unexpectedly")

    assert _job(broken, "broken")(engine) is None
    assert "scheduler job broken failed" in caplog.text


def test_nodes_and_schedulers_survive_a_node_killed_mid_load(pg, services, tmp_path):
    cluster.setup_database(pg, lambda db: make_process_engine(db, services))
    env = cluster.environment(pg.url.render_as_string(hide_password=False))
    ports = [cluster.free_port() for _ in range(2)]
    procs = []
    proxy = None
    try:
        nodes = [cluster.node(p, env, log_path=str(tmp_path / f"node{i}.log")) for i, p in enumerate(ports)]
        procs += nodes
        procs += [cluster.scheduler(env, log_path=str(tmp_path / f"scheduler{i}.log")) for i in range(2)]
        proxy = cluster.RoundRobinProxy(cluster.free_port(), ports)
        proxy.start()
        token = cluster.login(proxy.port)
        tally = cluster.Tally()
        began = time.time()
        stop_at, drain_until = began + 12, began + 50
        per_client: list[list] = [[] for _ in range(3)]
        clients = [
            threading.Thread(target=cluster.client_loop, args=(proxy.port, tally, stop_at, drain_until, mine, token))
            for mine in per_client
        ]
        for t in clients:
            t.start()
        time.sleep(4)
        nodes[0].kill()  # SIGKILL to gunicorn's master and workers: a machine gone
        time.sleep(2)
        nodes[0].start()
        for t in clients:
            t.join()
        instances = [i for mine in per_client for i in mine]
        result = cluster.check(pg, instances)
        figures = cluster.http_figures(tally, db_down=None)
    finally:
        if proxy is not None:
            proxy.close()
        for proc in procs:
            proc.stop()
    print({k: v for k, v in result.items() if k != "client_not_done"}, figures)  # shown with -rA
    assert result["started_by_clients"] >= 5, result
    assert result["client_not_done"] == [], result
    assert result["misplaced"] == [] and result["unknown_instances"] == [], result
    assert result["timer_fired_twice"] == [] and result["timer_not_fired"] == [], result
    assert result["completed"] == result["started_by_clients"] == result["timer_fired_once"], result
    # A start retried after it had committed (its answer lost with the node) leaves a second instance at its
    # first task until starts honour Idempotency-Key; it must be no more than that.
    assert result["duplicate_starts"] == result["duplicates_waiting_at_first_task"], result
    assert figures["server_errors_outside_db_restart"] == [], figures
    assert figures["gave_up"] == [], figures


def test_the_settings_and_the_command_line_of_several_nodes(monkeypatch, tmp_path):
    from atrium import cli
    from atrium.settings import Settings

    assert Settings.from_env({}).run_scheduler is True and Settings.from_env({}).database_replica_url is None
    env = {"ATRIUM_RUN_SCHEDULER": "false", "ATRIUM_DATABASE_REPLICA_URL": "postgresql+psycopg://replica/db"}
    settings = Settings.from_env(env)
    assert settings.run_scheduler is False and settings.database_replica_url == "postgresql+psycopg://replica/db"
    served = []
    monkeypatch.setattr("api.server.serve", lambda settings, **kw: served.append(settings))
    monkeypatch.setenv("ATRIUM_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    assert cli.main(["migrate"]) == 0
    assert cli.main(["serve", "--no-scheduler"]) == 0 and cli.main(["serve"]) == 0
    assert [s.run_scheduler for s in served] == [False, True]


def test_a_serving_only_node_starts_no_scheduler(db, monkeypatch):
    from api.server import AtriumServer
    from atrium.settings import Settings

    built = []
    monkeypatch.setattr("api.app.create_app", lambda settings, run_scheduler: built.append(run_scheduler) or "app")
    server = AtriumServer.__new__(AtriumServer)  # its load() alone, without gunicorn's arbiter
    for run in (False, True):
        server.settings = Settings(database_url=db.url.render_as_string(hide_password=False), run_scheduler=run)
        assert server.load() == "app"
    assert built == [False, True]
