"""A smaller request-body limit for the endpoints that take process data: start, message and complete."""

from __future__ import annotations

from functools import wraps

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

# The data itself is limited (ATRIUM_MAX_DATA_BYTES, counted as compact UTF-8 JSON, 422 naming the
# field); a body may spend more bytes on the same data (whitespace, \u escapes of up to 6 bytes for a
# 3-byte character), so it may be four times that plus room for the other fields before it is
# refused unread with 413, rather than parsed to be found too large.
_BODY_FACTOR = 4
_OTHER_FIELDS_BYTES = 16 * 1024


def body_limit(max_data_bytes: int) -> int:
    return _BODY_FACTOR * max_data_bytes + _OTHER_FIELDS_BYTES


def limits_body(view):
    """Refuse with 413 (problem+json, through the API's HTTP error handler) a request body larger than
    `body_limit`, before the body is read; apply it above `blp.arguments`, which reads it."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        limit = body_limit(current_app.extensions["atrium.settings"].max_data_bytes)
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge(
                f"the request body is {request.content_length} bytes; this operation takes at most {limit}"
            )
        request.max_content_length = limit  # a body sent without a length is cut off there as it is read
        return view(*args, **kwargs)

    return wrapper
