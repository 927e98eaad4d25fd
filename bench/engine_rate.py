"""In-process engine rate vs the persisted rate through engine/ on PostgreSQL, on one flow.

The flow has a script task and a gateway condition, so the in-process rate is measured twice:
with scripts in the sandbox's worker processes (what the engine does) and with the same
restricted code run inside this process (what it did before the sandbox), to show the
sandbox's cost.
"""

from __future__ import annotations

import copy
import time

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine import script_worker
from engine.script_engine import AtriumScriptEngine
from engine.services import ServiceRegistry
from storage.instances import ProcessInstance

from .common import deploy_flow, fresh_database, process_engine

FLOW = "review.bpmn"  # start, user task, script, gateway, user task, end


class _ServerProcessScripts:
    """Stands in for the worker pool: the same restricted run, in this process, on copies.
    For comparison only: this is what the sandbox exists to avoid."""

    def call(self, request: dict, timeout: float) -> dict:
        if request["op"] == "exec":
            request = {**request, "data": copy.deepcopy(request["data"])}
        return script_worker.run(request)


def unsandboxed_script_engine(timeout_seconds: float) -> AtriumScriptEngine:
    script_engine = AtriumScriptEngine(ServiceRegistry(), timeout_seconds)
    script_engine.environment.pool = _ServerProcessScripts()
    return script_engine


def script_call_us(script_engine, expression: str, n: int = 2000) -> float:
    """Microseconds per evaluation of `expression` on a small task's data."""
    environment = script_engine.environment
    data = {"amount": 70, "score": 140, "requester": "ann", "note": "x" * 200}
    environment.evaluate(expression, data)
    started = time.perf_counter()
    for _ in range(n):
        environment.evaluate(expression, data)
    return (time.perf_counter() - started) / n * 1e6


def in_process_rate(engine, n: int, script_engine=None, process_key: str = "bench_review") -> float:
    """Instances/s with SpiffWorkflow alone: same spec, same (or the given) script engine, no persistence."""
    script_engine = script_engine or engine.script_engine
    with engine.transaction() as session:
        from storage.definitions import latest_definition

        spec, subprocess_specs = engine.spec_for(session, latest_definition(session, process_key=process_key).id)
    started = time.perf_counter()
    for _ in range(n):
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
        workflow.do_engine_steps()
        for data in ({"amount": 70}, {}):
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.set_data(**data)
            task.run()
            workflow.do_engine_steps()
        assert workflow.completed
    return n / (time.perf_counter() - started)


def persisted_rate(engine, n: int) -> tuple[float, list[int]]:
    """Instances/s through the engine: start and two completions, each its own transaction."""
    sizes = []
    started = time.perf_counter()
    for _ in range(n):
        with engine.transaction() as session:
            instance = engine.start_instance(session, process_key="bench_review")
            [task_id] = [t["id"] for t in instance.opened_tasks]
            sizes.append(len(instance.state))
        with engine.transaction() as session:
            instance = engine.complete_task(session, task_id=task_id, data={"amount": 70})
            [task_id] = [t["id"] for t in instance.opened_tasks]
            sizes.append(len(instance.state))
        with engine.transaction() as session:
            instance = engine.complete_task(session, task_id=task_id, data={})
            assert instance.status == "completed"
    return n / (time.perf_counter() - started), sizes


def durable_floor_rate(db, n: int, state: bytes) -> float:
    """Instances/s of the bare minimum any persisted engine does for this flow with raw SQL:
    three committed transactions (start, two completions), each writing the state and
    history rows. No engine, no ORM: the ceiling the persisted rate can approach."""
    import uuid

    raw = db.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS floor_state (id uuid PRIMARY KEY, state bytea, v int)")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS floor_history (id bigserial PRIMARY KEY, instance uuid, event text, at timestamptz)"
        )
        raw.commit()
        started = time.perf_counter()
        for _ in range(n):
            instance = uuid.uuid4()
            cur.execute("INSERT INTO floor_state VALUES (%s, %s, 1)", (instance, state))
            cur.executemany(
                "INSERT INTO floor_history (instance, event, at) VALUES (%s, %s, now())",
                [(instance, "started"), (instance, "ready")],
            )
            raw.commit()
            for version in (1, 2):
                cur.execute("SELECT state, v FROM floor_state WHERE id = %s", (instance,))
                cur.fetchone()
                cur.execute(
                    "UPDATE floor_state SET state = %s, v = v + 1 WHERE id = %s AND v = %s", (state, instance, version)
                )
                cur.executemany(
                    "INSERT INTO floor_history (instance, event, at) VALUES (%s, %s, now())",
                    [(instance, "completed"), (instance, "ready")],
                )
                raw.commit()
        return n / (time.perf_counter() - started)
    finally:
        raw.close()


def run(n: int = 1000) -> dict:
    db = fresh_database()
    engine = process_engine(db)
    deploy_flow(engine, FLOW)
    unsandboxed = unsandboxed_script_engine(engine.settings.script_timeout_seconds)
    in_process_rate(engine, 50)  # warm-up
    in_process_rate(engine, 50, unsandboxed)
    persisted_rate(engine, 50)
    inproc = in_process_rate(engine, n)
    inproc_unsandboxed = in_process_rate(engine, n, unsandboxed)
    # `score > 100` is a plain condition (answered in the server); `len(note) > score` calls a function (a worker).
    plain_us = script_call_us(engine.script_engine, "score > 100")
    call_us = script_call_us(engine.script_engine, "len(note) > score")
    call_unsandboxed_us = script_call_us(unsandboxed, "len(note) > score")
    persisted, sizes = persisted_rate(engine, n)
    floor = durable_floor_rate(db, n, b"x" * max(sizes))
    with engine.transaction() as session:
        total = session.scalar(select(func.sum(func.length(ProcessInstance.state))))
        count = session.scalar(select(func.count()).select_from(ProcessInstance))
    db.dispose()
    return {
        "in_process_per_s": inproc,
        "in_process_unsandboxed_per_s": inproc_unsandboxed,
        "sandbox_ratio": inproc / inproc_unsandboxed,
        "plain_condition_us": plain_us,
        "script_call_us": call_us,
        "script_call_unsandboxed_us": call_unsandboxed_us,
        "persisted_per_s": persisted,
        "ratio": persisted / inproc,
        "durable_floor_per_s": floor,
        "floor_ratio": floor / inproc,
        "state_bytes_waiting_max": max(sizes),
        "state_bytes_completed_avg": total / count,
    }
