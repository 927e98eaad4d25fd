"""Webhooks: the outbox's events POSTed to subscribers' HTTPS endpoints, signed, retried, ordered per aggregate.

Subscriptions are managed by admins (api/webhooks.py); each change is audited here. Two scheduler jobs:

- `fan_out` gives each active subscription a delivery row per new matching event. A subscription keeps
  the position up to which it was fanned out. Positions are handed out when a transaction inserts its event,
  not when it commits, so an event with a lower position may commit after one with a higher position: a
  plain "position > last seen" would skip it for good. So fan-out only goes up to a *safe position*
  (`safe_position`): on PostgreSQL it takes `LOCK TABLE events IN SHARE MODE` in a short transaction of its
  own, which waits until every transaction that has inserted an event so far has committed or rolled back
  (an insert holds ROW EXCLUSIVE on the table from before its position is drawn), and reads the highest
  position then: no position at or below it can appear later. The lock waits at most 2 s (then fan-out
  skips this poll), and writers that emit meanwhile wait for that short transaction. On SQLite writers are
  serialised by the database lock, so positions commit in order and the highest visible one is safe.
- `deliver` POSTs pending deliveries whose time has come: never one while an earlier delivery of the same
  aggregate (a client) to the same subscription is pending or dead, so a subscriber receives a client's
  events in order. Several scheduler processes may run it: rows are claimed `FOR UPDATE SKIP LOCKED` and
  leased (their next attempt moved past the HTTP timeout) in a short transaction; the POST happens outside
  it; the outcome is written in another. A process that dies mid-POST leaves the lease to expire: the
  delivery is tried again (at least once; subscribers deduplicate on `Atrium-Event-Id`).

Signature (Stripe-style): `Atrium-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`;
the receiver recomputes it over the raw body and refuses a `t` more than 5 minutes from its clock (replay).
2xx is delivered; anything else (redirects are not followed) is retried after 1, 2, 4, 8... minutes (capped
at 6 h, with up to 25 % jitter) and dead after ATRIUM_WEBHOOK_MAX_ATTEMPTS tries. A dead delivery blocks
the later events of its aggregate for its subscription until an admin resends it or skips it.

URLs (SSRF): https only, no user info, and the host must resolve to public addresses only: loopback,
private, link-local (169.254.169.254, the cloud metadata service), multicast and reserved ones are refused
at subscription and checked again before each POST, unless ATRIUM_WEBHOOK_ALLOW_PRIVATE (development and
tests), which also allows plain http to loopback."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased

from atrium import audit, clock, events
from atrium.errors import Conflict, InvalidInput, NotFound
from storage import crypto
from storage.events import Event
from storage.webhooks import WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)

ALL_TYPES = "*"
BLOCKING = ("pending", "dead")  # statuses of an earlier delivery that hold back its aggregate's later ones
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
JITTER = 0.25
LEASE_MARGIN = timedelta(seconds=60)
FAN_OUT_BATCH = 1000
DELIVERY_BATCH = 50
ERROR_LENGTH = 500
REPLAY_WINDOW_SECONDS = 300


def target(subscription_id: int) -> str:
    return f"webhook:{subscription_id}"


# Subscriptions ------------------------------------------------------------------------------------------


def _refused(message: str) -> InvalidInput:
    return InvalidInput(message, {"url": [message]})


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _address_allowed(address: str, *, allow_private: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address: judge the IPv4 one (mapped, NAT64, 6to4).
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour:
            ip = ip.sixtofour
    if ip.is_global and not ip.is_multicast:
        return True
    return allow_private and (ip.is_loopback or ip.is_private or ip.is_link_local)


def _resolve(host: str) -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)})
    except (socket.gaierror, UnicodeError, OSError):
        return []


def check_url(url: str, *, allow_private: bool) -> str:
    """`url` if Atrium may POST to it; else InvalidInput naming `url` (see the module's SSRF rules)."""
    if not isinstance(url, str) or len(url) > 2000:
        raise _refused("the webhook URL must be at most 2000 characters")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise _refused("the webhook URL is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refused("the webhook URL must be an https URL")
    if parts.username or parts.password:
        raise _refused("the webhook URL must not contain a user name or password")
    addresses = _resolve(parts.hostname)
    if not addresses:
        raise _refused("the webhook URL's host cannot be resolved")
    if not all(_address_allowed(a, allow_private=allow_private) for a in addresses):
        raise _refused("the webhook URL must not point to a private, loopback or link-local address")
    if parts.scheme == "http":
        loopback = all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)
        if not (allow_private and loopback):
            raise _refused("the webhook URL must be an https URL")
    return url.strip()


def check_event_types(types) -> list[str]:
    if not isinstance(types, list) or not types:
        raise InvalidInput('name the event types to send, or "*" for all', {"event_types": ["required"]})
    if ALL_TYPES in types:
        return [ALL_TYPES]
    known = events.event_types()
    unknown = sorted({t for t in types if t not in known})
    if unknown:
        message = f"unknown event type {unknown[0]}"
        raise InvalidInput(message, {"event_types": [message]})
    return sorted(set(types))


def _seal_new_secret(subscription: WebhookSubscription) -> str:
    secret = "whsec_" + secrets.token_urlsafe(32)
    subscription.secret_sealed, subscription.secret_kek_id = crypto.seal(secret, _aad(subscription.id))
    return secret


def _aad(subscription_id: int) -> bytes:
    return crypto.value_aad("webhook_subscriptions", subscription_id, "secret")


def secret_of(subscription: WebhookSubscription) -> str:
    return crypto.unseal(
        subscription.secret_sealed,
        subscription.secret_kek_id,
        _aad(subscription.id),
        what=f"webhook {subscription.id}'s secret",
    )


def _last_position(session: Session) -> int:
    return session.scalar(select(func.max(Event.position))) or 0


def create(session: Session, *, url: str, event_types: list, active: bool, actor: str, settings) -> tuple:
    """A new subscription and its secret (shown to the caller once). It receives events from now on."""
    now = clock.now()
    subscription = WebhookSubscription(
        url=check_url(url, allow_private=settings.webhook_allow_private),
        event_types=check_event_types(event_types),
        active=active,
        fanned_out_position=_last_position(session),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    session.flush()
    secret = _seal_new_secret(subscription)
    audit.record(
        session,
        "webhook.create",
        actor=actor,
        target=target(subscription.id),
        detail={"url": subscription.url, "event_types": subscription.event_types, "active": active},
    )
    return subscription, secret


def subscription_or_raise(session: Session, subscription_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound(f"webhook {subscription_id} not found")
    return subscription


def update_subscription(session: Session, subscription_id: int, data: dict, *, actor: str, settings):
    """Change the URL, event types or active flag. Paused (inactive) subscriptions keep their place: on
    resuming they receive what happened meanwhile."""
    subscription = subscription_or_raise(session, subscription_id)
    before = {"url": subscription.url, "event_types": subscription.event_types, "active": subscription.active}
    if "url" in data:
        subscription.url = check_url(data["url"], allow_private=settings.webhook_allow_private)
    if "event_types" in data:
        subscription.event_types = check_event_types(data["event_types"])
    if "active" in data:
        subscription.active = bool(data["active"])
    subscription.updated_at = clock.now()
    after = {"url": subscription.url, "event_types": subscription.event_types, "active": subscription.active}
    audit.record(
        session, "webhook.update", actor=actor, target=target(subscription.id), detail=audit.changes(before, after)
    )
    return subscription


def delete(session: Session, subscription_id: int, *, actor: str) -> None:
    subscription = subscription_or_raise(session, subscription_id)
    session.delete(subscription)  # its deliveries go with it (ON DELETE CASCADE, and the ORM below)
    session.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.subscription_id == subscription_id))
    audit.record(
        session, "webhook.delete", actor=actor, target=target(subscription_id), detail={"url": subscription.url}
    )


def rotate_secret(session: Session, subscription_id: int, *, actor: str) -> tuple:
    """A new secret, shown once; the old one stops signing at once."""
    subscription = subscription_or_raise(session, subscription_id)
    secret = _seal_new_secret(subscription)
    subscription.updated_at = clock.now()
    audit.record(session, "webhook.rotate_secret", actor=actor, target=target(subscription.id))
    return subscription, secret


def delivery_or_raise(session: Session, subscription_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound(f"delivery {delivery_id} of webhook {subscription_id} not found")
    return delivery


def _requeue(delivery: WebhookDelivery, now: datetime) -> None:
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now


def resend(session: Session, subscription_id: int, delivery_id: int, *, actor: str) -> WebhookDelivery:
    """Try a dead (or skipped) delivery again from its first attempt; a pending one is left as it is, a
    delivered one is sent again (the subscriber deduplicates on the event id)."""
    delivery = delivery_or_raise(session, subscription_id, delivery_id)
    if delivery.status == "pending":
        raise Conflict(f"delivery {delivery_id} is already pending")
    before = delivery.status
    _requeue(delivery, clock.now())
    audit.record(
        session,
        "webhook.resend",
        actor=actor,
        target=f"{target(subscription_id)}/deliveries/{delivery_id}",
        detail={"status": [before, "pending"], "event_id": str(delivery.event_id)},
    )
    return delivery


def skip(session: Session, subscription_id: int, delivery_id: int, *, actor: str) -> WebhookDelivery:
    """Give up on a dead delivery, so its aggregate's later events go on (the subscriber may pull the
    skipped one from GET /api/events)."""
    delivery = delivery_or_raise(session, subscription_id, delivery_id)
    if delivery.status != "dead":
        raise Conflict(f"only a dead delivery is skipped; delivery {delivery_id} is {delivery.status}")
    delivery.status = "skipped"
    audit.record(
        session,
        "webhook.skip",
        actor=actor,
        target=f"{target(subscription_id)}/deliveries/{delivery_id}",
        detail={"status": ["dead", "skipped"], "event_id": str(delivery.event_id)},
    )
    return delivery


def resend_dead(session: Session, subscription_id: int, *, actor: str) -> int:
    """Every dead delivery of the subscription pending again; how many."""
    subscription_or_raise(session, subscription_id)
    dead = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.status == "dead"
        )
    ).all()
    now = clock.now()
    for delivery in dead:
        _requeue(delivery, now)
    audit.record(
        session, "webhook.resend_dead", actor=actor, target=target(subscription_id), detail={"resent": len(dead)}
    )
    return len(dead)


# Fan-out ------------------------------------------------------------------------------------------------


def safe_position(engine) -> int | None:
    """The highest event position below which no event can still commit (see the module docstring); None
    when the writers could not be waited for now."""
    try:
        with engine.transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SET LOCAL lock_timeout = '2s'"))
                session.execute(text("LOCK TABLE events IN SHARE MODE"))
            return _last_position(session)
    except OperationalError as error:  # lock_timeout: a long writer; the next poll tries again
        log.info("fan-out waits for the next poll: %s", error)
        return None


def _skip_locked(session: Session, query):
    return query.with_for_update(skip_locked=True) if session.get_bind().dialect.name == "postgresql" else query


def fan_out(engine) -> int:
    """Delivery rows for the events up to the safe position, per active subscription; how many were made."""
    with engine.transaction() as session:  # without a subscription behind, no need to wait for writers
        newest = _last_position(session)
        behind = session.scalar(
            select(func.count())
            .select_from(WebhookSubscription)
            .where(WebhookSubscription.active.is_(True), WebhookSubscription.fanned_out_position < newest)
        )
    if not behind:
        return 0
    upto = safe_position(engine)
    if upto is None:
        return 0
    made = 0
    with engine.transaction() as session:
        subscriptions = session.scalars(
            _skip_locked(
                session,
                select(WebhookSubscription)
                .where(WebhookSubscription.active.is_(True), WebhookSubscription.fanned_out_position < upto)
                .order_by(WebhookSubscription.id),
            )
        ).all()
        now = clock.now()
        for subscription in subscriptions:
            query = select(Event).where(Event.position > subscription.fanned_out_position, Event.position <= upto)
            if ALL_TYPES not in subscription.event_types:
                query = query.where(Event.type.in_(subscription.event_types))
            found = session.scalars(query.order_by(Event.position).limit(FAN_OUT_BATCH)).all()
            for event in found:
                session.add(
                    WebhookDelivery(
                        subscription_id=subscription.id,
                        event_position=event.position,
                        event_id=event.id,
                        event_type=event.type,
                        aggregate_type=event.aggregate_type,
                        aggregate_id=event.aggregate_id,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
            reached = found[-1].position if len(found) == FAN_OUT_BATCH else upto
            if found:
                audit.record(
                    session,
                    "webhook.fan_out",
                    actor="scheduler",
                    target=target(subscription.id),
                    detail={"deliveries": len(found), "positions": [subscription.fanned_out_position + 1, reached]},
                )
            subscription.fanned_out_position = reached
            made += len(found)
    return made


# Delivery -----------------------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a subscriber does (README "Integrations"): the header's v1 matches and t is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


def retry_delay(attempts: int) -> timedelta:
    """After the `attempts`-th failed try: 1, 2, 4... minutes, capped, plus up to 25 % jitter."""
    base = min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), MAX_RETRY)
    return base * (1 + random.random() * JITTER)


def _claim(engine, *, now: datetime, lease: timedelta, limit: int) -> list[dict]:
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        and_(
            earlier.subscription_id == WebhookDelivery.subscription_id,
            earlier.aggregate_type == WebhookDelivery.aggregate_type,
            earlier.aggregate_id == WebhookDelivery.aggregate_id,
            earlier.event_position < WebhookDelivery.event_position,
            earlier.status.in_(BLOCKING),
        )
    )
    with engine.transaction() as session:
        query = (
            select(WebhookDelivery)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.active.is_(True),
                ~blocked,
            )
            .order_by(WebhookDelivery.event_position, WebhookDelivery.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
        claimed = []
        for delivery in session.scalars(query).all():
            subscription = session.get(WebhookSubscription, delivery.subscription_id)
            event = session.scalar(select(Event).where(Event.position == delivery.event_position))
            delivery.attempts += 1
            delivery.next_attempt_at = now + lease  # the lease: nobody else tries it meanwhile
            claimed.append(
                {
                    "id": delivery.id,
                    "subscription_id": subscription.id,
                    "url": subscription.url,
                    "secret": secret_of(subscription),
                    "attempts": delivery.attempts,
                    "envelope": events.envelope(event) if event is not None else None,
                }
            )
        return claimed


def _post(claim: dict, settings) -> tuple[int | None, str | None]:
    """POST one delivery: (status code, error) — error None when it was delivered."""
    if claim["envelope"] is None:
        return None, "the event no longer exists"
    parts = urlsplit(claim["url"])
    host = parts.hostname or ""
    addresses = _resolve(host)
    if not addresses or not all(_address_allowed(a, allow_private=settings.webhook_allow_private) for a in addresses):
        return None, f"refused: {host} resolves to a private, loopback or link-local address (or none)"
    body = json.dumps(claim["envelope"], separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(clock.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Atrium-Webhooks/1",
        "Atrium-Event-Id": claim["envelope"]["id"],
        "Atrium-Event-Type": claim["envelope"]["type"],
        "Atrium-Timestamp": str(timestamp),
        "Atrium-Signature": signature(claim["secret"], timestamp, body),
    }
    try:
        response = _pinned_post(parts, addresses[0], body, headers, timeout=settings.webhook_timeout_seconds)
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


class _PinnedAdapter(HTTPAdapter):
    """TLS to an address already checked, still verifying the certificate for the URL's host name."""

    def __init__(self, host: str):
        self.host = host
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.host
        kwargs["assert_hostname"] = self.host
        super().init_poolmanager(*args, **kwargs)


def _pinned_post(parts, address: str, body: bytes, headers: dict, *, timeout: float):
    """POST to the address that was checked, not to a second lookup of the name: a name whose answer
    changes between the check and the connection (DNS rebinding) cannot turn the POST inward. No proxy from
    the environment, no redirects followed."""
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    with requests.Session() as session:
        session.trust_env = False
        if parts.scheme == "https":
            session.mount(url, _PinnedAdapter(parts.hostname))
        host = parts.hostname if not parts.port else f"{parts.hostname}:{parts.port}"
        return session.post(url, data=body, headers={**headers, "Host": host}, timeout=timeout, allow_redirects=False)


def _record(engine, claim: dict, code: int | None, error: str | None, *, max_attempts: int) -> str:
    with engine.transaction() as session:
        delivery = session.get(WebhookDelivery, claim["id"])
        if delivery is None:  # its subscription was deleted meanwhile
            return "gone"
        now = clock.now()
        delivery.last_status_code = code
        if error is None:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        else:
            delivery.last_error = error[:ERROR_LENGTH]
            if delivery.attempts >= max_attempts:
                delivery.status = "dead"
            else:
                delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        audit.record(
            session,
            {"delivered": "webhook.delivered", "dead": "webhook.dead"}.get(delivery.status, "webhook.retry"),
            actor="scheduler",
            target=f"{target(delivery.subscription_id)}/deliveries/{delivery.id}",
            detail={
                "event_id": str(delivery.event_id),
                "attempts": delivery.attempts,
                "status_code": code,
                **({"next_attempt_at": delivery.next_attempt_at.isoformat()} if delivery.status == "pending" else {}),
            },
        )
        return delivery.status


def deliver(engine, *, max_batches: int = 20) -> dict[str, int]:
    """Try the due deliveries, batch after batch (each batch frees the next event of each aggregate);
    counts by outcome."""
    settings = engine.settings
    lease = timedelta(seconds=settings.webhook_timeout_seconds) + LEASE_MARGIN
    counts = {"delivered": 0, "pending": 0, "dead": 0}
    for _ in range(max_batches):
        claimed = _claim(engine, now=clock.now(), lease=lease, limit=DELIVERY_BATCH)
        delivered = 0
        for claim in claimed:
            code, error = _post(claim, settings)
            outcome = _record(engine, claim, code, error, max_attempts=settings.webhook_max_attempts)
            counts[outcome] = counts.get(outcome, 0) + 1
            delivered += outcome == "delivered"
        if not delivered:
            break  # nothing freed a later event of its aggregate: the rest waits for its time
    return counts


def webhook_job(engine) -> dict[str, int]:
    """The scheduler's job, each poll: fan out, then deliver."""
    made = fan_out(engine)
    return {"fanned_out": made, **deliver(engine)}


def list_deliveries(session: Session, subscription_id: int, *, status: str | None, limit: int, offset: int):
    subscription_or_raise(session, subscription_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(WebhookDelivery.event_position.desc()).limit(limit).offset(offset)).all()
    return total, rows
