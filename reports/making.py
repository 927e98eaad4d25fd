"""Making a report: whose figures (filters and the caller's role), then the tables in the format asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium.errors import Forbidden, InvalidInput, NotFound
from storage.accounts import Account

from . import render
from .catalogue import REPORTS, Report
from .tables import Filters

MEDIA_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Roles that only ever see figures about their own clients.
OWN_CLIENTS_ONLY = {"account_manager"}
FILTER_NAMES = ("owner", "team", "service_type", "process_key")


@dataclass(frozen=True)
class Viewer:
    """Who the figures are for: the caller, or a schedule's creator when it fires; the report is written in
    their language."""

    username: str
    roles: tuple[str, ...]
    locale: str = "en"


def report_or_raise(name: str) -> Report:
    report = REPORTS.get(name)
    if report is None:
        raise NotFound(f"no report named {name!r}; GET /api/reports lists them")
    return report


def resolve_filters(session: Session, viewer: Viewer, date_from: date, date_to: date, parameters: dict) -> Filters:
    """The Filters for `parameters` (owner, team, service_type, process_key) as `viewer` may see them."""
    if date_from >= date_to:
        raise InvalidInput("the period is empty: `to` must be after `from`", {"to": ["must be after from"]})
    unknown = set(parameters) - set(FILTER_NAMES)
    if unknown:
        raise InvalidInput(
            f"unknown report parameters: {', '.join(sorted(unknown))}",
            {name: [f"not one of {', '.join(FILTER_NAMES)}"] for name in unknown},
        )
    owner, team = parameters.get("owner"), parameters.get("team")
    labels: dict[str, str] = {}
    owners: set[str] | None = None
    if team:
        members = {
            username
            for username, groups in session.execute(select(Account.username, Account.groups))
            if team in (groups or [])
        }
        if not members:
            raise InvalidInput(f"no team named {team!r}", {"team": ["no account is in this team"]})
        owners, labels["Team"] = members, team
    if owner:
        owners = {owner} if owners is None else owners & {owner}
        labels["Owner"] = owner
    if OWN_CLIENTS_ONLY & set(viewer.roles) and not {"admin", "partner", "manager"} & set(viewer.roles):
        if (owner and owner != viewer.username) or team:
            raise Forbidden("account managers see figures about their own clients only")
        owners, labels["Owner"] = {viewer.username}, viewer.username
    for name, label in (("service_type", "Service type"), ("process_key", "Process")):
        if parameters.get(name):
            labels[label] = parameters[name]
    return Filters(
        date_from,
        date_to,
        owners=tuple(sorted(owners)) if owners is not None else None,
        service_type=parameters.get("service_type"),
        process_key=parameters.get("process_key"),
        labels=labels,
        locale=viewer.locale,
    )


def make(
    session: Session, report: Report, filters: Filters, fmt: str, *, generated_at: datetime, firm: str | None = None
):
    """The report in `fmt`, in the language of `filters`: a dict for json, bytes for pdf and xlsx, text for html."""
    tables = report.tables(session, filters)
    title = report.title_in(filters.locale)
    if fmt == "json":
        return render.as_json(title, filters, tables)
    if fmt == "xlsx":
        return render.xlsx(title, filters, tables)
    make_document = render.pdf if fmt == "pdf" else render.html
    return make_document(title, filters, tables, generated_at=generated_at, firm=firm, template=report.template)
