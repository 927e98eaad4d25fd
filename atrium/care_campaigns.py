"""Care campaigns: a lead picks the clients a saved filter of the client list selects and a greeting
template, and either starts one `care_campaign` task per client for its owner or mails the greeting to
each now (opt-outs and missing emails skipped and counted). One transaction: all or nothing. Audited as
`care.campaign`."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atrium import audit, care, clock
from atrium.care_calendar import HOLIDAYS, next_holiday
from atrium.errors import InvalidInput, NotFound
from storage.clients import Client, client_business_key
from storage.definitions import latest_definition

MODES = ("tasks", "mail")
PROCESS_KEY = "care_campaign"
# A campaign is one transaction: beyond this many clients, narrow the filter (or run it in parts).
MAX_CLIENTS = 5000


def campaign_occasion(name: str, template: str) -> dict:
    """The occasion a campaign greets: a holiday's template greets its next date; any other template
    greets today, named by the campaign."""
    today = clock.now().date()
    if template in HOLIDAYS:
        when = next_holiday(template, on_or_after=today) or today
        return {"key": f"holiday:{template}", "kind": "holiday", "holiday": template, "label": None,
                "date": when.isoformat(), "contact_id": None, "years": None}  # fmt: skip
    return {"key": f"campaign:{name}", "kind": "custom", "holiday": None, "label": name,
            "date": today.isoformat(), "contact_id": None, "years": None}  # fmt: skip


def run_campaign(
    engine, session: Session, conditions: list, *, name: str, template: str, mode: str, actor: str
) -> dict:
    """Run a campaign over the clients matching `conditions` (the client list's, as the caller sees it)."""
    count = session.scalar(select(func.count()).select_from(Client).where(*conditions))
    if count > MAX_CLIENTS:
        raise InvalidInput(
            f"the filter selects {count} clients; a campaign takes at most {MAX_CLIENTS}",
            {"filter": [f"selects {count} clients, more than {MAX_CLIENTS}"]},
        )
    if mode == "tasks" and latest_definition(session, process_key=PROCESS_KEY) is None:
        raise NotFound(f"the '{PROCESS_KEY}' process is not deployed; run atrium deploy first")
    clients = session.scalars(select(Client).where(*conditions).order_by(Client.id)).all()
    occasion = campaign_occasion(name, template)
    result = {"name": name, "mode": mode, "clients": len(clients), "tasks_started": 0, "mails_queued": 0, "skipped": {}}
    for client in clients:
        if mode == "tasks":
            current = care.open_care(session, client.id, occasion, template=template)
            engine.start_instance(
                session,
                process_key=PROCESS_KEY,
                variables={
                    "client_id": client.id,
                    "occasion": occasion,
                    "template": template,
                    "campaign": name,
                    "current": {**current, "owner": client.owner, "client_name": client.name},
                    "greeting_subject": current.get("greeting_subject"),
                    "greeting_body": current.get("greeting_body"),
                },
                business_key=client_business_key(client.id),
                actor=actor,
            )
            result["tasks_started"] += 1
        else:
            row = care.record_care(
                session, client, occasion, action="greeting_mail", actor=actor, campaign=name, template=template
            )
            if row.mail_queued:
                result["mails_queued"] += 1
            else:
                result["skipped"][row.mail_skipped] = result["skipped"].get(row.mail_skipped, 0) + 1
    audit.record(
        session,
        "care.campaign",
        actor=actor,
        target=f"care-campaign:{name}",
        detail={k: v for k, v in result.items() if k != "name"} | {"template": template},
    )
    return result
