"""The processes a record starts, not a person: process key -> how an instance comes to exist.
The generic start (POST /api/process-instances) and the "what can I start" list leave them out."""

from __future__ import annotations

STARTED_BY_RECORDS: dict[str, str] = {
    "service_request": "recording a service request (POST /api/clients/{id}/service-requests)",
    "complaint": "recording a complaint (POST /api/clients/{id}/complaints)",
    "follow_up": "a client becoming active (each active client keeps one follow-up cycle)",
    "survey": "a service request or complaint closing, and the periodic NPS schedule (atrium/surveys.py)",
    "care_campaign": "a care campaign (POST /api/care-campaigns, mode tasks)",
    "care": "a client becoming active while care is switched on (each active client keeps one care cycle)",
    "time_entry_approval": "recording more time than ATRIUM_TIME_APPROVAL_HOURS (POST /api/engagements/{id}/time-entries)",
}
