"""Surveys: a form (CSAT, NPS, a comment, any question the firm adds) mailed to a client's contact with a
personal link that needs no login, answered once, becoming a feedback row linked to what it rates.

The link is `{public_url}/survey/{token}`, the token a random 256-bit value signed with the app's signing
key: a changed signature is refused before any lookup, and only the SHA-256 digest of the value is kept
(surveys.token_digest). A link works once, until `expires_at` (ATRIUM_SURVEY_LINK_DAYS); a reminder sends
a new link, which replaces the first (its value was never stored, so it cannot be mailed again). Every
refusal of a link (unknown, tampered, answered, expired) is one and the same 404 problem, so a link says
nothing about a survey it does not open. Every send respects opt-outs (atrium.opt_outs).

Audited on `client:{id}/surveys/{survey id}`: survey.send, survey.remind, survey.skip, survey.answer,
survey.expire, survey.follow_up. Callers own the transaction."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import audit, clock, escalation, i18n, notifications, opt_outs
from atrium.client_records import create_record
from atrium.clients import client_business_key
from atrium.errors import AtriumError, InvalidInput, NotFound
from atrium.settings import Settings
from engine.forms import validate_submission
from engine.timers import after
from storage.client_records import Complaint, Feedback, ServiceRequest
from storage.clients import Client, Contact
from storage.definitions import latest_definition, latest_form
from storage.surveys import SUBJECT_TYPES, Survey, clients_due_for_periodic, survey_by_digest
from storage.translations import FORM, translation

log = logging.getLogger(__name__)

SURVEY_PROCESS = "survey"
CSAT_FORM, NPS_FORM = "survey_csat", "survey_nps"
# The message the survey process waits for; correlated on the instance's `survey_id`.
ANSWERED_MESSAGE = "survey_answered"
# The answers a feedback row keeps; any other question the firm's form asks stays with the process.
FEEDBACK_FIELDS = ("csat", "nps", "comment")
# Words in a comment that ask for a complaint to be opened (any case).
COMPLAINT_WORDS = ("complaint", "complain", "投诉")
_SALT = "atrium.survey-link"


class SurveyUnavailable(AtriumError):
    """A link that opens nothing: unknown, tampered with, already answered or expired, all alike (404: a
    spent link is as absent as one never made)."""

    status = 404
    title = "Survey unavailable"
    kind = "survey-unavailable"

    def __init__(self):
        super().__init__("problem.survey_unavailable")


# Links -----------------------------------------------------------------------------------------
def _signer(settings: Settings) -> Signer:
    return Signer(settings.signing_key(), salt=_SALT, digest_method=hashlib.sha256)


def digest_of(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_link_token(settings: Settings) -> tuple[str, str]:
    """(the signed token for the link, the digest to store) of a fresh random 256-bit value."""
    value = secrets.token_urlsafe(32)
    return _signer(settings).sign(value).decode(), digest_of(value)


def link_digest_or_raise(settings: Settings, token: str) -> str:
    """The digest a link's token stands for; SurveyUnavailable when its signature is not ours."""
    try:
        value = _signer(settings).unsign(token.encode()).decode()
    except (BadSignature, UnicodeError):
        raise SurveyUnavailable() from None
    return digest_of(value)


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/survey/{token}"


def survey_by_link_or_raise(
    session: Session, settings: Settings, token: str, *, lock: bool = False, open_only: bool = True
) -> Survey:
    """The survey a link opens (its row locked with `lock`); SurveyUnavailable for a tampered or unknown
    link, and with `open_only` for one answered or expired."""
    digest = link_digest_or_raise(settings, token)
    survey = survey_by_digest(session, token_digest=digest, lock=lock)
    # The lookup is by digest; the comparison is made in constant time all the same.
    if survey is None or not hmac.compare_digest(survey.token_digest.encode(), digest.encode()):
        raise SurveyUnavailable()
    if open_only and (survey.answered_at is not None or clock.now() >= survey.expires_at):
        raise SurveyUnavailable()
    return survey


# Sending ---------------------------------------------------------------------------------------
def target_of(survey: Survey) -> str:
    return f"client:{survey.client_id}/surveys/{survey.id}"


def _address(contact: Contact) -> str | None:
    for email in contact.emails or []:
        if isinstance(email, str) and "@" in email:
            return email
        if isinstance(email, dict) and "@" in str(email.get("value") or email.get("address") or ""):
            return str(email.get("value") or email.get("address"))
    return None


def recipient_of(session: Session, *, client_id: int, contact_id: int | None = None) -> Contact | None:
    """Whom a survey of the client goes to: the contact given, else the client's first contact with an email
    address; None when that person (or the whole client) opted out of surveys or has no address."""
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        candidates = [contact] if contact is not None and contact.client_id == client_id else []
    else:
        candidates = list(session.scalars(select(Contact).where(Contact.client_id == client_id).order_by(Contact.id)))
    for contact in candidates:
        if _address(contact) and not opt_outs.is_opted_out(
            session, client_id=client_id, contact_id=contact.id, topic="surveys"
        ):
            return contact
    return None


def subject_title(session: Session, survey: Survey) -> str | None:
    """What a survey rates, in the words the client knows it by: a request's title, a complaint by the day it
    was received (its description may quote the firm's people); None for a periodic survey."""
    if survey.subject_type == "service_request":
        return getattr(session.get(ServiceRequest, survey.subject_id), "title", None)
    if survey.subject_type == "complaint":
        complaint = session.get(Complaint, survey.subject_id)
        if complaint is not None:
            date = i18n.format_date(complaint.received_at, survey.locale)
            return i18n.translate("survey.about.complaint", survey.locale, date=date)
    return None


def firm_name(settings: Settings) -> str:
    return settings.firm_name or "Atrium"


def _mail(
    session: Session,
    survey: Survey,
    contact: Contact,
    token: str,
    settings: Settings,
    *,
    reminder: bool,
    actor: str | None,
):
    locale = survey.locale
    about = subject_title(session, survey)
    params = {
        "firm": firm_name(settings),
        "name": contact.name,
        "link": link_url(settings, token),
        "expires": i18n.format_date(survey.expires_at, locale),
        "about": about or "-",
    }
    kind = "reminder" if reminder else ("subject" if about else "periodic")
    notifications.queue(
        session,
        kind="survey",
        recipient=None,
        email=_address(contact),
        subject=f"survey.mail.{kind}.subject",
        body=f"survey.mail.{kind}.body",
        params=params,
        locale=locale,
        actor=actor,
        instance_id=survey.instance_id,
    )


def send_survey(
    session: Session,
    *,
    settings: Settings,
    client_id: int,
    form_key: str,
    subject_type: str | None = None,
    subject_id: int | None = None,
    contact_id: int | None = None,
    instance_id=None,
    actor: str | None,
) -> Survey | None:
    """Mail a survey of `form_key` to the client's contact, in that person's language, with a new link;
    None (audited as survey.skip) when there is nobody to send it to or they opted out of surveys."""
    if subject_type is not None and subject_type not in SUBJECT_TYPES:
        raise InvalidInput(f"a survey rates {', '.join(SUBJECT_TYPES)}", {"subject_type": ["unknown"]})
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    contact = recipient_of(session, client_id=client_id, contact_id=contact_id)
    if contact is None:
        audit.record(
            session,
            "survey.skip",
            actor=actor,
            target=f"client:{client_id}",
            detail={"form": form_key, "contact_id": contact_id, "reason": "no contact to ask, or opted out"},
        )
        return None
    now = clock.now()
    token, digest = new_link_token(settings)
    survey = Survey(
        client_id=client_id,
        contact_id=contact.id,
        subject_type=subject_type,
        subject_id=subject_id,
        form_key=form_key,
        locale=opt_outs.mail_locale(client, contact),
        token_digest=digest,
        sent_at=now,
        expires_at=now + timedelta(days=settings.survey_link_days),
        instance_id=instance_id,
    )
    session.add(survey)
    session.flush()
    _mail(session, survey, contact, token, settings, reminder=False, actor=actor)
    audit.record(
        session,
        "survey.send",
        actor=actor,
        target=target_of(survey),
        detail={
            "form": form_key,
            "contact_id": contact.id,
            "subject": f"{subject_type}:{subject_id}" if subject_type else None,
            "locale": survey.locale,
            "expires_at": survey.expires_at.isoformat(),
        },
    )
    return survey


def remind(session: Session, *, settings: Settings, survey: Survey, actor: str | None) -> bool:
    """Send the survey once more with a new link (the first one stops working) if it is still unanswered,
    unexpired, and its contact has not opted out since; returns whether it was sent."""
    contact = session.get(Contact, survey.contact_id) if survey.contact_id else None
    if (
        survey.answered_at is not None
        or survey.reminded_at is not None
        or clock.now() >= survey.expires_at
        or contact is None
        or not _address(contact)
        or opt_outs.is_opted_out(session, client_id=survey.client_id, contact_id=contact.id, topic="surveys")
    ):
        return False
    token, survey.token_digest = new_link_token(settings)
    survey.reminded_at = clock.now()
    _mail(session, survey, contact, token, settings, reminder=True, actor=actor)
    audit.record(session, "survey.remind", actor=actor, target=target_of(survey), detail={"contact_id": contact.id})
    return True


def expire(session: Session, *, survey: Survey, actor: str | None) -> None:
    """The survey went unanswered until its link expired: its link stops now (if it has not already)."""
    if survey.answered_at is not None:
        return
    survey.expires_at = min(survey.expires_at, clock.now())
    audit.record(session, "survey.expire", actor=actor, target=target_of(survey), detail=None)


# Answering -------------------------------------------------------------------------------------
def survey_form(session: Session, survey: Survey) -> tuple[dict, dict | None]:
    """The survey's form (schema, UI schema) in its contact's language."""
    from engine.translations import localize_form

    form = latest_form(session, name=survey.form_key)
    if form is None:
        raise SurveyUnavailable()
    texts = translation(session, kind=FORM, name=survey.form_key, locale=survey.locale) if survey.locale else {}
    return localize_form(form.schema, form.ui_schema, texts)


def _check_answers(session: Session, survey: Survey, answers) -> dict:
    form = latest_form(session, name=survey.form_key)
    if form is None:
        raise SurveyUnavailable()
    if not isinstance(answers, dict):
        raise InvalidInput("the answers must be a JSON object", {"answers": ["must be an object"]})
    declared = set((form.schema.get("properties") or {}).keys())
    extra = sorted(set(answers) - declared)
    if extra:
        raise InvalidInput(
            "the answers hold fields this survey does not ask",
            {f"answers.{name}": ["not a question of this survey"] for name in extra},
        )
    try:
        validate_submission(form.schema, answers)
    except InvalidInput as exc:  # named as the request names them: answers.<field>
        errors = {"answers" + key.removeprefix("data"): messages for key, messages in exc.errors.items()}
        raise InvalidInput("the answers do not match the survey's form", errors) from None
    return {name: answers[name] for name in declared if name in answers}


def is_low(settings: Settings, answers: dict) -> bool:
    """A score at or below the firm's thresholds (ATRIUM_SURVEY_LOW_CSAT, ATRIUM_SURVEY_LOW_NPS)."""
    csat, nps = answers.get("csat"), answers.get("nps")
    return (isinstance(csat, int) and csat <= settings.survey_low_csat) or (
        isinstance(nps, int) and nps <= settings.survey_low_nps
    )


def offers_complaint(answers: dict) -> bool:
    """Whether the owner's follow-up offers to open a complaint: the lowest score, or a comment asking."""
    comment = str(answers.get("comment") or "").lower()
    return answers.get("csat") == 1 or answers.get("nps") in (0, 1) or any(w in comment for w in COMPLAINT_WORDS)


def answer_survey(engine, session: Session, *, token: str, answers) -> Survey:
    """Record the answers given through a survey's link: only the form's fields, valid by its schema (422
    naming each field, nothing written); a feedback row linked to what it rates, through the rule staff
    record feedback by; the survey marked answered; its process (if any) told."""
    settings: Settings = engine.settings
    survey = survey_by_link_or_raise(session, settings, token, lock=True)
    kept = _check_answers(session, survey, answers)
    feedback = create_record(
        engine,
        session,
        Feedback,
        survey.client_id,
        {
            **{name: kept.get(name) for name in FEEDBACK_FIELDS},
            "subject_type": survey.subject_type,
            "subject_id": survey.subject_id,
        },
        actor=actor_of(survey),
    )
    survey.answered_at, survey.feedback_id = clock.now(), feedback.id
    low = is_low(settings, kept)
    audit.record(
        session,
        "survey.answer",
        actor=actor_of(survey),
        target=target_of(survey),
        detail={"feedback": feedback.id, "fields": sorted(kept), "low": low},
    )
    if survey.instance_id is not None:
        from engine.messages import correlate_message

        try:
            correlate_message(
                engine,
                session,
                name=ANSWERED_MESSAGE,
                # Every answer, the firm's own questions too, is kept in the process's history; what the
                # process decides by is read from the feedback row (answer_of).
                payload={"answers": kept},
                correlation_keys={"business_key": client_business_key(survey.client_id), "survey_id": survey.id},
                actor=actor_of(survey),
            )
        except NotFound:  # the process no longer waits (cancelled): the answer is kept all the same
            log.info("survey %s answered after its process stopped waiting", survey.id)
    return survey


def actor_of(survey: Survey) -> str:
    """Who acts through a survey's link, in audit rows and on the feedback: the contact, by the survey."""
    return f"survey:{survey.id}"


def opt_out_by_link(session: Session, *, settings: Settings, token: str, care_mail: bool = False) -> Survey:
    """The contact behind a link asks for no more surveys (and with `care_mail`, no care mail either). A
    link answered or expired still unsubscribes: it is still that person's; audited by atrium.opt_outs."""
    survey = survey_by_link_or_raise(session, settings, token, open_only=False)
    for topic in ("surveys", "care_mail") if care_mail else ("surveys",):
        opt_outs.opt_out(
            session,
            client_id=survey.client_id,
            contact_id=survey.contact_id,
            topic=topic,
            source="link",
            actor=actor_of(survey),
        )
    return survey


# The process ------------------------------------------------------------------------------------
def start_survey(
    engine,
    session: Session,
    *,
    client_id: int,
    form_key: str,
    subject_type: str | None = None,
    subject_id: int | None = None,
    actor: str | None,
):
    """Start the `survey` process for the client (it sends the survey, reminds, expires, and follows a low
    score up); None, nothing started, when `survey` is not deployed or nobody can be asked."""
    if latest_definition(session, process_key=SURVEY_PROCESS) is None:
        return None
    if recipient_of(session, client_id=client_id) is None:
        return None
    variables = {"client_id": client_id, "form_key": form_key}
    if subject_type is not None:
        variables |= {"subject_type": subject_type, "subject_id": subject_id}
    return engine.start_instance(
        session,
        process_key=SURVEY_PROCESS,
        business_key=client_business_key(client_id),
        actor=actor,
        variables=variables,
    )


def survey_after_close(engine, session: Session, record, *, actor: str | None):
    """A closed service request or complaint: ask the client how it went (CSAT)."""
    subject_type = "service_request" if isinstance(record, ServiceRequest) else "complaint"
    return start_survey(
        engine,
        session,
        client_id=record.client_id,
        form_key=CSAT_FORM,
        subject_type=subject_type,
        subject_id=record.id,
        actor=actor,
    )


def send_for_process(engine, session: Session, data: dict, *, instance_id, actor: str | None) -> dict:
    """The process's first step: send the survey; what the process waits with (link's expiry, reminder)."""
    settings: Settings = engine.settings
    survey = send_survey(
        session,
        settings=settings,
        client_id=int(data["client_id"]),
        form_key=data.get("form_key") or CSAT_FORM,
        subject_type=data.get("subject_type"),
        subject_id=data.get("subject_id"),
        instance_id=instance_id,
        actor=actor,
    )
    if survey is None:
        return {"sent": False}
    client = session.get(Client, survey.client_id)
    remind_at = after(survey.sent_at, settings.survey_reminder)
    return {
        "sent": True,
        "survey_id": survey.id,
        "client_name": client.name,
        "owner": client.owner,
        "remind_at": min(remind_at, survey.expires_at).isoformat(),
        "expires_at": survey.expires_at.isoformat(),
    }


def answer_of(session: Session, *, settings: Settings, survey: Survey) -> dict:
    """What the survey's answer says, read from its feedback row (a message claiming an answer proves none):
    the scores and comment, whether they are low, whether the follow-up offers a complaint."""
    feedback = session.get(Feedback, survey.feedback_id) if survey.feedback_id else None
    answer = {name: getattr(feedback, name) for name in FEEDBACK_FIELDS} if feedback is not None else {}
    answer = {name: value for name, value in answer.items() if value is not None}
    low = feedback is not None and is_low(settings, answer)
    return {"answer": answer, "low": low, "offer_complaint": low and offers_complaint(answer)}


def survey_or_raise(session: Session, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFound(f"survey {survey_id} not found")
    return survey


def notify_low_score(session: Session, *, survey: Survey, answer: dict, actor: str | None, instance_id) -> dict:
    """Tell the client owner's manager (atrium.escalation's rule) that the client gave a low score."""
    client = session.get(Client, survey.client_id)
    score = _score(answer)
    manager, told = escalation.escalate(
        session,
        about=client.owner,
        subject="notification.survey_low_score.subject",
        body="notification.survey_low_score.body",
        params={
            "client": client.name,
            "score": score,
            "owner": client.owner or "-",
            "comment": answer.get("comment") or "-",
        },
        actor=actor,
        instance_id=instance_id,
        client_id=client.id,
    )
    # escalation.escalate leaves the audit of an escalation to its caller (as follow-ups and complaints do).
    audit.record(
        session,
        "survey.escalate",
        actor=actor,
        target=target_of(survey),
        detail={"manager": manager, "notified": told, "score": score},
    )
    return {"manager": manager, "notified": told}


def _score(answer: dict) -> str:
    return f"CSAT {answer['csat']}/5" if answer.get("csat") is not None else f"NPS {answer.get('nps')}/10"


def record_follow_up(engine, session: Session, *, survey: Survey, data: dict, actor: str | None) -> dict:
    """The owner followed a low score up; with `open_complaint` a complaint is opened (and its process
    started) through atrium.complaints, linked in the audit row."""
    from atrium.complaints import record_complaint

    complaint_id = None
    if data.get("open_complaint"):
        answer = data.get("answer") or {}
        description = i18n.translate(
            "survey.complaint_description",
            i18n.DEFAULT,
            about=subject_title(session, survey) or "-",
            score=_score(answer),
            comment=answer.get("comment") or "-",
            notes=data.get("notes") or "-",
        )
        complaint = record_complaint(engine, session, survey.client_id, {"description": description}, actor=actor)
        complaint_id = complaint.id
    audit.record(
        session,
        "survey.follow_up",
        actor=actor,
        target=target_of(survey),
        detail={"complaint": complaint_id, "notes": bool(data.get("notes"))},
    )
    return {"complaint": complaint_id}


# The schedule ----------------------------------------------------------------------------------
def _months_before(now: datetime, months: int) -> datetime:
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    day = min(now.day, 28)
    return now.replace(year=year, month=month + 1, day=day)


def start_due_nps_surveys(engine, *, limit: int = 200) -> int:
    """Scheduler job: start the periodic NPS survey of each active client not asked (nor made a client)
    within ATRIUM_SURVEY_NPS_MONTHS; at most `limit` per run. Idempotent: a client asked is not due again."""
    settings: Settings = engine.settings
    started = 0
    with engine.transaction() as session:
        if latest_definition(session, process_key=SURVEY_PROCESS) is None:
            return 0
        cutoff = _months_before(clock.now(), settings.survey_nps_months)
        candidates = clients_due_for_periodic(session, form_key=NPS_FORM, asked_after=cutoff)
        for client_id in candidates:
            if start_survey(engine, session, client_id=client_id, form_key=NPS_FORM, actor=audit.SCHEDULER) is not None:
                started += 1
                if started >= limit:
                    break
    return started
