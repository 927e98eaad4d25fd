"""The outbox to the message broker (issue 15): with ATRIUM_AMQP_URL set, each event is published to the
topic exchange with its type as routing key, persistent, `message_id` its id, in position order, once
confirmed; the cursor makes a broker outage lose nothing. Uses the RabbitMQ at 127.0.0.1:5672
(guest/guest): skipped without one, failed without one under CI=true."""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select

from atrium import amqp
from storage.events import Event
from storage.webhooks import EventPublication

from .factories import make_client

BROKER = os.environ.get("ATRIUM_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
EXCHANGE = f"atrium.events.test-{uuid.uuid4().hex[:8]}"

pytestmark = pytest.mark.app(amqp_url=BROKER, amqp_exchange=EXCHANGE)


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def queue():
    """A queue of its own bound to every routing key of the test exchange; its messages by basic_get."""
    if not _broker_up():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no RabbitMQ at 127.0.0.1:5672: the broker tests must run in CI")
        pytest.skip("no RabbitMQ at 127.0.0.1:5672")
    connection = amqp.connect(BROKER)
    channel = connection.channel()
    amqp.declare(channel, EXCHANGE)
    name = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(queue=name, exchange=EXCHANGE, routing_key="#")

    def received() -> list[tuple]:
        found = []
        while True:
            method, properties, body = channel.basic_get(queue=name, auto_ack=True)
            if method is None:
                return found
            found.append((method.routing_key, properties, json.loads(body)))

    yield received
    connection.close()


def _event_ids(app) -> list[str]:
    with app.extensions["atrium.engine"].transaction() as session:
        return [str(i) for i in session.scalars(select(Event.id).order_by(Event.position))]


def _cursor(app) -> int:
    with app.extensions["atrium.engine"].transaction() as session:
        return session.scalar(select(EventPublication.position).where(EventPublication.name == "amqp")) or 0


def test_events_are_published_in_order_persistent_with_their_ids_and_once_confirmed_not_again(app, people, queue):
    engine = app.extensions["atrium.engine"]
    first = make_client(people["partner"], minimal=True, name="First Ltd")
    people["partner"].patch(f"/api/clients/{first['id']}", json={"tier": "A", "expected_version": first["version"]})
    make_client(people["partner"], minimal=True, name="Second Ltd")
    assert amqp.publish_events(engine) == 3
    got = queue()
    assert [p.message_id for _, p, _ in got] == _event_ids(app)
    assert [key for key, _, _ in got] == ["client.created", "client.changed", "client.created"]
    for key, properties, body in got:
        assert properties.delivery_mode == 2 and properties.content_type == "application/json"
        assert body["id"] == properties.message_id and body["type"] == key
    assert got[1][2]["aggregate"] == {"type": "client", "id": str(first["id"]), "sequence": 2}
    # Confirmed: the cursor moved, and a second poll publishes nothing again.
    assert _cursor(app) == got[-1][2]["position"]
    assert amqp.publish_events(engine) == 0 and queue() == []


def test_a_broker_that_is_down_loses_nothing_and_everything_is_published_once_it_is_back(
    app, people, queue, monkeypatch
):
    engine = app.extensions["atrium.engine"]
    make_client(people["partner"], minimal=True, name="Before Ltd")
    assert amqp.publish_events(engine) == 1
    before = _cursor(app)
    # The broker goes away (a closed port): nothing is published, the cursor stays.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    working = engine.settings
    monkeypatch.setattr(engine, "settings", replace(working, amqp_url=f"amqp://guest:guest@127.0.0.1:{port}/%2F"))
    make_client(people["partner"], minimal=True, name="During Ltd")
    make_client(people["partner"], minimal=True, name="Also During Ltd")
    assert amqp.publish_events(engine) == 0
    assert _cursor(app) == before
    # Back: both, in order, and nothing twice.
    monkeypatch.setattr(engine, "settings", working)
    assert amqp.publish_events(engine) == 2
    got = queue()
    assert [b["data"]["name"] for _, _, b in got] == ["Before Ltd", "During Ltd", "Also During Ltd"]
    assert [p.message_id for _, p, _ in got] == _event_ids(app)


def test_without_a_broker_url_nothing_is_published(app_factory):
    app = app_factory()
    assert app.extensions["atrium.engine"].settings.amqp_url is None
    assert amqp.publish_events(app.extensions["atrium.engine"]) == 0
