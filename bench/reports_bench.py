"""Statistics and the monthly PDF over 100,000 clients and 1,000,000 tasks on PostgreSQL (`make bench`'s reports
section): the data from bench/report_data.py, each statistic timed by bench/report_stats.py."""

from __future__ import annotations

import time
from datetime import date

from atrium import clock
from reports.catalogue import REPORTS
from reports.making import make
from reports.tables import Filters
from storage.db import make_session_factory

from . import common, report_data, report_stats
from .common import fresh_database

SCHEMA = f"{common.SCHEMA}_reports"


def run(clients: int = 100_000, tasks: int = 1_000_000) -> dict:
    db = fresh_database(SCHEMA)
    try:
        loaded = report_data.load(db, clients, tasks)
        filters = Filters(date(2026, 10, 1), date(2026, 11, 1))
        timings = report_stats.run(db, filters)
        previous = clock.set_clock(clock.FrozenClock(report_data.NOW))
        try:
            with make_session_factory(db)() as session:
                began = time.perf_counter()
                document = make(session, REPORTS["monthly_client"], filters, "pdf", generated_at=report_data.NOW)
                pdf_s = time.perf_counter() - began
        finally:
            clock.set_clock(previous)
    finally:
        db.dispose()
    return {"load_s": loaded["load_s"], "statistics_s": timings, "pdf_s": pdf_s, "pdf_bytes": len(document)}
