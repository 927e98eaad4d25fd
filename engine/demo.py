"""Demo data for a first run: the demo firm (people, clients, history, articles), then instances of
each deployed business process, so the inbox and the client timelines have something in them.

Every step creates only what is missing, so `atrium demo` can run again and does nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import audit
from atrium.clients import client_business_key
from storage import definitions as definition_store
from storage.client_records import Engagement
from storage.clients import Client
from storage.instances import ProcessInstance

from . import demo_processes
from .demo_firm import demo_clients, seed_articles, seed_clients, seed_people


@dataclass(frozen=True)
class ProcessSeed:
    """Demo instances of one business process, started only when that process is deployed.

    `seed(engine, session, clients)` gets the demo firm's clients (oldest first), starts what is
    missing (idempotent, e.g. by business key) and returns what it did in sentences."""

    process_key: str
    seed: Callable[..., list[str]]


def seed_engagement_reviews(engine, session: Session, clients: list[Client]) -> list[str]:
    """Proposed engagements of three clients waiting for review, each about its client (business key client:{id})."""
    proposed = {}
    for engagement, client in session.execute(
        select(Engagement, Client)
        .join(Client, Client.id == Engagement.client_id)
        .where(Engagement.status == "proposed", Client.id.in_([c.id for c in clients]))
        .order_by(Engagement.id)
    ):
        proposed.setdefault(client.id, (engagement, client))
    proposed = list(proposed.values())[:3]
    keys = [client_business_key(client.id) for _, client in proposed]
    existing = set(
        session.scalars(
            select(ProcessInstance.business_key).where(
                ProcessInstance.process_key == "engagement_review", ProcessInstance.business_key.in_(keys)
            )
        )
    )
    lines = []
    for engagement, client in proposed:
        key = client_business_key(client.id)
        if key in existing:
            lines.append(f"Demo engagement review {key} ({client.name}) already exists.")
            continue
        variables = {
            "client_name": client.name,
            "service": engagement.service_type,
            "fee": int(engagement.fee_amount or 0),
        }
        instance = engine.start_instance(
            session, process_key="engagement_review", business_key=key, variables=variables, actor="demo"
        )
        lines.append(f"Started engagement_review {key} ({client.name}): instance {instance.id}.")
    return lines


# Other processes add their seeding here; each runs only when its process is deployed.
PROCESS_SEEDS: list[ProcessSeed] = [
    ProcessSeed("engagement_review", seed_engagement_reviews),
    ProcessSeed("client_onboarding", demo_processes.seed_onboardings),
    ProcessSeed("approval", demo_processes.seed_approvals),
    ProcessSeed("service_request", demo_processes.seed_service_requests),
    ProcessSeed("complaint", demo_processes.seed_complaints),
    ProcessSeed("follow_up", demo_processes.seed_follow_up_cycles),
    ProcessSeed("care", demo_processes.seed_care),
    ProcessSeed("time_entry_approval", demo_processes.seed_billing),
]


def _score_health(engine, session: Session) -> list[str]:
    """Score the demo clients' health (as the nightly job would), so the at-risk list has something."""
    from atrium.health import DECISION, recompute_health

    if definition_store.latest_decision(session, decision_key=DECISION) is None:
        return [f"{DECISION} is not deployed: run `atrium deploy` first; no health scores."]
    scored = recompute_health(session, engine.settings, actor=audit.SYSTEM)
    return [f"Scored the health of {scored} active demo client(s)."]


def seed_demo(engine, session: Session, *, actor: str | None = audit.SYSTEM) -> list[str]:
    """Create the demo firm and process instances that do not exist yet; returns what was done, in words.
    New accounts' passwords are among the lines: shown this once, stored only hashed. Audited as
    `demo.seed` by `actor` (the CLI's), with `account.create` for each new account; the demo instances
    are started (and their tasks worked) by the demo people, as their own rows say."""
    if engine.settings.is_production:
        return ["ATRIUM_ENV=production: no demo data or demo accounts are seeded."]
    lines = seed_people(session, actor) + seed_clients(engine, session) + seed_articles(session)
    clients = demo_clients(session)
    for process in PROCESS_SEEDS:
        if definition_store.latest_definition(session, process_key=process.process_key) is None:
            lines.append(f"{process.process_key} is not deployed: run `atrium deploy` first; no demo instances of it.")
            continue
        lines += process.seed(engine, session, clients)
    lines += _score_health(engine, session)
    # The lines hold the new accounts' passwords: the row counts them, no more.
    audit.record(
        session,
        "demo.seed",
        actor=actor,
        target="demo",
        detail={
            "lines": len(lines),
            "accounts_created": sum(line.startswith("Created demo account") for line in lines),
        },
    )
    return lines
