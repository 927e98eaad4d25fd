"""Creating a complaint through `POST /api/clients/{id}/complaints` starts its `complaint` process."""
from __future__ import annotations

from flask import g

from atrium.complaints import start_complaint_process

from .client_records import record_kind
from .clients import process_engine


def _start_process(session, complaint, client) -> None:
    # In the request's transaction: the complaint, its process and first task exist together or not at all.
    start_complaint_process(process_engine(), session, complaint, actor=g.account.username)


record_kind("complaint").after_create.append(_start_process)
