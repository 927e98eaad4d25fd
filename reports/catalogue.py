"""The named reports: each a title, a description and the statistics it shows, in order.

Titles and descriptions are catalogue keys (atrium/locales: `report.<name>.title`, `report.<name>.description`),
written in the reader's language when shown; plain text works too and is shown as it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from atrium.i18n import translate

from .statistics import billing, clients, progress, relationships, satisfaction
from .tables import Filters, Table


@dataclass(frozen=True)
class Report:
    name: str
    title: str  # a catalogue key, or plain text
    description: str  # a catalogue key, or plain text
    statistics: tuple[Callable[[Session, Filters], Table], ...]
    template: str = "report.html"

    def title_in(self, locale: str) -> str:
        return translate(self.title, locale)

    def description_in(self, locale: str) -> str:
        return translate(self.description, locale)

    def tables(self, session: Session, filters: Filters) -> list[Table]:
        return [statistic(session, filters) for statistic in self.statistics]


REPORTS: dict[str, Report] = {
    report.name: report
    for report in (
        Report(
            "monthly_client",
            "report.monthly_client.title",
            "report.monthly_client.description",
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
            "report.service_performance.title",
            "report.service_performance.description",
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
            "report.satisfaction.title",
            "report.satisfaction.description",
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
            "report.complaints.title",
            "report.complaints.description",
            (satisfaction.complaints_by_severity, satisfaction.complaints_trend, progress.sla_compliance),
        ),
        Report(
            "relationships",
            "report.relationships.title",
            "report.relationships.description",
            (
                relationships.health_by_band_and_tier,
                relationships.health_movements,
                relationships.health_fall_reasons,
            ),
        ),
        Report(
            "billing",
            "report.billing.title",
            "report.billing.description",
            (billing.billing_by_client, billing.billing_by_engagement),
        ),
    )
}
