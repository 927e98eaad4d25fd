"""Rate limits of the public survey endpoints: requests per client address and per link in a fixed window,
counted in the database (the login throttle's table, under their own keys) so every node shares them.

Each scope row keeps the window's start in `last_failure_at` and its count in `failures`; past the limit the
scope answers 429 with Retry-After until its window ends. A link's scope is keyed by the digest of its
value, and only once its signature is checked: a made-up link is counted against its address alone."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy.orm import Session

from atrium import clock
from atrium.errors import TooManyRequests
from atrium.settings import Settings
from storage.login_throttle import lock_throttles


class SurveyThrottled(TooManyRequests):
    kind = "survey-throttled"


def count_request(session: Session, *, settings: Settings, address: str, link_digest: str | None = None) -> None:
    """Count one request against its address (and link); SurveyThrottled once a scope is over its limit.
    Commit it on its own, before the request's work: a refused request must count too."""
    now = clock.now()
    window = timedelta(seconds=settings.survey_rate_window_seconds)
    limits = {f"survey-address:{address[:64]}": settings.survey_rate_per_address}
    if link_digest is not None:
        limits[f"survey-link:{link_digest}"] = settings.survey_rate_per_link
    retry_after = None
    for row in lock_throttles(session, keys=list(limits), now=now):
        if row.last_failure_at + window <= now or row.failures == 0:
            row.failures, row.last_failure_at = 0, now
        row.failures += 1
        if row.failures > limits[row.scope_key]:
            row.blocked_until = row.last_failure_at + window
            wait = math.ceil((row.blocked_until - now).total_seconds())
            retry_after = max(retry_after or 1, wait, 1)
    if retry_after is not None:
        raise SurveyThrottled("problem.survey_throttled", retry_after=retry_after)
