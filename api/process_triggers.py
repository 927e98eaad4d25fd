"""Records that start processes, wired into their endpoints: a new service request starts
`service_request`, a new complaint starts `complaint`. Each runs in the request's transaction, so a record
never exists without its process (when the process is deployed) and a failed start leaves no record.
(A client's follow-up cycle is not wired here: atrium/clients.py keeps it with every change of the client.)"""
from __future__ import annotations

from flask import g

from atrium.complaints import start_complaint_process
from atrium.service_requests import start_request_process

from . import clients
from .client_records import record_kind


def _start_service_request(session, request, client) -> None:
    start_request_process(clients.process_engine(), session, request, actor=g.account.username)


def _start_complaint(session, complaint, client) -> None:
    start_complaint_process(clients.process_engine(), session, complaint, actor=g.account.username)


record_kind("service_request").after_create.append(_start_service_request)
record_kind("complaint").after_create.append(_start_complaint)
