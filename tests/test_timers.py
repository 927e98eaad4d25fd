"""BPMN timers on the injectable clock: durations, dates, cycles, boundaries and start events."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from engine.scheduler import fire_due_timers
from storage.history import HistoryEntry
from storage.instances import ProcessInstance
from storage.tasks import Task, open_tasks
from storage.timers import Timer

from .conftest import deploy_files, make_process_engine
from .factories import start_instance as _start


def _timers(engine):
    with engine.transaction() as session:
        return sorted((t.element_id, t.due_at) for t in session.scalars(select(Timer)))


def _variables(engine, instance_id):
    with engine.transaction() as session:
        return engine.instance_variables(session, session.get(ProcessInstance, instance_id))


def test_duration_timer_fires_only_when_the_clock_passes_it(process_engine, clock):
    deploy_files(process_engine, "timers.bpmn")
    start = clock.now()
    instance = _start(process_engine, "timers_demo", variables={"reminders": 0})
    assert _timers(process_engine) == [("wait_hour", start + timedelta(hours=1))]
    clock.advance(minutes=59)
    assert fire_due_timers(process_engine) == 0
    clock.advance(minutes=1, seconds=1)
    assert fire_due_timers(process_engine) == 1
    with process_engine.transaction() as session:
        assert [t.element_id for t in open_tasks(session, instance_id=instance.id)] == ["work"]
    fired_at = start + timedelta(hours=1, seconds=1)
    assert _timers(process_engine) == [
        ("deadline", fired_at + timedelta(hours=2)),
        ("reminder", fired_at + timedelta(minutes=30)),
    ]


def test_non_interrupting_cycle_repeats_and_interrupting_boundary_cancels_the_task(process_engine, clock):
    deploy_files(process_engine, "timers.bpmn")
    instance = _start(process_engine, "timers_demo", variables={"reminders": 0})
    clock.advance(hours=1, seconds=1)
    fire_due_timers(process_engine)
    for expected in (1, 2):
        clock.advance(minutes=30, seconds=1)
        assert fire_due_timers(process_engine) == 1
        with process_engine.transaction() as session:
            assert [t.element_id for t in open_tasks(session, instance_id=instance.id)] == ["work"]
            reminders = session.scalar(
                select(func.count())
                .select_from(HistoryEntry)
                .where(HistoryEntry.element_id == "count_reminder", HistoryEntry.event == "completed")
            )
        assert reminders == expected
    assert [name for name, _ in _timers(process_engine)] == ["deadline"]  # R2: no third reminder
    clock.advance(hours=1)
    assert fire_due_timers(process_engine) == 1
    with process_engine.transaction() as session:
        current = session.get(ProcessInstance, instance.id)
        assert current.status == "completed"
        assert session.scalars(select(Task.status).where(Task.instance_id == instance.id)).all() == ["cancelled"]
        ends = session.scalars(
            select(HistoryEntry.element_id).where(
                HistoryEntry.instance_id == instance.id,
                HistoryEntry.event == "completed",
                HistoryEntry.element_type == "EndEvent",
            )
        ).all()
    assert sorted(ends) == ["expired", "reminded", "reminded"]
    assert _timers(process_engine) == []


def test_date_timer_computed_from_process_data(process_engine, clock):
    deploy_files(process_engine, "timers.bpmn")
    deadline = clock.now() + timedelta(days=3)
    instance = _start(process_engine, "date_timer", variables={"deadline": deadline.isoformat()})
    assert _timers(process_engine) == [("until", deadline)]
    clock.advance(days=3, seconds=1)
    assert fire_due_timers(process_engine) == 1
    with process_engine.transaction() as session:
        assert session.get(ProcessInstance, instance.id).status == "completed"


def test_timer_start_event_cycle_starts_an_instance_each_time(process_engine, clock):
    deploy_files(process_engine, "start_timer.bpmn")
    assert [(name, due.hour) for name, due in _timers(process_engine)] == [("every_hour", 10)]
    for hour in (10, 11, 12):
        clock.set(clock.now().replace(hour=hour, minute=0, second=1))
        assert fire_due_timers(process_engine) == 1
    with process_engine.transaction() as session:
        instances = session.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "hourly_report")).all()
        assert len(instances) == 3
        assert {t.element_id for t in session.scalars(select(Task))} == {"compile"}
    assert _timers(process_engine) == []  # R3 used up


def test_redeploying_moves_start_timers_to_the_new_version(process_engine):
    from engine.definitions import SourceFile
    from engine.deployments import deploy

    from .conftest import BPMN_DIR

    deploy_files(process_engine, "start_timer.bpmn")
    changed = (BPMN_DIR / "start_timer.bpmn").read_text().replace("Compile the report", "Compile the hourly report")
    with process_engine.transaction() as session:
        deploy(process_engine, session, [SourceFile("start_timer.bpmn", changed.encode())])
        rows = session.scalars(select(Timer)).all()
        assert len(rows) == 1 and rows[0].definition_id is not None
        from storage.definitions import ProcessDefinition

        assert session.get(ProcessDefinition, rows[0].definition_id).version == 2


def test_timers_survive_a_restart(db, services, clock):
    first = make_process_engine(db, services)
    deploy_files(first, "timers.bpmn")
    instance = _start(first, "date_timer", variables={"deadline": (clock.now() + timedelta(hours=1)).isoformat()})
    restarted = make_process_engine(db, services)  # nothing cached: all from the database
    clock.advance(hours=2)
    assert fire_due_timers(restarted) == 1
    with restarted.transaction() as session:
        assert session.get(ProcessInstance, instance.id).status == "completed"


def test_concurrent_pollers_never_fire_a_timer_twice(pg, services, clock):
    engines = [make_process_engine(pg, services) for _ in range(3)]
    deploy_files(engines[0], "timers.bpmn")
    due = clock.now() + timedelta(minutes=5)
    ids = []
    with engines[0].transaction() as session:
        for _ in range(60):
            ids.append(
                engines[0].start_instance(session, process_key="date_timer", variables={"deadline": due.isoformat()}).id
            )
    clock.advance(minutes=6)
    fired = []
    barrier = threading.Barrier(len(engines))

    def poll(engine):
        barrier.wait()
        fired.append(fire_due_timers(engine, batch_size=5))

    threads = [threading.Thread(target=poll, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(fired) == 60
    with engines[0].transaction() as session:
        per_instance = Counter(
            session.scalars(select(HistoryEntry.instance_id).where(HistoryEntry.event == "timer_fired"))
        )
        completed = session.scalar(
            select(func.count()).select_from(ProcessInstance).where(ProcessInstance.status == "completed")
        )
    assert set(per_instance) == set(ids) and set(per_instance.values()) == {1}
    assert completed == 60


def test_timers_of_an_instance_held_by_an_incident_wait_for_the_retry(process_engine, services, clock):
    from storage.instances import Incident

    deploy_files(process_engine, "timers.bpmn")
    instance = _start(
        process_engine, "date_timer", variables={"deadline": (clock.now() + timedelta(hours=1)).isoformat()}
    )
    with process_engine.transaction() as session:
        row = session.get(ProcessInstance, instance.id)
        row.status = "error"  # as if another branch had failed
        session.add(Incident(instance_id=instance.id, element_id="x", message="boom", created_at=clock.now()))
    clock.advance(hours=2)
    assert fire_due_timers(process_engine) == 0
    [(name, due)] = _timers(process_engine)
    assert name == "until" and due > clock.now()


def test_the_server_schedules_the_timer_job(db, services, clock):
    from api.app import create_app
    from atrium.settings import Settings

    # A long interval: the test calls the job itself, so the background thread never races it.
    app = create_app(
        Settings(database_url=db.url.render_as_string(hide_password=False), timer_poll_seconds=3600), run_scheduler=True
    )
    scheduler = app.extensions["atrium.scheduler"]
    try:
        job = scheduler.get_job("fire_due_timers")
        assert job.func.__wrapped__ is fire_due_timers and job.args == (app.extensions["atrium.engine"],)
        deploy_files(app.extensions["atrium.engine"], "timers.bpmn")
        instance = _start(
            app.extensions["atrium.engine"],
            "date_timer",
            variables={"deadline": (clock.now() + timedelta(minutes=1)).isoformat()},
        )
        clock.advance(minutes=2)
        assert job.func(*job.args) == 1
        with app.extensions["atrium.engine"].transaction() as session:
            assert session.get(ProcessInstance, instance.id).status == "completed"
    finally:
        scheduler.shutdown(wait=False)
