"""The Flask application factory: settings, database, engine and health endpoints in one place."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy import text

from atrium.settings import Settings
from engine.runtime import ProcessEngine
from engine.scheduler import start_scheduler
from storage.db import make_engine, make_session_factory
from storage.migrate import current_revision, head_revision

log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, **extra):
    """An RFC 7807 response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def create_app(settings: Settings | None = None, *, run_scheduler: bool = False) -> Flask:
    settings = settings or Settings.from_env()
    settings.check_production()
    app = Flask("atrium")
    db = make_engine(settings.database_url)
    engine = ProcessEngine(make_session_factory(db), settings=settings)
    app.extensions["atrium.db"] = db
    app.extensions["atrium.engine"] = engine

    @app.get("/healthz")
    def healthz():
        """The process is up and its database answers."""
        try:
            with db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means not healthy
            log.warning("health check failed: %s", exc)
            return problem(503, "Service unavailable", "the database is unreachable")
        return jsonify({"status": "ok", "database": "ok"})

    @app.get("/readyz")
    def readyz():
        """The database is reachable and migrated to the latest revision."""
        try:
            current, head = current_revision(db), head_revision(db)
        except Exception as exc:
            log.warning("readiness check failed: %s", exc)
            return problem(503, "Service unavailable", "the database is unreachable")
        if current != head:
            return problem(503, "Service unavailable", f"database at revision {current}, code expects {head}: run atrium migrate")
        return jsonify({"status": "ready", "revision": current})

    @app.errorhandler(404)
    def not_found(_error):
        return problem(404, "Not found", "no such resource")

    @app.errorhandler(405)
    def not_allowed(_error):
        return problem(405, "Method not allowed", "this resource does not support that method")

    @app.errorhandler(Exception)
    def unexpected(error):
        import uuid

        error_id = uuid.uuid4().hex
        log.exception("unhandled error %s", error_id)
        return problem(500, "Internal error", "an unexpected error occurred; quote this id to support", error_id=error_id)

    if run_scheduler:
        app.extensions["atrium.scheduler"] = start_scheduler(engine)
    return app
