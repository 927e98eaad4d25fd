"""Statistics computed by the database: each `name(session, filters) -> Table` (see reports/tables.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from ..tables import Filters, Table
from . import billing, clients, progress, relationships, satisfaction

# Every statistic by name, in the order the modules list them.
STATISTICS: dict[str, Callable[[Session, Filters], Table]] = {
    statistic.__name__: statistic
    for statistic in (
        clients.clients_by_tier,
        clients.clients_by_status,
        clients.clients_by_industry,
        clients.clients_by_owner,
        clients.client_movements,
        progress.instances_by_process_status,
        progress.open_tasks_by_age,
        progress.open_tasks_by_assignee,
        progress.cycle_time_by_process,
        progress.cycle_time_by_task,
        progress.sla_compliance,
        progress.overdue_follow_ups,
        satisfaction.csat_distribution,
        satisfaction.nps_summary,
        satisfaction.satisfaction_trend,
        satisfaction.satisfaction_by_service_type,
        satisfaction.satisfaction_by_employee,
        satisfaction.complaints_by_severity,
        satisfaction.complaints_trend,
        relationships.health_by_band_and_tier,
        relationships.health_movements,
        relationships.health_fall_reasons,
        billing.billing_by_client,
        billing.billing_by_engagement,
    )
}
