"""Message correlation: deliver a named message to the instances waiting for it, or start one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from atrium import audit
from atrium.errors import InvalidInput, NotFound
from storage.definitions import ProcessDefinition
from storage.instances import ACTIVE
from storage.messages import subscriptions_for
from storage.step_writes import InstanceRow, load_instance

from .start_forms import begin_at
from .submissions import check_outside_variables, check_size


@dataclass
class Delivery:
    instance_id: object
    process_key: str
    started: bool  # True when the message started a new instance


def correlate_message(
    engine,
    session: Session,
    *,
    name: str,
    payload: dict | None = None,
    correlation_keys: dict | None = None,
    actor: str | None = None,
    may_reach: Callable[[object], bool] | None = None,
) -> list[Delivery]:
    """Deliver to every waiting instance whose business key and variables match the keys.

    `correlation_keys` may hold `business_key` and any process variables; an instance
    matches when each given key equals its value there. With no waiting instance, a
    process with a matching message start event is started. NotFound when nothing waits.
    Messages come from outside (POST /api/messages): the payload, and the keys a started instance
    takes as variables, are checked like start variables (`engine.check_outside_data`); the payload sets
    no control variable at all, checked before any matching (or the answer would tell whether an
    instance matched). `may_reach(instance_id)`
    leaves out instances the sender may not see, as if they did not wait.
    """
    if not name:
        raise InvalidInput("a message needs a name", {"name": ["required"]})
    keys = dict(correlation_keys or {})
    check_size(payload, field="payload", limit=engine.settings.max_data_bytes)
    check_size(keys, field="correlation_keys", limit=engine.settings.max_data_bytes)
    if isinstance(payload, dict):
        check_outside_variables(payload, field="payload")
    deliveries: list[Delivery] = []
    subscriptions = subscriptions_for(session, message_name=name)
    for sub in subscriptions:
        if sub.instance_id is None:
            continue
        instance = load_instance(session, instance_id=sub.instance_id)
        if instance is None or instance.status != ACTIVE or (may_reach is not None and not may_reach(instance.id)):
            continue
        if not _matches(engine, session, instance, keys):
            continue
        if engine.deliver_message(session, instance, sub.task_id, name, payload, actor=actor):
            deliveries.append(Delivery(instance.id, instance.process_key, False))
    if deliveries:
        _audit(session, name, actor, deliveries)
        return deliveries
    for sub in subscriptions:
        if sub.definition_id is None:
            continue
        definition = session.get(ProcessDefinition, sub.definition_id)
        variables = {k: v for k, v in keys.items() if k != "business_key"}
        engine.check_outside_data(session, definition.id, variables, field="correlation_keys")

        def trigger(workflow, element_id=sub.element_id):
            begin_at(workflow, element_id)
            for task in workflow.get_tasks(spec_name=element_id, state=TaskState.WAITING):
                engine.deliver_in_step(workflow, task, payload)

        instance = engine.start_from_definition(
            session, definition, variables, keys.get("business_key"), actor, trigger
        )
        deliveries.append(Delivery(instance.id, instance.process_key, True))
    if not deliveries:
        raise NotFound(
            f"no process instance or start event is waiting for message '{name}'" + (f" with {keys}" if keys else "")
        )
    _audit(session, name, actor, deliveries)
    return deliveries


def _audit(session: Session, name: str, actor: str | None, deliveries: list[Delivery]) -> None:
    """One row per message sent, naming the instances it reached (a start also writes instance.start);
    neither payload nor keys, which may hold personal data."""
    audit.record(
        session,
        "message.send",
        actor=actor,
        target=f"message:{name}",
        detail={
            "reached": [str(d.instance_id) for d in deliveries if not d.started],
            "started": [str(d.instance_id) for d in deliveries if d.started],
        },
    )


def _matches(engine, session: Session, instance: InstanceRow, keys: dict) -> bool:
    if "business_key" in keys and instance.business_key != keys["business_key"]:
        return False
    others = {k: v for k, v in keys.items() if k != "business_key"}
    if not others:
        return True
    variables = engine.instance_variables(session, instance)
    return all(variables.get(k) == v for k, v in others.items())
