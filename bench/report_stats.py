"""How long each statistic takes on the report data (bench/report_data.py): best of three, in seconds."""

from __future__ import annotations

import time

from atrium import clock
from reports.statistics import STATISTICS
from reports.tables import Filters
from storage.db import make_session_factory

from .report_data import NOW


def run(db, filters: Filters) -> dict:
    """{statistic name: seconds}, each the best of three runs in a new session, at the data's "now"."""
    sessions = make_session_factory(db)
    previous = clock.set_clock(clock.FrozenClock(NOW))
    try:
        timings = {}
        for name, statistic in STATISTICS.items():
            best = float("inf")
            for _ in range(3):
                with sessions() as session:
                    began = time.perf_counter()
                    statistic(session, filters)
                    best = min(best, time.perf_counter() - began)
            timings[name] = best
        return timings
    finally:
        clock.set_clock(previous)
