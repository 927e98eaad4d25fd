"""Records and clients that start or stop processes, wired into their endpoints: a new service request
starts `service_request`, a new complaint starts `complaint`; an active client keeps one `follow_up`
cycle, which ends when it stops being active or is deleted. Each runs in the request's transaction, so a record never exists without its process
(when the process is deployed) and a failed start leaves no record."""
from __future__ import annotations

from flask import g

from atrium import follow_up_cycles
from atrium.complaints import start_complaint_process
from atrium.service_requests import start_request_process

from . import clients
from .client_records import record_kind


def _start_service_request(session, request, client) -> None:
    start_request_process(clients.process_engine(), session, request, actor=g.account.username)


def _start_complaint(session, complaint, client) -> None:
    start_complaint_process(clients.process_engine(), session, complaint, actor=g.account.username)


def _keep_follow_up_cycle(session, client, actor) -> None:
    follow_up_cycles.sync_cycle(clients.process_engine(), session, client, actor=actor)


def _end_follow_up_cycle(session, client, actor) -> None:
    follow_up_cycles.sync_cycle(clients.process_engine(), session, client, actor=actor, deleting=True)


record_kind("service_request").after_create.append(_start_service_request)
record_kind("complaint").after_create.append(_start_complaint)
clients.after_save.append(_keep_follow_up_cycle)
clients.before_delete.append(_end_follow_up_cycle)
