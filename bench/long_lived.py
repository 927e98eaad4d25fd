"""A long-lived instance: a user task and a timer looped 1,000 times; step time and state size over time."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from atrium import clock as clock_module
from atrium.clock import FrozenClock
from engine.scheduler import fire_due_timers
from storage.history import HistoryEntry
from storage.instances import ProcessInstance
from storage.tasks import open_tasks

from .common import deploy_flow, fresh_database, process_engine


def run(iterations: int = 1000, sample_at: tuple[int, ...] = (10, 1000)) -> dict:
    db = fresh_database()
    engine = process_engine(db)
    previous = clock_module.set_clock(FrozenClock())
    try:
        deploy_flow(engine, "loop.bpmn")
        with engine.transaction() as session:
            instance = engine.start_instance(
                session, process_key="loop_timer", variables={"count": 0, "limit": iterations + 1}
            )
        samples = {}
        for iteration in range(1, iterations + 1):
            began = time.perf_counter()
            with engine.transaction() as session:
                [task] = open_tasks(session, instance_id=instance.id)
                engine.complete_task(session, task_id=task.id, data={"visit": iteration})
            complete_s = time.perf_counter() - began
            clock_module.get_clock().advance(minutes=1, seconds=1)
            began = time.perf_counter()
            assert fire_due_timers(engine) == 1
            fire_s = time.perf_counter() - began
            if iteration in sample_at:
                with engine.transaction() as session:
                    row = session.scalars(
                        select(ProcessInstance)
                        .options(undefer(ProcessInstance.state))
                        .where(ProcessInstance.id == instance.id)
                    ).one()
                    history = session.scalar(
                        select(func.count()).select_from(HistoryEntry).where(HistoryEntry.instance_id == instance.id)
                    )
                samples[iteration] = {
                    "complete_ms": complete_s * 1000,
                    "timer_ms": fire_s * 1000,
                    "state_bytes": len(row.state),
                    "history_rows": history,
                }
        # Cold steps: load from the database instead of the in-process cache.
        engine.workflows.clear()
        began = time.perf_counter()
        with engine.transaction() as session:
            [task] = open_tasks(session, instance_id=instance.id)
            engine.complete_task(session, task_id=task.id, data={})
        samples["cold_step_ms"] = (time.perf_counter() - began) * 1000
        return samples
    finally:
        clock_module.set_clock(previous)
        db.dispose()
