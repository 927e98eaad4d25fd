"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
import time

from flask import Response, current_app, g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from atrium.errors import AtriumError
from storage.instances import ACTIVE, Incident, ProcessInstance
from storage.migrate import current_revision, head_revision
from storage.tasks import OPEN, Task

from .docs import errors
from .permissions import requires

log = logging.getLogger(__name__)
blp = Blueprint("operations", __name__, description="Health, readiness and metrics")


class Unavailable(AtriumError):
    status = 503
    title = "Service unavailable"


class HealthSchema(Schema):
    status = fields.String(required=True)
    database = fields.String()
    revision = fields.String()


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@errors(blp, 503, authenticated=False)
def healthz():
    """The process is up and its database answers."""
    try:
        with current_app.extensions["atrium.db"].connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means not healthy
        log.warning("health check failed: %s", exc)
        raise Unavailable("the database is unreachable") from None
    return {"status": "ok", "database": "ok"}


@blp.route("/readyz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@errors(blp, 503, authenticated=False)
def readyz():
    """The database is reachable and migrated to the revision this code expects."""
    db = current_app.extensions["atrium.db"]
    try:
        current, head = current_revision(db), head_revision(db)
    except Exception as exc:
        log.warning("readiness check failed: %s", exc)
        raise Unavailable("the database is unreachable") from None
    if current != head:
        raise Unavailable(f"database at revision {current}, code expects {head}: run `atrium migrate`")
    return {"status": "ready", "revision": current}


@blp.route("/metrics")
@blp.response(200, content_type=CONTENT_TYPE_LATEST, description="Prometheus text format")
@errors(blp)
@requires("metrics:read")
def metrics():
    """Request counts and latencies by endpoint; open tasks, running instances and open incidents."""
    return Response(generate_latest(current_app.extensions["atrium.metrics"].registry), mimetype=CONTENT_TYPE_LATEST)


class _WorkCollector:
    """Gauges read from the database at scrape time."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        with self.engine.transaction() as session:
            values = {
                "atrium_open_tasks": session.scalar(select(func.count()).select_from(Task).where(Task.status == OPEN)),
                "atrium_running_instances": session.scalar(
                    select(func.count()).select_from(ProcessInstance).where(ProcessInstance.status == ACTIVE)
                ),
                "atrium_open_incidents": session.scalar(
                    select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None))
                ),
            }
        for name, value in values.items():
            yield GaugeMetricFamily(name, name.replace("atrium_", "").replace("_", " "), value=value)


class Metrics:
    def __init__(self, engine):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "atrium_http_requests", "HTTP requests", ["method", "endpoint", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "atrium_http_request_seconds", "HTTP request latency", ["method", "endpoint"], registry=self.registry
        )
        self.registry.register(_WorkCollector(engine))

    def start(self) -> None:
        g.started = time.perf_counter()

    def observe(self, response) -> None:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - getattr(g, "started", time.perf_counter())
        self.requests.labels(request.method, endpoint, str(response.status_code)).inc()
        self.latency.labels(request.method, endpoint).observe(elapsed)
