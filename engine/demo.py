"""Demo data: a few instances of the example processes, so a first run has work in the inbox."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import definitions as definition_store
from storage.instances import ProcessInstance

DEMO_ENGAGEMENTS = [
    ("DEMO-ENG-1", {"client_name": "Harbour Logistics Ltd", "service": "advisory", "fee": 4800}),
    ("DEMO-ENG-2", {"client_name": "北辰建筑设计事务所", "service": "architecture", "fee": 18500}),
    ("DEMO-ENG-3", {"client_name": "Meridian Legal LLP", "service": "legal", "fee": 12000}),
]


# One account per role. These passwords exist only in a demo seed, never in production.
DEMO_ACCOUNTS = [
    ("admin", ["admin"], "Ada Admin"),
    ("partner", ["partner"], "Pat Partner"),
    ("manager", ["manager"], "Max Manager"),
    ("am", ["account_manager"], "Alex Account-Manager"),
    ("desk", ["service_desk"], "Sam Service-Desk"),
    ("viewer", ["viewer"], "Vi Viewer"),
]


def demo_password(username: str) -> str:
    return f"demo-{username}-password"


def seed_demo(engine, session: Session) -> list[str]:
    """Create the demo accounts and instances that do not exist yet; returns what was done, in words."""
    if engine.settings.is_production:
        return ["ATRIUM_ENV=production: no demo data or demo accounts are seeded."]
    lines = _seed_accounts(session)
    if definition_store.latest_definition(session, process_key="engagement_review") is None:
        return lines + ["engagement_review is not deployed: run `atrium deploy` first; no demo instances seeded."]
    existing = set(session.scalars(select(ProcessInstance.business_key).where(
        ProcessInstance.business_key.in_([key for key, _ in DEMO_ENGAGEMENTS]))))
    for business_key, variables in DEMO_ENGAGEMENTS:
        if business_key in existing:
            lines.append(f"Demo engagement {business_key} already exists.")
            continue
        instance = engine.start_instance(session, process_key="engagement_review", business_key=business_key,
                                         variables=variables, actor="demo")
        lines.append(f"Started engagement_review {business_key} ({variables['client_name']}): instance {instance.id}.")
    return lines


def _seed_accounts(session: Session) -> list[str]:
    from atrium.accounts import create_account
    from storage.accounts import account_by_username

    lines = []
    for username, roles, name in DEMO_ACCOUNTS:
        if account_by_username(session, username=username) is not None:
            continue
        create_account(session, username=username, password=demo_password(username), roles=roles, display_name=name)
        lines.append(f"Created demo account {username} ({', '.join(roles)}), password {demo_password(username)}.")
    return lines
