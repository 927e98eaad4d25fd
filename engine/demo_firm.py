"""The demo firm: its people (accounts and employees in two teams), about 200 clients with contacts,
engagements and 18 months of history, and a few knowledge-base articles. Seeded random, so every
first run builds the same firm; passwords alone come from `secrets`."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atrium import clock
from atrium.complaints import acknowledge_due
from atrium.service_requests import sla_due_times
from atrium.settings import Settings
from storage.client_records import Complaint, Engagement, Feedback, FollowUp, ServiceRequest
from storage.clients import Client, Contact
from storage.employees import Employee
from storage.knowledge import KnowledgeArticle

from .sample_data import chinese_mobile, chinese_person, english_person, sample_client

DEMO_ACTOR = "demo"  # created_by of every seeded client: how a second run knows the firm exists
CLIENT_COUNT = 200
HISTORY_DAYS = 548  # about 18 months


@dataclass(frozen=True)
class DemoPerson:
    username: str
    name: str
    roles: tuple[str, ...]
    team: str | None  # the account group: account managers see their team's clients
    position: str
    manager: str | None  # username of the person they escalate to


# One account per role at least; account managers in two teams, each team with its manager.
DEMO_PEOPLE = [
    DemoPerson("admin", "Ada Admin", ("admin",), None, "Systems administrator", None),
    DemoPerson("partner", "Pat Partner", ("partner",), None, "Managing partner", None),
    DemoPerson("chen.jing", "陈静", ("partner",), None, "Tax partner", "partner"),
    DemoPerson("manager", "Max Manager", ("manager",), "north", "Head of client service, North team", "partner"),
    DemoPerson("wang.lei", "王磊", ("manager",), "south", "Head of client service, South team", "chen.jing"),
    DemoPerson("am", "Alex Morgan", ("account_manager",), "north", "Account manager", "manager"),
    DemoPerson("emma.taylor", "Emma Taylor", ("account_manager",), "north", "Account manager", "manager"),
    DemoPerson("zhang.wei", "张伟", ("account_manager",), "north", "Senior account manager", "manager"),
    DemoPerson("li.na", "李娜", ("account_manager",), "south", "Account manager", "wang.lei"),
    DemoPerson("james.wilson", "James Wilson", ("account_manager",), "south", "Account manager", "wang.lei"),
    DemoPerson("liu.yang", "刘洋", ("account_manager",), "south", "Senior account manager", "wang.lei"),
    DemoPerson("desk", "Sam Service-Desk", ("service_desk",), None, "Service desk", "manager"),
    DemoPerson("zhao.min", "赵敏", ("service_desk",), None, "Service desk", "wang.lei"),
    DemoPerson("viewer", "Vi Viewer", ("viewer",), None, "Internal auditor (read-only)", "partner"),
]
ACCOUNT_MANAGERS = [p.username for p in DEMO_PEOPLE if "account_manager" in p.roles]
PARTNERS = [p.username for p in DEMO_PEOPLE if "partner" in p.roles]
DESK = [p.username for p in DEMO_PEOPLE if "service_desk" in p.roles]

SERVICES = [
    "tax advisory",
    "annual audit",
    "corporate legal",
    "architecture",
    "IT managed services",
    "management consulting",
    "payroll",
    "trademark filing",
]
FOLLOW_UP_NOTES = [
    "Quarterly check-in; no open issues.",
    "Discussed next year's budget and scope.",
    "Client asked about the new VAT rules.",
    "Introduced the new audit senior.",
    "回访：客户对服务满意，计划续约。",
    "电话沟通年度审计时间安排。",
    "Chased unpaid invoice.",
    "Visited the new office; met the CFO.",
    "Reviewed engagement letter changes.",
]
REQUEST_TITLES = [
    "Copy of last year's accounts",
    "Change of registered address",
    "Invoice query",
    "Payroll run for a new employee",
    "Portal access for a new colleague",
    "VAT return question",
    "开具增值税专用发票",
    "更新联系人信息",
    "Meeting room booking for the board review",
]
COMPLAINT_TEXTS = [
    "Invoice sent twice for the same period.",
    "Deadline missed on the quarterly filing.",
    "Calls not returned for a week.",
    "报告中的公司名称有误。",
    "Wrong fee rate applied.",
]
FEEDBACK_COMMENTS = [
    "Very responsive team.",
    "Good work, a little slow.",
    "服务专业，沟通及时。",
    None,
    None,
    "Clear advice, fair fees.",
    "Hard to reach in August.",
]
ARTICLES = [
    (
        "Resetting a client portal password",
        "Ask the client to use *Forgot password* on the portal sign-in page. If no e-mail arrives within ten "
        "minutes, check the address on the client record and resend from the admin screen.",
        "IT managed services",
        ["portal", "access"],
    ),
    (
        "VAT registration for new companies",
        "A company must register for VAT within 30 days of passing the threshold. Collect the certificate of "
        "incorporation, the directors' details and a forecast of taxable turnover.",
        "tax advisory",
        ["vat"],
    ),
    (
        "Handling a complaint: the first 24 hours",
        "Register the complaint, acknowledge it to the client within one working day, and name the person who "
        "will investigate. Escalate critical complaints to the team's manager at once.",
        None,
        ["complaints"],
    ),
    (
        "增值税专用发票开具流程",
        "核对购买方名称、纳税人识别号、地址电话及开户行信息，确认无误后在开票系统中开具，并通过邮件发送电子发票。",
        "tax advisory",
        ["发票", "vat"],
    ),
    (
        "Year-end audit checklist",
        "Bank confirmations, fixed-asset register, payroll reconciliations, debtor circularisation and the "
        "management representation letter.",
        "annual audit",
        ["audit", "checklist"],
    ),
]


def seed_people(session: Session, actor: str | None = None) -> list[str]:
    """Accounts (with random passwords, shown once) and employee rows for the demo people not there yet."""
    from atrium.accounts import create_account
    from storage.accounts import account_by_username

    lines = []
    now = clock.now()
    for person in DEMO_PEOPLE:
        if account_by_username(session, username=person.username) is None:
            password = secrets.token_urlsafe(12)
            create_account(
                session,
                username=person.username,
                password=password,
                roles=list(person.roles),
                groups=[person.team] if person.team else [],
                display_name=person.name,
                email=f"{person.username}@atrium-demo.example",
                actor=actor,
            )
            team = f"; team {person.team}" if person.team else ""
            lines.append(
                f"Created demo account {person.username} ({', '.join(person.roles)}{team}), password {password}"
            )
        if session.scalar(select(Employee.id).where(Employee.username == person.username)) is None:
            session.add(
                Employee(
                    name=person.name,
                    position=person.position,
                    department=f"{person.team.title()} team" if person.team else None,
                    email=f"{person.username}@atrium-demo.example",
                    username=person.username,
                    manager=person.manager,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
    session.flush()
    if lines:
        lines.append("These passwords are shown only now and stored only as hashes: note them.")
    return lines


def demo_clients(session: Session) -> list[Client]:
    """The seeded clients, oldest first."""
    return list(session.scalars(select(Client).where(Client.created_by == DEMO_ACTOR).order_by(Client.id)))


def seed_clients(engine, session: Session, *, seed: int = 2026) -> list[str]:
    """About 200 clients with contacts, engagements and history, unless the demo firm exists already.
    They are created like any client (atrium/clients.py, as the `demo` actor): each is audited, and an
    active one starts its follow-up cycle when `follow_up` is deployed."""
    existing = session.scalar(select(func.count()).select_from(Client).where(Client.created_by == DEMO_ACTOR))
    if existing:
        return [f"The demo firm's {existing} clients already exist."]
    from atrium.clients import create_client

    rng = random.Random(seed)
    now = clock.now()
    names: set[str] = set()
    counts = dict.fromkeys(("contacts", "engagements", "follow-ups", "service requests", "complaints", "feedback"), 0)
    while len(names) < CLIENT_COUNT:
        fields = sample_client(rng)
        if fields["name"] in names:
            continue
        names.add(fields["name"])
        fields["owner"] = rng.choice(ACCOUNT_MANAGERS)
        since = now - timedelta(days=rng.uniform(0, HISTORY_DAYS), hours=rng.uniform(0, 10))
        client = create_client(session, engine, data=fields, actor=DEMO_ACTOR, confirm_duplicate=True, source="demo")
        client.created_at = client.updated_at = since
        for kind, made in _history(session, rng, client, since, now).items():
            counts[kind] += made
    session.flush()
    made = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return [f"Created the demo firm: {CLIENT_COUNT} clients with {made}, over the last 18 months."]


def _at(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment between start and end, in office hours where that stays between them."""
    moment = start + (end - start) * rng.random()
    moment = moment.replace(hour=rng.randint(9, 17), minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0)
    return min(max(moment, start), end)


def _history(session: Session, rng: random.Random, client: Client, since: datetime, now: datetime) -> dict[str, int]:
    """Contacts, engagements, follow-ups, requests, complaints and feedback of one client since `since`."""
    made = dict.fromkeys(("contacts", "engagements", "follow-ups", "service requests", "complaints", "feedback"), 0)
    chinese = not client.name.isascii()
    for _ in range(rng.choice((1, 1, 2, 3)) if client.kind == "organisation" else rng.choice((0, 1))):
        name, handle = chinese_person(rng) if chinese else english_person(rng)
        session.add(
            Contact(
                client_id=client.id,
                name=name,
                role=rng.choice(
                    ["CFO", "CEO", "Finance manager", "Office manager", "Legal counsel", "财务总监", "总经理"]
                    if chinese
                    else ["CFO", "CEO", "Finance manager", "Office manager", "Legal counsel"]
                ),
                phones=[chinese_mobile(rng)] if chinese else [client.phones[0][:-4] + f"{rng.randint(0, 9999):04d}"],
                emails=[f"{handle}@{client.emails[0].split('@')[1]}"],
                created_at=since,
                updated_at=since,
            )
        )
        made["contacts"] += 1
    engagements = []
    if client.status != "prospect" or rng.random() < 0.3:
        for _ in range(rng.choice((1, 1, 2))):
            start = _at(rng, since, now)
            if client.status == "prospect":
                status = "proposed"
            elif client.status == "former" or start < now - timedelta(days=365):
                status = rng.choice(("completed", "completed", "cancelled"))
            else:
                status = rng.choice(("active", "active", "proposed"))
            engagement = Engagement(
                client_id=client.id,
                service_type=rng.choice(SERVICES),
                description="Demo engagement",
                responsible=rng.choice(PARTNERS),
                start_date=start.date(),
                end_date=min(start + timedelta(days=rng.randint(60, 300)), now).date()
                if status == "completed"
                else None,
                status=status,
                fee_basis=rng.choice(("fixed", "hourly", "retainer")),
                fee_amount=Decimal(rng.randrange(2_000, 60_000, 500)),
                adverse_parties=[],
                created_at=start,
                updated_at=start,
            )
            session.add(engagement)
            engagements.append(engagement)
            made["engagements"] += 1
    # Follow-ups every few months, the last of them planned in the coming weeks for active clients.
    moment = since + timedelta(days=rng.randint(5, 40))
    while moment < now:
        session.add(
            FollowUp(
                client_id=client.id,
                planned_at=moment,
                done_at=moment,
                done_by=client.owner,
                channel=rng.choice(("call", "visit", "meeting", "email", "video")),
                content=rng.choice(FOLLOW_UP_NOTES),
                outcome=rng.choice(("ok", "ok", "ok", "needs_action", "no_contact")),
                created_at=moment,
                updated_at=moment,
            )
        )
        made["follow-ups"] += 1
        moment += timedelta(days=rng.randint(45, 120))
    if client.status == "active":
        planned = _at(rng, now + timedelta(days=1), now + timedelta(days=30))
        session.add(
            FollowUp(
                client_id=client.id,
                planned_at=planned,
                channel="call",
                content="Planned check-in",
                created_at=now,
                updated_at=now,
            )
        )
        made["follow-ups"] += 1
    requests = []
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        opened = _at(rng, since, now)
        recent = opened > now - timedelta(days=14)
        status = rng.choice(("new", "assigned", "in_progress")) if recent else rng.choice(("resolved", "closed"))
        resolved = opened + timedelta(hours=rng.randint(2, 96)) if status in ("resolved", "closed") else None
        request = ServiceRequest(
            client_id=client.id,
            type=rng.choice(("question", "change", "document")),
            title=rng.choice(REQUEST_TITLES),
            priority=rng.choice(("low", "normal", "normal", "high", "urgent")),
            status=status,
            source="staff",
            sla_due_at=opened + timedelta(days=2),
            sla_due_times=sla_due_times(Settings(), opened),
            assignee=rng.choice(DESK),
            created_by=rng.choice(DESK),
            resolution="Done and confirmed with the client." if resolved else None,
            rating=rng.choice((None, 4, 5, 5, 3)) if resolved else None,
            created_at=opened,
            updated_at=resolved or opened,
            resolved_at=resolved,
            closed_at=resolved if status == "closed" else None,
        )
        session.add(request)
        requests.append(request)
        made["service requests"] += 1
    if rng.random() < 0.08:
        received = _at(rng, since, now)
        open_ = received > now - timedelta(days=10)
        session.add(
            Complaint(
                client_id=client.id,
                severity=rng.choice(("low", "medium", "medium", "high", "critical")),
                description=rng.choice(COMPLAINT_TEXTS),
                status="investigating" if open_ else "closed",
                resolution=None if open_ else "Apologised, corrected and credited the fee.",
                satisfaction=None if open_ else rng.choice((2, 3, 4, 4, 5)),
                received_at=received,
                acknowledge_due_at=acknowledge_due(Settings(), received),
                acknowledged_at=received + timedelta(hours=rng.randint(1, 20)),
                resolved_at=None if open_ else received + timedelta(days=rng.randint(2, 15)),
                closed_at=None if open_ else received + timedelta(days=rng.randint(16, 25)),
                created_by=rng.choice(DESK),
                created_at=received,
                updated_at=received,
            )
        )
        made["complaints"] += 1
    session.flush()  # ids for the feedback to point at
    rated = [("engagement", e) for e in engagements if e.status == "completed"] + [
        ("service_request", r) for r in requests if r.resolved_at
    ]
    for subject_type, subject in rated:
        if rng.random() < 0.5:
            if subject_type == "engagement":
                at = datetime.combine(subject.end_date, time(17), tzinfo=now.tzinfo)
            else:
                at = subject.resolved_at
            at = min(at + timedelta(days=rng.randint(1, 10)), now)
            session.add(
                Feedback(
                    client_id=client.id,
                    csat=rng.choice((3, 4, 4, 5, 5)),
                    nps=rng.randint(5, 10),
                    comment=rng.choice(FEEDBACK_COMMENTS),
                    subject_type=subject_type,
                    subject_id=subject.id,
                    created_by=client.owner,
                    created_at=at,
                    updated_at=at,
                )
            )
            made["feedback"] += 1
    return made


def seed_articles(session: Session) -> list[str]:
    """The knowledge-base articles not there yet (by title)."""
    existing = set(
        session.scalars(
            select(KnowledgeArticle.title).where(KnowledgeArticle.title.in_([title for title, *_ in ARTICLES]))
        )
    )
    now = clock.now()
    added = 0
    for title, body, service_type, tags in ARTICLES:
        if title not in existing:
            session.add(
                KnowledgeArticle(
                    title=title,
                    body=body,
                    service_type=service_type,
                    tags=tags,
                    author="desk",
                    created_at=now,
                    updated_at=now,
                )
            )
            added += 1
    return [f"Added {added} knowledge-base articles."] if added else []
