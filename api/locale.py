"""The language of the request: from its Accept-Language header (the web app sends the person's
chosen locale there), negotiated once per request."""

from __future__ import annotations

from flask import g, has_request_context, request

from atrium.i18n import DEFAULT, negotiate


def request_locale() -> str:
    """The supported locale this request asks for (English outside a request)."""
    if not has_request_context():
        return DEFAULT
    locale = g.get("locale")
    if locale is None:
        locale = g.locale = negotiate(request.headers.get("Accept-Language"))
    return locale
