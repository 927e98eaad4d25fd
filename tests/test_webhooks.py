"""Webhooks (issue 15): an admin subscribes an endpoint; the outbox's events are POSTed to it signed, retried
with backoff on the moved clock, dead-lettered and resent, in order per client; URLs that would reach
inside the network are refused; the secret is shown once; only admins manage subscriptions."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from atrium import events, webhooks
from storage.events import Event
from storage.webhooks import WebhookDelivery

from .api_helpers import people_in_two_teams
from .factories import make_client

NAMES = iter(range(1, 1000))

pytestmark = pytest.mark.app(firm=True, webhook_allow_private=True, webhook_max_attempts=3)


class Receiver:
    """A real HTTP endpoint on 127.0.0.1: records each request; `codes` says what each path answers."""

    def __init__(self):
        self.requests: list[dict] = []
        self.codes: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                code = receiver.codes.get(self.path, 200)
                self.send_response(code)
                if code in (301, 302, 307):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def bodies(self, path: str = "/hook") -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if r["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def people(app):
    return people_in_two_teams(app)


def subscribe(admin, url: str, types=("*",)) -> dict:
    made = admin.post("/api/webhooks", json={"url": url, "event_types": list(types)})
    assert made.status_code == 201, made.json
    return made.json


def run(app) -> dict:
    return webhooks.webhook_job(app.extensions["atrium.engine"])


def deliveries(admin, subscription_id: int, **query) -> list[dict]:
    found = admin.get(f"/api/webhooks/{subscription_id}/deliveries", query_string=query)
    assert found.status_code == 200, found.json
    return found.json["items"]


def test_a_subscription_receives_its_event_types_signed_once_and_its_secret_is_shown_once(app, people, receiver, clock):
    admin = people["admin"]
    before = make_client(people["partner"], minimal=True, name="Before Ltd")  # not delivered
    subscription = subscribe(admin, receiver.url(), types=["client.created"])
    secret = subscription["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    # Never shown again: not on reading, listing or changing it, not in the audit trail.
    assert "secret" not in admin.get(f"/api/webhooks/{subscription['id']}").json
    assert all("secret" not in s for s in admin.get("/api/webhooks").json["items"])
    changed = admin.patch(f"/api/webhooks/{subscription['id']}", json={"active": True})
    assert changed.status_code == 200 and "secret" not in changed.json
    assert secret not in json.dumps(admin.get("/api/audit?page_size=200").json)

    client = make_client(people["partner"], minimal=True, name="Harbour Logistics Ltd")
    people["partner"].patch(f"/api/clients/{client['id']}", json={"tier": "A", "expected_version": client["version"]})
    assert run(app)["delivered"] == 1
    assert run(app) == {"fanned_out": 0, "delivered": 0, "pending": 0, "dead": 0}  # nothing twice

    [request] = receiver.requests
    body, headers = request["body"], request["headers"]
    envelope = json.loads(body)
    assert envelope["type"] == "client.created" and envelope["data"]["client_id"] == client["id"] != before["id"]
    assert headers["Atrium-Event-Id"] == envelope["id"] and headers["Atrium-Event-Type"] == "client.created"
    assert headers["Content-Type"] == "application/json"
    # What a subscriber does: recompute the HMAC over "t.body" and check t is recent.
    t = int(headers["Atrium-Timestamp"])
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["Atrium-Signature"] == f"t={t},v1={expected}"
    now = clock.now().timestamp()
    assert webhooks.verify(secret, headers["Atrium-Signature"], body, now=now)
    assert not webhooks.verify(secret, headers["Atrium-Signature"], body + b" ", now=now)
    assert not webhooks.verify("whsec_other", headers["Atrium-Signature"], body, now=now)
    assert not webhooks.verify(secret, headers["Atrium-Signature"], body, now=now + 301)  # a replay, later

    [delivery] = deliveries(admin, subscription["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 1, 200)
    assert delivery["event_id"] == envelope["id"]

    # A rotated secret signs from then on; the old one no longer verifies.
    rotated = admin.post(f"/api/webhooks/{subscription['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json["secret"] not in (secret, None)
    make_client(people["partner"], minimal=True, name="Third Co")
    run(app)
    last = receiver.requests[-1]
    assert webhooks.verify(rotated.json["secret"], last["headers"]["Atrium-Signature"], last["body"], now=now)
    assert not webhooks.verify(secret, last["headers"]["Atrium-Signature"], last["body"], now=now)


def test_a_failing_endpoint_is_retried_with_backoff_dead_lettered_and_resent_and_a_client_stays_in_order(
    app, people, receiver, clock
):
    admin, partner = people["admin"], people["partner"]
    subscription = subscribe(admin, receiver.url())
    first = make_client(partner, minimal=True, name="First Ltd")
    other = make_client(partner, minimal=True, name="Other Ltd")
    receiver.codes["/hook"] = 500
    # The first client's later event must wait for its first one.
    partner.patch(f"/api/clients/{first['id']}", json={"tier": "A", "expected_version": first["version"]})

    assert run(app)["pending"] == 2  # first's creation and other's creation tried; first's change waits
    tried = [b["data"]["client_id"] for b in receiver.bodies()]
    assert sorted(tried) == sorted([first["id"], other["id"]])
    items = {d["event_type"] + str(d["aggregate_id"]): d for d in deliveries(admin, subscription["id"])}
    created = items[f"client.created{first['id']}"]
    assert created["attempts"] == 1 and created["last_status_code"] == 500 and "HTTP 500" in created["last_error"]
    assert items[f"client.changed{first['id']}"]["attempts"] == 0
    # Not again before its time: 1 minute, with up to 25 % jitter.
    run(app)
    assert len(receiver.requests) == 2
    clock.advance(seconds=76)
    run(app)
    assert len(receiver.requests) == 4
    clock.advance(seconds=151)  # 2 minutes and jitter
    run(app)  # the third try: ATRIUM_WEBHOOK_MAX_ATTEMPTS=3 here
    dead = deliveries(admin, subscription["id"], status="dead")
    assert sorted(d["aggregate_id"] for d in dead) == sorted([str(first["id"]), str(other["id"])])
    assert all(d["attempts"] == 3 for d in dead)
    clock.advance(hours=7)
    run(app)
    assert len(receiver.requests) == 6  # the dead are not tried; first's change is held back behind its dead one

    # The endpoint is fixed; an admin resends the first client's dead letter: it and then its change arrive.
    receiver.codes["/hook"] = 200
    [first_dead] = [d for d in dead if d["aggregate_id"] == str(first["id"])]
    resent = admin.post(f"/api/webhooks/{subscription['id']}/deliveries/{first_dead['id']}/resend")
    assert resent.status_code == 200 and resent.json["status"] == "pending" and resent.json["attempts"] == 0
    again = admin.post(f"/api/webhooks/{subscription['id']}/deliveries/{first_dead['id']}/resend")
    assert again.status_code == 409  # already pending
    assert run(app)["delivered"] == 2
    delivered = [(b["type"], b["data"]["client_id"]) for b in receiver.bodies()[6:]]
    assert delivered == [("client.created", first["id"]), ("client.changed", first["id"])]
    # The bulk resend of what is still dead.
    bulk = admin.post(f"/api/webhooks/{subscription['id']}/deliveries/resend-dead")
    assert bulk.status_code == 200 and bulk.json == {"resent": 1}
    run(app)
    assert deliveries(admin, subscription["id"], status="dead") == []
    assert [b["data"]["client_id"] for b in receiver.bodies()[8:]] == [other["id"]]
    assert len({b["id"] for b in receiver.bodies()}) == 3  # the same event ids on every try


def test_a_dead_delivery_skipped_lets_its_clients_later_events_go_on(app, people, receiver, clock):
    admin, partner = people["admin"], people["partner"]
    subscription = subscribe(admin, receiver.url())
    receiver.codes["/hook"] = 404
    client = make_client(partner, minimal=True, name=f"Client {next(NAMES)}")
    for _ in range(3):
        run(app)
        clock.advance(minutes=10)
    [dead] = deliveries(admin, subscription["id"], status="dead")
    receiver.codes["/hook"] = 204
    partner.patch(f"/api/clients/{client['id']}", json={"tier": "A", "expected_version": client["version"]})
    run(app)
    assert len(receiver.requests) == 3  # held back
    pending = deliveries(admin, subscription["id"], status="pending")
    assert admin.post(f"/api/webhooks/{subscription['id']}/deliveries/{pending[0]['id']}/skip").status_code == 409
    skipped = admin.post(f"/api/webhooks/{subscription['id']}/deliveries/{dead['id']}/skip")
    assert skipped.status_code == 200 and skipped.json["status"] == "skipped"
    run(app)
    assert [b["type"] for b in receiver.bodies()[3:]] == ["client.changed"]


def test_redirects_are_not_followed_and_private_addresses_are_refused_at_delivery_too(
    app, people, receiver, clock, monkeypatch
):
    admin = people["admin"]
    subscription = subscribe(admin, receiver.url("/moved"))
    receiver.codes["/moved"] = 302
    make_client(people["partner"], minimal=True, name=f"Client {next(NAMES)}")
    run(app)
    assert [r["path"] for r in receiver.requests] == ["/moved"]  # never /elsewhere
    [delivery] = deliveries(admin, subscription["id"])
    assert (delivery["status"], delivery["last_status_code"]) == ("pending", 302)

    # The setting turned off after the subscription was made (or DNS now says 127.0.0.1): refused, not sent.
    engine = app.extensions["atrium.engine"]
    monkeypatch.setattr(engine, "settings", replace(engine.settings, webhook_allow_private=False))
    clock.advance(minutes=5)
    webhooks.deliver(engine)
    assert len(receiver.requests) == 1
    with engine.transaction() as session:
        row = session.scalar(select(WebhookDelivery))
        assert row.attempts == 2 and row.last_error.startswith("refused: 127.0.0.1")


@pytest.mark.app(firm=True)  # the production default: no private addresses, https only
def test_urls_reaching_inside_the_network_are_refused_naming_the_url(app, people):
    admin = people["admin"]
    for url in (
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "https://10.0.0.8/hook",
        "https://192.168.1.1/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "http://8.8.8.8/hook",  # plain http
        "ftp://8.8.8.8/hook",
        "https://user:secret@8.8.8.8/hook",
        "https://no-such-host.invalid/hook",
        "not a url",
        "https://8.8.8.8:99999/hook",
    ):
        refused = admin.post("/api/webhooks", json={"url": url, "event_types": ["*"]})
        assert refused.status_code == 422, (url, refused.json)
        assert refused.mimetype == "application/problem+json" and "url" in refused.json["errors"], url
    # A public address over https is accepted.
    assert admin.post("/api/webhooks", json={"url": "https://8.8.8.8/hook", "event_types": ["*"]}).status_code == 201


def test_only_admins_manage_webhooks_and_hostile_input_is_refused(app, people, receiver):
    admin = people["admin"]
    subscription = subscribe(admin, receiver.url())
    sid = subscription["id"]
    endpoints = [
        ("get", "/api/webhooks", None),
        ("post", "/api/webhooks", {"url": receiver.url(), "event_types": ["*"]}),
        ("get", f"/api/webhooks/{sid}", None),
        ("patch", f"/api/webhooks/{sid}", {"active": False}),
        ("delete", f"/api/webhooks/{sid}", None),
        ("post", f"/api/webhooks/{sid}/rotate-secret", None),
        ("get", f"/api/webhooks/{sid}/deliveries", None),
        ("post", f"/api/webhooks/{sid}/deliveries/1/resend", None),
        ("post", f"/api/webhooks/{sid}/deliveries/1/skip", None),
        ("post", f"/api/webhooks/{sid}/deliveries/resend-dead", None),
    ]
    anonymous = app.test_client()
    for method, url, body in endpoints:
        kw = {"json": body} if body is not None else {}
        assert getattr(anonymous, method)(url, **kw).status_code == 401, url
        for role in ("partner", "manager", "account_manager", "service_desk", "viewer"):
            assert getattr(people[role], method)(url, **kw).status_code == 403, (role, url)
    assert admin.get(f"/api/webhooks/{sid}").status_code == 200  # nothing was changed or deleted

    extra = admin.post("/api/webhooks", json={"url": receiver.url(), "event_types": ["*"], "secret": "mine"})
    assert extra.status_code == 422 and "secret" in extra.json["errors"]
    unknown = admin.post("/api/webhooks", json={"url": receiver.url(), "event_types": ["client.stolen"]})
    assert unknown.status_code == 422 and "event_types" in unknown.json["errors"]
    empty = admin.post("/api/webhooks", json={"url": receiver.url(), "event_types": []})
    assert empty.status_code == 422 and "event_types" in empty.json["errors"]
    assert admin.patch(f"/api/webhooks/{sid}", json={"fanned_out_position": 0}).status_code == 422
    assert admin.get("/api/webhooks/999999").status_code == 404
    assert admin.get(f"/api/webhooks/{sid}/deliveries?status=lost").status_code == 422
    # Another subscription's delivery is not found through this one.
    other = subscribe(admin, receiver.url("/other"))
    make_client(people["partner"], minimal=True, name=f"Client {next(NAMES)}")
    run(app)
    [theirs] = deliveries(admin, other["id"])
    assert admin.post(f"/api/webhooks/{sid}/deliveries/{theirs['id']}/resend").status_code == 404
    assert admin.delete(f"/api/webhooks/{sid}").status_code == 204
    assert admin.get(f"/api/webhooks/{sid}").status_code == 404


@pytest.mark.app(firm=True)
def test_a_problem_is_told_in_chinese_to_a_chinese_reader(app, people):
    refused = people["admin"].post(
        "/api/webhooks",
        json={"url": "https://10.0.0.8/hook", "event_types": ["*"]},
        headers={"Accept-Language": "zh-CN"},
    )
    assert refused.status_code == 422
    assert refused.json["errors"]["url"] == ["Webhook 地址不得指向私有、回环或链路本地地址"]


def test_an_event_committed_after_a_later_position_is_not_skipped(app, people, receiver):
    """A transaction that drew a lower position but commits after one with a higher position: fan-out does
    not pass it by. On PostgreSQL it waits for the writer in flight (and gives up this poll after 2 s); on
    SQLite writers are serialised, so it cannot happen."""
    engine = app.extensions["atrium.engine"]
    admin = people["admin"]
    subscription = subscribe(admin, receiver.url())

    def erased(session, client_id):
        data = {"client_id": client_id, "erased_at": "2026-01-05T09:00:00+00:00"}
        event_id = events.emit(session, "client.erased", aggregate=("client", client_id), data=data, actor="x")
        return session.scalar(select(Event).where(Event.id == event_id))

    with engine.transaction() as slow:
        if slow.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite serialises writers")
        lower = erased(slow, 9001).position
        with engine.transaction() as quick:
            higher = erased(quick, 9002).position
        assert lower < higher
        assert webhooks.fan_out(engine) == 0  # the writer of `lower` is in flight: wait
    assert webhooks.fan_out(engine) == 2
    webhooks.deliver(engine)
    assert sorted(b["data"]["client_id"] for b in receiver.bodies()) == [9001, 9002]
    assert {d["status"] for d in deliveries(admin, subscription["id"])} == {"delivered"}


def test_master_key_rotation_reseals_webhook_secrets_and_deliveries_still_verify(app, people, receiver, keyring, db):
    import os

    from atrium.encryption import rotate
    from storage import crypto
    from storage.db import make_session_factory
    from storage.webhooks import WebhookSubscription

    subscription = subscribe(people["admin"], receiver.url())
    new = crypto.Keyring(os.urandom(32), [keyring.current])
    crypto.use_keyring(new)
    assert rotate(make_session_factory(db), actor="ops") >= 1
    with app.extensions["atrium.engine"].transaction() as session:
        row = session.get(WebhookSubscription, subscription["id"])
        assert row.secret_kek_id == new.current_id and subscription["secret"] not in row.secret_sealed
    crypto.use_keyring(crypto.Keyring(new.current))  # the old master key retired
    make_client(people["partner"], minimal=True, name="After Rotation Ltd")
    run(app)
    [request] = receiver.requests
    t = int(request["headers"]["Atrium-Timestamp"])
    assert webhooks.verify(subscription["secret"], request["headers"]["Atrium-Signature"], request["body"], now=t)
