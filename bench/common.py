"""Shared set-up for benchmarks: a fresh PostgreSQL schema, an engine, the bench flows."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from atrium.settings import Settings
from engine.definitions import SourceFile
from engine.deployments import deploy
from engine.runtime import ProcessEngine
from engine.services import ServiceRegistry
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade_to_head

FLOWS = Path(__file__).parent / "flows"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Every bench schema starts with this (`atrium_bench`, `atrium_bench_clients`, ...); another prefix
# (ATRIUM_BENCH_SCHEMA) lets two benchmark runs share a database.
SCHEMA = os.environ.get("ATRIUM_BENCH_SCHEMA", "atrium_bench")


def database_url() -> str:
    return os.environ.get("ATRIUM_BENCH_DATABASE_URL", DEFAULT_URL)


def fresh_database(schema: str = SCHEMA):
    """Drop and recreate a bench schema, migrate it, return an engine bound to it."""
    admin = make_engine(database_url())
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    db = bench_database(schema=schema)
    upgrade_to_head(db)
    return db


def bench_database(schema: str = SCHEMA, **kwargs):
    return make_engine(database_url(), connect_args={"options": f"-csearch_path={schema}"}, **kwargs)


def schema_url(schema: str = SCHEMA) -> str:
    """The bench database URL with the schema in it, for an app or server built from a URL alone."""
    return (
        make_url(database_url())
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def process_engine(db, **settings) -> ProcessEngine:
    config = Settings(database_url=database_url(), **settings)
    return ProcessEngine(make_session_factory(db), settings=config, services=ServiceRegistry())


def deploy_flow(engine: ProcessEngine, *names: str) -> None:
    with engine.transaction() as session:
        deploy(engine, session, [SourceFile(n, (FLOWS / n).read_bytes()) for n in names])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
