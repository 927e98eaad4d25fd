"""A service request's process: every new request record, whoever writes it (staff through the API, an
integration, a follow-up that needs action), starts one `service_request` instance about it."""
from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from atrium.clients import client_business_key
from storage.client_records import ServiceRequest
from storage.definitions import latest_definition

PROCESS_KEY = "service_request"


def start_request_process(engine, session: Session, request: ServiceRequest, *, actor: str | None) -> uuid.UUID | None:
    """Start `service_request` for a new request record, in the caller's transaction, and link the two.

    Without a deployed `service_request` the record is kept on its own (a firm that does not run the
    process still keeps requests); returns the instance id, or None then."""
    if latest_definition(session, process_key=PROCESS_KEY) is None:
        return None
    instance = engine.start_instance(
        session, process_key=PROCESS_KEY, business_key=client_business_key(request.client_id), actor=actor,
        variables={name: value for name, value in (
            ("request_id", request.id), ("client_id", request.client_id), ("title", request.title),
            ("content", request.content), ("type", request.type), ("priority", request.priority))
            if value is not None})  # a form shows what it is given: no nulls for fields still to fill in
    request.instance_id = instance.id
    return instance.id
