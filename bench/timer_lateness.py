"""10,000 timers due within one minute, fired by scheduler worker processes on PostgreSQL.

Lateness is when the scheduler fired a timer minus when it was due, both on the real
clock, read back from the history table; a timer fired twice would show as two rows.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from engine.scheduler import fire_due_timers
from storage.history import HistoryEntry
from storage.timers import Timer

from .common import bench_database, deploy_flow, fresh_database, percentile, process_engine


def _worker(stop_at: float, poll_seconds: float, batch_size: int) -> None:
    db = bench_database(pool_size=2)
    engine = process_engine(db, timer_batch_size=batch_size)
    while time.time() < stop_at:
        if fire_due_timers(engine) == 0:
            time.sleep(poll_seconds)
    db.dispose()


def run(
    timers: int = 10_000,
    window_s: float = 60.0,
    workers: int = 2,
    poll_seconds: float = 0.2,
    batch_size: int = 100,
    lead_s: float | None = None,
) -> dict:
    db = fresh_database()
    engine = process_engine(db)
    deploy_flow(engine, "deadline.bpmn")
    # Timers fall due evenly over one minute starting a little after creation is done.
    created_at = time.time()
    lead_s = lead_s if lead_s is not None else 10 + timers * 0.006  # creation must finish first
    start_of_window = datetime.now(timezone.utc) + timedelta(seconds=lead_s)
    for chunk in range(0, timers, 500):
        with engine.transaction() as session:
            for i in range(chunk, min(chunk + 500, timers)):
                due = start_of_window + timedelta(seconds=window_s * i / timers)
                engine.start_instance(session, process_key="deadline_bench", variables={"deadline": due.isoformat()})
    creation_s = time.time() - created_at
    stop_at = start_of_window.timestamp() + window_s + 60
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(stop_at, poll_seconds, batch_size)) for _ in range(workers)]
    for p in procs:
        p.start()
    # Finish as soon as every timer has fired (or the deadline passes).
    while time.time() < stop_at:
        with engine.transaction() as session:
            if session.scalar(select(func.count()).select_from(Timer)) == 0:
                break
        time.sleep(1)
    for p in procs:
        p.terminate()
        p.join()
    with engine.transaction() as session:
        rows = session.execute(
            select(HistoryEntry.instance_id, HistoryEntry.at, HistoryEntry.detail).where(
                HistoryEntry.event == "timer_fired"
            )
        ).all()
        left = session.scalar(select(func.count()).select_from(Timer))
    db.dispose()
    lateness = [(at - datetime.fromisoformat(detail["due_at"])).total_seconds() for _, at, detail in rows]
    fired_per_instance = Counter(instance_id for instance_id, _, _ in rows)
    return {
        "timers": timers,
        "creation_s": creation_s,
        "fired": len(rows),
        "fired_twice": sum(1 for n in fired_per_instance.values() if n > 1),
        "not_fired": left,
        "p50_late_s": percentile(lateness, 50),
        "p99_late_s": percentile(lateness, 99),
        "max_late_s": max(lateness) if lateness else float("nan"),
        "workers": workers,
        "created_before_window": creation_s < lead_s,
    }
