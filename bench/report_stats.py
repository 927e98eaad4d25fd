"""How long each statistic takes on the report data (bench/report_data.py): best of three, in seconds."""
from __future__ import annotations

import time

from atrium import clock
from reports.statistics import clients, progress, satisfaction
from reports.tables import Filters
from storage.db import make_session_factory

from .report_data import NOW

STATISTICS = (
    clients.clients_by_tier, clients.clients_by_status, clients.clients_by_industry, clients.clients_by_owner,
    clients.client_movements,
    progress.instances_by_process_status, progress.open_tasks_by_age, progress.open_tasks_by_assignee,
    progress.cycle_time_by_process, progress.cycle_time_by_task, progress.sla_compliance, progress.overdue_follow_ups,
    satisfaction.csat_distribution, satisfaction.nps_summary, satisfaction.satisfaction_trend,
    satisfaction.satisfaction_by_service_type, satisfaction.satisfaction_by_employee,
    satisfaction.complaints_by_severity, satisfaction.complaints_trend,
)


def run(db, filters: Filters) -> dict:
    """{statistic name: seconds}, each the best of three runs in a new session, at the data's "now"."""
    sessions = make_session_factory(db)
    previous = clock.set_clock(clock.FrozenClock(NOW))
    try:
        timings = {}
        for statistic in STATISTICS:
            best = float("inf")
            for _ in range(3):
                with sessions() as session:
                    began = time.perf_counter()
                    statistic(session, filters)
                    best = min(best, time.perf_counter() - began)
            timings[statistic.__name__] = best
        return timings
    finally:
        clock.set_clock(previous)
