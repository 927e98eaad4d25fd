"""The named reports: each a title, a description and the statistics it shows, in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from atrium.i18n import translate

from .statistics import clients, progress, relationships, satisfaction
from .tables import Filters, Table


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    description: str
    statistics: tuple[Callable[[Session, Filters], Table], ...]
    template: str = "report.html"

    def tables(self, session: Session, filters: Filters) -> list[Table]:
        return [statistic(session, filters) for statistic in self.statistics]


REPORTS: dict[str, Report] = {
    report.name: report
    for report in (
        Report(
            "monthly_client",
            "Monthly client report",
            "Clients by tier, status, industry and owner; new, dormant and lost clients; overdue follow-ups.",
            (
                clients.clients_by_tier,
                clients.clients_by_status,
                clients.clients_by_industry,
                clients.clients_by_owner,
                clients.client_movements,
                progress.overdue_follow_ups,
                satisfaction.nps_summary,
            ),
        ),
        Report(
            "service_performance",
            "Service performance",
            "Instances by process and status, open tasks by age and holder, cycle times and SLA compliance.",
            (
                progress.instances_by_process_status,
                progress.open_tasks_by_age,
                progress.open_tasks_by_assignee,
                progress.cycle_time_by_process,
                progress.cycle_time_by_task,
                progress.sla_compliance,
            ),
        ),
        Report(
            "satisfaction",
            "Client satisfaction",
            "CSAT distribution, NPS, the monthly trend, and satisfaction by service type and by employee.",
            (
                satisfaction.csat_distribution,
                satisfaction.nps_summary,
                satisfaction.satisfaction_trend,
                satisfaction.satisfaction_by_service_type,
                satisfaction.satisfaction_by_employee,
            ),
        ),
        Report(
            "complaints",
            "Complaints",
            "Complaints by severity with time to resolve, the monthly trend, and acknowledgement within the SLA.",
            (satisfaction.complaints_by_severity, satisfaction.complaints_trend, progress.sla_compliance),
        ),
        Report(
            "relationships",
            translate("report.relationships.title", "en"),
            "Health scores by band and tier, how they moved over the period, and the reasons behind falls.",
            (
                relationships.health_by_band_and_tier,
                relationships.health_movements,
                relationships.health_fall_reasons,
            ),
        ),
    )
}
