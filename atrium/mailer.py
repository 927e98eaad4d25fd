"""Mailing the notification outbox through SMTP: claim queued rows, send them, mark each sent or failed.

Rows are written by the changes they report, in the same transaction, and mailed here afterwards
by a scheduler job, so a mail server that is down never holds up or rolls back a request or an
engine step. Without ATRIUM_SMTP_HOST nothing is sent: the rows stay `queued` in the outbox that
`GET /api/notifications` lists. A row is locked while it is mailed and marked in the same
commit; should a worker die between sending and committing, the row is mailed again (at least
once, never silently dropped).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from atrium import clock
from atrium.masking import notification_text, roles_of
from atrium.settings import Settings
from storage.notifications import addresses_of, claim_sendable, mark_attempt_failed, mark_sent
from storage.reports import report_pdfs

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 50


def send_queued_notifications(engine, *, batch_size: int = DEFAULT_BATCH_SIZE, max_batches: int | None = None) -> int:
    """Mail every queued notification that is due; returns how many were sent. `engine` gives
    `transaction()` and `settings` (the process engine does)."""
    settings: Settings = engine.settings
    if not settings.smtp_configured:
        return 0
    sent = batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        with engine.transaction() as session:
            now = clock.now()
            rows = claim_sendable(session, now=now, limit=batch_size)
            if rows:
                addresses = addresses_of(session, usernames={r.recipient for r in rows if not r.email and r.recipient})
                attachments = report_pdfs(session, run_ids={r.report_run_id for r in rows if r.report_run_id})
                roles = roles_of(session, {r.recipient for r in rows if r.recipient and r.client_id})
                texts = {
                    r.id: notification_text(session, r, roles.get(r.recipient or "", []), settings)
                    for r in rows
                    if r.client_id is not None
                }
                sent += _deliver(session, rows, addresses, attachments, settings, texts)
        if len(rows) < batch_size:
            break
    return sent


def _deliver(
    session,
    rows,
    addresses: dict[str, str],
    attachments: dict[int, tuple[str, bytes]],
    settings: Settings,
    texts: dict[int, tuple[str, str]] | None = None,
) -> int:
    """Send `rows` over one SMTP connection; every row ends marked sent, queued for a retry, or failed."""
    sendable = []
    for row in rows:
        address = row.email or addresses.get(row.recipient or "")
        if address:
            sendable.append((row, address))
        else:  # retrying cannot help: say so in the outbox
            mark_attempt_failed(
                session,
                notification_id=row.id,
                attempts=row.attempts + 1,
                retry_at=None,
                error=f"no email address for {row.recipient or 'this notification'}",
            )
    if not sendable:
        return 0
    try:
        connection = _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("cannot reach SMTP server %s:%s: %s", settings.smtp_host, settings.smtp_port, exc)
        for row, _ in sendable:
            _failed(session, row, f"SMTP connection failed: {exc}", settings)
        return 0
    sent = 0
    try:
        for row, address in sendable:
            try:
                connection.send_message(
                    _message(row, address, settings, attachments.get(row.report_run_id), (texts or {}).get(row.id))
                )
            except (OSError, smtplib.SMTPException) as exc:
                _failed(session, row, f"{type(exc).__name__}: {exc}", settings)
            else:
                mark_sent(session, notification_id=row.id, email=address, now=clock.now())
                sent += 1
    finally:
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent


def _connect(settings: Settings) -> smtplib.SMTP:
    connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    try:
        if settings.smtp_starttls:
            connection.starttls()
        if settings.smtp_user:
            connection.login(settings.smtp_user, settings.smtp_password or "")
    except BaseException:
        connection.close()
        raise
    return connection


def _message(
    row,
    address: str,
    settings: Settings,
    attachment: tuple[str, bytes] | None = None,
    text: tuple[str, str] | None = None,
) -> EmailMessage:
    """The mail of one notification; `text` its (subject, body) as the recipient may see them (masked)."""
    subject, body = text or (row.subject, row.body)
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(idstring=f"atrium-notification-{row.id}")
    message["X-Atrium-Notification"] = str(row.id)
    message.set_content(body)
    if attachment is not None:
        filename, content = attachment
        message.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
    return message


def _failed(session, row, error: str, settings: Settings) -> None:
    attempts = row.attempts + 1
    retry_at = _retry_at(attempts, settings) if attempts < settings.mail_max_attempts else None
    mark_attempt_failed(session, notification_id=row.id, attempts=attempts, error=error, retry_at=retry_at)


def _retry_at(attempts: int, settings: Settings) -> datetime:
    """Exponential backoff: mail_retry_seconds after the first failure, doubling after each."""
    return clock.now() + timedelta(seconds=settings.mail_retry_seconds * 2 ** (attempts - 1))
