"""Idempotency keys: a POST retried with the same `Idempotency-Key` header is answered once and written once.

Usage (a flask-smorest view; keep this order — who may call first, then the key, then smorest's own):

    from api.idempotency import idempotent
    from api.permissions import requires_scope

    @blp.route("/payments")
    class Payments(MethodView):
        @requires_scope("payments:write", "billing:write")
        @idempotent
        @blp.arguments(PaymentSchema)
        @blp.response(201, PaymentOut)
        @errors(blp, 409, 422)
        def post(self, data): ...

What a caller gets:
- Integration accounts MUST send `Idempotency-Key` (1-255 visible ASCII characters) on such a view:
  without one, 422 problem (`idempotency-key-missing`, errors naming `Idempotency-Key`). People may.
- The first request with a key runs; its answer (status, body, Location) is kept for
  ATRIUM_IDEMPOTENCY_KEY_HOURS (24 h) per caller (the person's username or `integration:<name>`).
- The same key with the same request (method, path with query, SHA-256 of the body) replays that
  answer, with `Idempotent-Replayed: true`; the view does not run, nothing is written.
- The same key with another request: 422 problem (`idempotency-key-reused`).
- The same key while the first request is still running: 409 problem (`idempotency-key-in-progress`);
  retry later. Exactly one of concurrent requests runs: the key is reserved by INSERTing it (unique per
  caller and key) in a transaction of its own, committed before the view runs.
- A secret the answer shows once (a new API key) is not kept: `@idempotent(redact=("key.key",))` stores
  null there, and a replay says so (null) instead of showing the secret again.
- A request that fails (an exception, e.g. a 4xx/5xx problem, or any answer of 400 or more) leaves no
  key behind: the reservation is deleted, so a retry runs afresh. Only 2xx/3xx answers are kept.

Known limit: the answer is stored in its own transaction after the view's. A process killed between the
two leaves the key in_progress, so retries get 409 until it expires rather than a second write."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta
from functools import wraps

from flask import current_app, g, request
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from atrium import clock
from atrium.errors import Conflict, InvalidInput
from storage.integration_accounts import IdempotencyKey, idempotency_key, reserve_idempotency_key

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Headers of the first answer that a replay repeats.
KEPT_HEADERS = ("Location", "Content-Type")
log = logging.getLogger(__name__)


class IdempotencyKeyMissing(InvalidInput):
    kind = "idempotency-key-missing"


class IdempotencyKeyInvalid(InvalidInput):
    kind = "idempotency-key-invalid"


class IdempotencyKeyReused(InvalidInput):
    kind = "idempotency-key-reused"


class IdempotencyKeyInProgress(Conflict):
    kind = "idempotency-key-in-progress"


def fingerprint() -> str:
    """The request as a key's answer is bound to: method, path with query string, SHA-256 of the body."""
    body = hashlib.sha256(request.get_data(cache=True)).hexdigest()
    return hashlib.sha256(f"{request.method} {request.full_path}\n{body}".encode()).hexdigest()


def _engine():
    return current_app.extensions["atrium.engine"]


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.response_body or "", status=row.response_status)
    for name, value in (row.response_headers or {}).items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _reserve(caller: str, key: str, print_: str):
    """The reserved row's id, or a Response replaying the first answer; raises the 409/422 problems."""
    for _ in range(3):
        now = clock.now()
        expires_at = now + timedelta(hours=current_app.extensions["atrium.settings"].idempotency_key_hours)
        try:
            with _engine().transaction() as session:
                return reserve_idempotency_key(
                    session, caller=caller, key=key, fingerprint=print_, now=now, expires_at=expires_at
                )
        except IntegrityError:
            pass  # the caller holds this key already
        with _engine().transaction() as session:
            row = idempotency_key(session, caller=caller, key=key)
            if row is not None and row.expires_at <= now:
                # Forgotten by now (the hourly purge has not run yet): the key is free again.
                table = IdempotencyKey.__table__
                session.execute(delete(table).where(table.c.id == row.id, table.c.expires_at <= now))
                continue
        if row is None:
            continue  # its first request failed and let it go meanwhile: try to take it
        if row.fingerprint != print_:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with another request",
                {HEADER: ["already used with a different method, path or body; use a new key"]},
            )
        if row.status != "done":
            raise IdempotencyKeyInProgress("a request with this Idempotency-Key is still running; retry later")
        return _replay(row)
    raise IdempotencyKeyInProgress("a request with this Idempotency-Key is still running; retry later")


def _release(row_id: int) -> None:
    """Let the key go after a failed request, so a retry runs."""
    try:
        with _engine().transaction() as session:
            table = IdempotencyKey.__table__
            session.execute(delete(table).where(table.c.id == row_id, table.c.status == "in_progress"))
    except Exception:  # the original failure is what the caller must see
        log.exception("could not release idempotency key %s", row_id)


def _redacted(body: str, paths: tuple[str, ...]) -> str:
    """The body with each dotted path's value set to null: a secret shown once is not kept for replays."""
    if not paths:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    for path in paths:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            node[last] = None
    return json.dumps(data, ensure_ascii=False)


def _finish(row_id: int, response: Response, redact: tuple[str, ...]) -> None:
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    table = IdempotencyKey.__table__
    try:
        with _engine().transaction() as session:
            session.execute(
                update(table)
                .where(table.c.id == row_id)
                .values(
                    status="done",
                    response_status=response.status_code,
                    response_body=_redacted(response.get_data(as_text=True), redact),
                    response_headers=json.loads(json.dumps(headers)),
                )
            )
    except Exception:  # the change is made: answer it; retries get 409 until the key expires
        log.exception("could not store the answer of idempotency key %s", row_id)


def idempotent(view=None, *, redact: tuple[str, ...] = ()):
    """Make a flask-smorest POST view idempotent by the `Idempotency-Key` header (see the module's text).
    Required from integration accounts, optional for people. Put it below `requires_scope`/`requires`
    and above `blp.arguments`/`blp.response`. `@idempotent`, or `@idempotent(redact=("key.key",))` to
    keep a secret the answer shows once (dotted JSON paths) out of the stored answer: a replay has null there."""
    if view is None:
        return lambda view: idempotent(view, redact=tuple(redact))

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or key == "":
            if g.get("integration") is not None:
                raise IdempotencyKeyMissing(
                    f"integration accounts must send an {HEADER} header with this request",
                    {HEADER: ["required for integration accounts: a unique value per intended change"]},
                )
            return view(*args, **kwargs)
        if not _KEY.match(key):
            raise IdempotencyKeyInvalid(
                f"the {HEADER} header is not valid", {HEADER: ["1-255 visible ASCII characters"]}
            )
        reserved = _reserve(g.account.username, key, fingerprint())
        if isinstance(reserved, Response):
            return reserved
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            _release(reserved)
            raise
        if response.status_code >= 400 or response.is_streamed:
            _release(reserved)
        else:
            _finish(reserved, response, redact)
        return response

    wrapper.atrium_idempotent = True
    return wrapper
