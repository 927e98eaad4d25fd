"""Test fixtures: real databases (SQLite always, PostgreSQL when ATRIUM_TEST_DATABASE_URL is set),
a fresh migrated schema per session, tables emptied between tests, and a frozen clock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from atrium import clock as clock_module
from atrium.clock import FrozenClock
from atrium.settings import Settings
from engine.definitions import SourceFile
from engine.deployments import deploy
from engine.runtime import ProcessEngine
from engine.services import ServiceRegistry
from storage import crypto
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade_to_head
from storage.models import Base

BPMN_DIR = Path(__file__).parent / "bpmn"
# Its own schema per concurrent run (ATRIUM_TEST_PG_SCHEMA), so parallel suites do not collide.
PG_SCHEMA = os.environ.get("ATRIUM_TEST_PG_SCHEMA", "atrium_test")


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("ATRIUM_TEST_DATABASE_URL") else ["sqlite"]


def pg_url() -> str:
    """The test PostgreSQL's URL; without one a PostgreSQL test skips, or fails under CI."""
    url = os.environ.get("ATRIUM_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but ATRIUM_TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI")
        pytest.skip("PostgreSQL tests need ATRIUM_TEST_DATABASE_URL")
    return url


def _pg_engine():
    url = pg_url()
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    except Exception as exc:  # unreachable database: a failure, never a skip
        pytest.fail(f"PostgreSQL at {make_url(url).render_as_string()} is unreachable: {exc}")
    finally:
        admin.dispose()
    # The schema goes in the URL, so an app built from the URL alone lands in it too.
    return make_engine(
        make_url(url).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"}).render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def db_engines(tmp_path_factory):
    """One migrated database per backend for the whole session."""
    engines = {}

    def get(backend):
        if backend not in engines:
            if backend == "sqlite":
                engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'atrium.db'}")
            else:
                engine = _pg_engine()
            upgrade_to_head(engine)
            engines[backend] = engine
        return engines[backend]

    yield get
    for engine in engines.values():
        engine.dispose()


def _empty_tables(engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(params=_backends())
def db(request, db_engines):
    """A migrated, empty database on each available backend."""
    engine = db_engines(request.param)
    _empty_tables(engine)
    return engine


@pytest.fixture
def pg(db_engines):
    """PostgreSQL only: for behaviour that needs real row locks across connections."""
    engine = db_engines("postgresql")
    _empty_tables(engine)
    return engine


@pytest.fixture
def keyring():
    """A master key of the test's own (encryption at rest), put back as it was afterwards."""
    before = crypto._keyring
    ring = crypto.Keyring(os.urandom(32))
    crypto.use_keyring(ring)
    yield ring
    crypto.use_keyring(before)


@pytest.fixture
def clock():
    frozen = FrozenClock()
    previous = clock_module.set_clock(frozen)
    yield frozen
    clock_module.set_clock(previous)


@pytest.fixture
def services():
    return ServiceRegistry()


def make_process_engine(engine, services: ServiceRegistry, **settings) -> ProcessEngine:
    config = Settings(
        database_url=str(engine.url),
        script_timeout_seconds=0.5,
        service_retries=2,
        service_backoff_seconds=10,
        **settings,
    )
    return ProcessEngine(make_session_factory(engine), settings=config, services=services)


@pytest.fixture
def process_engine(db, services, clock):
    return make_process_engine(db, services)


def source_files(*names: str) -> list[SourceFile]:
    return [SourceFile(name, (BPMN_DIR / name).read_bytes()) for name in names]


def deploy_files(process_engine: ProcessEngine, *names: str):
    with process_engine.transaction() as session:
        return deploy(process_engine, session, source_files(*names))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "app(firm=False, build=make_app, **settings): how the `app` fixture is built (see the app_factory fixture)",
    )


# Tokens for tests that move the clock by weeks and months while the people acting stay logged in.
LONG_TOKENS = 2 * 366 * 86400


@pytest.fixture
def app_factory(db, services, clock):
    """Builds apps on the test database and disposes of them after the test: `app_factory(**settings)`,
    `firm=True` registering the firm's service-task handlers first, `build` a function (db, services,
    **settings) -> app to use instead of tests/api_helpers.make_app (which adds one account per role)."""
    from engine.handlers import register_all

    from .api_helpers import make_app  # api_helpers imports this module

    apps = []

    def build_app(*, firm: bool = False, build=make_app, **settings):
        if firm:
            register_all(services)
        app = build(db, services, **settings)
        apps.append(app)
        return app

    yield build_app
    for app in apps:
        app.extensions["atrium.db"].dispose()


def _marked(request) -> dict:
    marker = request.node.get_closest_marker("app")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
def app(request, app_factory):
    """The API on the test database, with one account per role (tests/api_helpers.make_app). A module
    (`pytestmark = pytest.mark.app(...)`) or a test marks how it is built, with app_factory's keywords
    (`firm=True`, `build=...`, Settings). Services a module needs registered first it adds by
    overriding the `services` fixture."""
    return app_factory(**_marked(request))


@pytest.fixture
def firm_app(request, app_factory):
    """The API with the firm's own service-task handlers registered (engine.handlers), for tests that
    run the processes in processes/ (the `app` marker's keywords apply too)."""
    return app_factory(**{**_marked(request), "firm": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def people(client):
    """A logged-in Caller per role account, by role; a module needing more people or deployments
    overrides this fixture, taking it as its argument."""
    from .api_helpers import callers

    return callers(client)


def pytest_terminal_summary(terminalreporter, config):
    """Where the browser tests left their screenshots (tests/browser), to open and look at."""
    base = getattr(config, "_tmp_path_factory", None)
    chosen = os.environ.get("ATRIUM_TEST_SCREENSHOTS")
    folder = Path(chosen) if chosen else base.getbasetemp() / "screenshots" if base else None
    if folder and folder.is_dir():
        count = sum(1 for _ in folder.rglob("*.png"))
        terminalreporter.write_line(f"browser screenshots: {count} in {folder}")
