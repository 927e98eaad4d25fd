"""Concurrent steps on one instance: exactly one wins, the other gets Conflict; nothing is lost or run twice."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from atrium.errors import Conflict
from storage.history import HistoryEntry
from storage.step_writes import InstanceRow
from storage.tasks import Task, open_tasks

from .conftest import deploy_files, make_process_engine


def _race(engines, work):
    """Run work(engine) on each engine at the same moment; returns the outcomes."""
    barrier = threading.Barrier(len(engines))
    outcomes = [None] * len(engines)

    def run(i, engine):
        barrier.wait()
        try:
            outcomes[i] = work(engine)
        except Exception as exc:  # the outcome is what the test checks
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, e)) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_completions_of_the_same_task_one_wins(pg, services, clock):
    engines = [make_process_engine(pg, services) for _ in range(2)]
    deploy_files(engines[0], "parallel.bpmn")
    for _ in range(5):
        with engines[0].transaction() as session:
            instance = engines[0].start_instance(session, process_key="parallel_review")
            task_id = open_tasks(session, instance_id=instance.id)[0].id

        def complete(engine, task_id=task_id):
            with engine.transaction() as session:
                return engine.complete_task(session, task_id=task_id, data={})

        outcomes = _race(engines, complete)
        assert sum(isinstance(o, InstanceRow) for o in outcomes) == 1
        assert sum(isinstance(o, Conflict) for o in outcomes) == 1
        with engines[0].transaction() as session:
            completions = session.scalar(
                select(func.count())
                .select_from(HistoryEntry)
                .where(
                    HistoryEntry.instance_id == instance.id,
                    HistoryEntry.event == "completed",
                    HistoryEntry.element_id == session.get(Task, task_id).element_id,
                )
            )
            assert completions == 1
            assert session.get(Task, task_id).status == "completed"


def test_two_completions_of_parallel_tasks_on_one_instance_one_wins_and_the_other_can_retry(pg, services, clock):
    engines = [make_process_engine(pg, services) for _ in range(2)]
    deploy_files(engines[0], "parallel.bpmn")
    with engines[0].transaction() as session:
        instance = engines[0].start_instance(session, process_key="parallel_review")
        task_ids = [t.id for t in open_tasks(session, instance_id=instance.id)]

    def complete(engine):
        task_id = task_ids[engines.index(engine)]
        with engine.transaction() as session:
            return engine.complete_task(session, task_id=task_id, data={})

    outcomes = _race(engines, complete)
    losers = [i for i, o in enumerate(outcomes) if isinstance(o, Conflict)]
    assert len(losers) == 1 and sum(isinstance(o, InstanceRow) for o in outcomes) == 1
    # The loser's task is still open and completes on a second try; the join then fires once.
    loser_engine = engines[losers[0]]
    with loser_engine.transaction() as session:
        assert session.get(Task, task_ids[losers[0]]).status == "open"
        loser_engine.complete_task(session, task_id=task_ids[losers[0]], data={})
    with loser_engine.transaction() as session:
        assert [t.element_id for t in open_tasks(session, instance_id=instance.id)] == ["sign"]


def test_sqlite_serialises_writers_so_the_second_sees_the_first(db, services, clock):
    engines = [make_process_engine(db, services) for _ in range(2)]
    deploy_files(engines[0], "parallel.bpmn")
    with engines[0].transaction() as session:
        instance = engines[0].start_instance(session, process_key="parallel_review")
        task_id = open_tasks(session, instance_id=instance.id)[0].id

    def complete(engine):
        with engine.transaction() as session:
            return engine.complete_task(session, task_id=task_id, data={})

    outcomes = _race(engines, complete)
    assert sum(isinstance(o, InstanceRow) for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1
