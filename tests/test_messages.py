"""Messages: correlation by business key and variables; receive tasks, catch events, message starts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from atrium.errors import NotFound
from engine.messages import correlate_message
from storage.instances import ProcessInstance
from storage.messages import MessageSubscription
from storage.tasks import open_tasks

from .conftest import deploy_files


def _correlate(engine, name, **kwargs):
    with engine.transaction() as session:
        return correlate_message(engine, session, name=name, **kwargs)


def _status(engine, instance_id):
    with engine.transaction() as session:
        return session.get(ProcessInstance, instance_id).status


def test_message_reaches_only_the_instance_with_matching_business_key(process_engine):
    deploy_files(process_engine, "messages.bpmn")
    with process_engine.transaction() as session:
        first = process_engine.start_instance(session, process_key="order_flow", business_key="ORD-1")
        second = process_engine.start_instance(session, process_key="order_flow", business_key="ORD-2")
    reached = _correlate(
        process_engine, "payment_received", correlation_keys={"business_key": "ORD-2"}, payload={"paid": 120}
    )
    assert [d.instance_id for d in reached] == [second.id]
    with process_engine.transaction() as session:
        waiting = {
            s.instance_id: s.message_name
            for s in session.scalars(select(MessageSubscription))
            if s.instance_id is not None
        }
        assert waiting == {first.id: "payment_received", second.id: "shipped"}
        assert process_engine.instance_variables(session, session.get(ProcessInstance, second.id))["paid"] == 120
    _correlate(process_engine, "shipped", correlation_keys={"business_key": "ORD-2"})
    assert _status(process_engine, second.id) == "completed"
    assert _status(process_engine, first.id) == "active"


def test_message_correlates_on_process_variables(process_engine):
    deploy_files(process_engine, "messages.bpmn")
    with process_engine.transaction() as session:
        a = process_engine.start_instance(session, process_key="order_flow", variables={"order_id": 7})
        process_engine.start_instance(session, process_key="order_flow", variables={"order_id": 8})
    reached = _correlate(process_engine, "payment_received", correlation_keys={"order_id": 7})
    assert [d.instance_id for d in reached] == [a.id]


def test_message_start_event_starts_an_instance_with_the_payload(process_engine):
    deploy_files(process_engine, "messages.bpmn")
    [delivery] = _correlate(
        process_engine, "new_request", payload={"subject": "VAT question"}, correlation_keys={"business_key": "SR-9"}
    )
    assert delivery.started and delivery.process_key == "request_intake"
    with process_engine.transaction() as session:
        instance = session.get(ProcessInstance, delivery.instance_id)
        assert instance.business_key == "SR-9"
        [task] = open_tasks(session, instance_id=instance.id)
        assert task.element_id == "triage"
        assert process_engine.instance_variables(session, instance)["subject"] == "VAT question"


def test_a_message_nobody_waits_for_is_not_found(process_engine):
    deploy_files(process_engine, "messages.bpmn")
    with pytest.raises(NotFound):
        _correlate(process_engine, "shipped", correlation_keys={"business_key": "nobody"})
    with pytest.raises(NotFound):
        _correlate(process_engine, "unknown_message")
