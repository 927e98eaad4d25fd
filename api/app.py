"""The Flask application factory: settings, database, engine, blueprints and cross-cutting hooks."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.middleware.proxy_fix import ProxyFix

from atrium import audit as domain_audit
from atrium import encryption
from atrium.errors import AtriumError
from atrium.settings import Settings
from engine.runtime import ProcessEngine
from engine.scheduler import start_scheduler
from storage.db import make_engine, make_session_factory

from . import (
    accounts,
    audit,
    billing,
    browser_session,  # noqa: F401 -- adds the web app's login (/api/auth/session) to the accounts blueprint
    care,
    choices,
    client_records,  # noqa: F401 -- adds the nested record routes to the clients blueprint
    client_transfer,
    clients,
    definitions,
    employees,
    erasures,
    events,
    finance,
    firm_settings,
    forms,
    health,
    instances,
    integration_accounts,
    knowledge,
    messages,
    notifications,
    operations,
    opt_outs,  # noqa: F401 -- adds the opt-out routes to the clients blueprint
    public_surveys,
    reports,
    tasks,
    webhooks,
)
from .auth import SESSION_COOKIE, TokenService, authenticate_request
from .docs import AtriumApi, register_converters, swagger_ui
from .problems import from_database_error, from_domain_error, from_unexpected, from_write_conflict
from .web_app import web_app

request_log = logging.getLogger("atrium.requests")
# A caller's X-Request-ID is kept only if it is a short token (it lands in logs and a 64-character
# audit column); anything else gets a fresh id.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# The API answers JSON only: nothing in a response may load, run, frame or submit anything.
# (The docs page sets its own, see docs.swagger_ui.)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Responses that carry a token or a password must not be kept by a browser or proxy cache.
NO_STORE_PATHS = re.compile(r"^/api/(auth/token|auth/session|me/password|accounts/[^/]+/password-reset)$")


def _request_id() -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


def _add_security_headers(response, settings: Settings):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", API_CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # request.is_secure sees X-Forwarded-Proto only through ProxyFix, i.e. from trusted proxies.
    if request.is_secure and settings.hsts_max_age_seconds > 0:
        headers.setdefault("Strict-Transport-Security", f"max-age={settings.hsts_max_age_seconds}; includeSubDomains")
    if NO_STORE_PATHS.match(request.path):
        headers["Cache-Control"] = "no-store"
    return response


def _request_connection():
    """The connection this request authenticated on (see auth.authenticate_request), if any."""
    return g.get("db_connection") if has_request_context() else None


def create_app(settings: Settings | None = None, *, run_scheduler: bool = False, services=None) -> Flask:
    settings = settings or Settings.from_env()
    settings.check_production()
    encryption.install(settings)  # the master key; in production, none is a startup error
    app = Flask("atrium")
    # Keys in the order they were written: a form's fields are shown in the order its schema lists them.
    app.json.sort_keys = False
    if settings.trusted_proxy_hops > 0:
        # Client address (login throttling, audit) and scheme (HSTS) from the trusted proxies' headers only.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.config.update(
        API_TITLE="Atrium",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        # Swagger UI is served from the swagger-ui-bundle package by docs.swagger_ui, not from a CDN.
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
    )
    db = make_engine(settings.database_url)
    # The read replica (ATRIUM_DATABASE_REPLICA_URL), if any: reports, statistics and searches read there.
    replica = make_engine(settings.database_replica_url) if settings.database_replica_url else None
    engine = ProcessEngine(
        make_session_factory(db),
        settings=settings,
        services=services,
        held_connection=_request_connection,
        read_sessions=make_session_factory(replica) if replica is not None else None,
    )
    app.extensions["atrium.settings"] = settings
    app.extensions["atrium.db"] = db
    app.extensions["atrium.replica_db"] = replica
    app.extensions["atrium.engine"] = engine
    app.extensions["atrium.tokens"] = TokenService(settings.signing_key(), settings.token_ttl_seconds)
    metrics = operations.Metrics(engine)
    app.extensions["atrium.metrics"] = metrics

    api = AtriumApi(app, spec_kwargs={"security": [{"bearerAuth": []}, {"sessionCookie": []}]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    # The web app's session (POST /api/auth/session); changes made with it need the X-CSRF-Token header.
    api.spec.components.security_scheme("sessionCookie", {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE})
    register_converters(app, api)
    for module in (
        operations,
        accounts,
        definitions,
        instances,
        messages,
        tasks,
        choices,
        forms,
        audit,
        billing,
        clients,
        client_transfer,
        employees,
        erasures,
        events,
        webhooks,
        knowledge,
        notifications,
        firm_settings,
        reports,
        health,
        finance,
        public_surveys,
        care,
        integration_accounts,
    ):
        api.register_blueprint(module.blp)
    api.register_blueprint(notifications.my_blp)
    app.register_blueprint(swagger_ui)
    app.register_blueprint(web_app)  # last: its catch-all route must not shadow the API's

    @app.before_request
    def _begin():
        g.request_id = _request_id()
        g.audit_binding = domain_audit.bind_request(request.remote_addr, g.request_id)
        metrics.start()
        authenticate_request()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        _add_security_headers(response, settings)
        try:
            audit.record_failed_request(response)
        except Exception:  # auditing a failure must not turn it into a 500
            request_log.exception("could not audit failed request %s", g.get("request_id"))
        metrics.observe(response)
        request_log.info(
            json.dumps(
                {
                    "request_id": g.get("request_id"),
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "user": g.account.username if g.get("account") else None,
                    "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
                }
            )
        )
        return response

    @app.teardown_request
    def _release_connection(_exc):
        binding = g.pop("audit_binding", None)
        if binding is not None:
            domain_audit.unbind_request(binding)
        connection = g.pop("db_connection", None)
        if connection is not None:
            connection.close()

    app.register_error_handler(AtriumError, from_domain_error)
    app.register_error_handler(StaleDataError, from_write_conflict)
    app.register_error_handler(IntegrityError, from_write_conflict)
    app.register_error_handler(OperationalError, from_database_error)
    app.register_error_handler(InterfaceError, from_database_error)
    app.register_error_handler(Exception, from_unexpected)
    if run_scheduler:
        app.extensions["atrium.scheduler"] = start_scheduler(engine)
    return app
