"""The survey link's endpoints, public by design (no login: the signed personal link is the only key): read
the survey's form, answer it once, unsubscribe. They say nothing about the client beyond the survey's own
text (the firm's name, what is rated); every refusal of a link is the same 404 (atrium.surveys); requests
are rate-limited per client address and per link (atrium.survey_throttle, 429 with Retry-After)."""

from __future__ import annotations

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import fields

from atrium import survey_throttle, surveys
from atrium.errors import TooManyRequests

from .docs import errors
from .schema_base import Schema

blp = Blueprint(
    "public_surveys", __name__, url_prefix="/api/public/surveys", description="Surveys answered through a link"
)


class PublicSurveySchema(Schema):
    firm = fields.String(required=True, metadata={"description": "the firm asking"})
    about = fields.String(
        allow_none=True, metadata={"description": "what is rated (a request's title); null: the firm"}
    )
    locale = fields.String(required=True, metadata={"description": "the language the survey is written in"})
    schema = fields.Dict(required=True, metadata={"description": "the form's JSON Schema, in that language"})
    ui_schema = fields.Dict(allow_none=True, metadata={"description": "its UI schema (react-jsonschema-form)"})


class SurveyAnswersSchema(Schema):
    answers = fields.Dict(required=True, metadata={"description": "the form's fields and nothing else"})


class SurveyAnsweredSchema(Schema):
    answered = fields.Boolean(required=True)
    locale = fields.String(required=True)


class SurveyOptOutSchema(Schema):
    care_mail = fields.Boolean(
        load_default=False, metadata={"description": "also no greetings and other care mail (surveys always)"}
    )


class SurveyOptedOutSchema(Schema):
    topics = fields.List(fields.String(), required=True)
    locale = fields.String(required=True)


def _engine():
    return current_app.extensions["atrium.engine"]


def _settings():
    return current_app.extensions["atrium.settings"]


def _count(token: str) -> None:
    """Count the request against its address, and against its link once the link's signature is ours (a
    forged one is then refused as unavailable). Committed before the request's work, like a login attempt."""
    settings = _settings()
    try:
        digest = surveys.link_digest_or_raise(settings, token)
    except surveys.SurveyUnavailable as exc:
        digest, forged = None, exc
    else:
        forged = None
    refusal = None
    with _engine().transaction() as session:
        try:
            survey_throttle.count_request(
                session, settings=settings, address=(request.remote_addr or "unknown"), link_digest=digest
            )
        except TooManyRequests as exc:
            refusal = exc
    if refusal is not None:
        raise refusal
    if forged is not None:
        raise forged


@blp.route("/<string:token>", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, PublicSurveySchema)
@errors(blp, 404, 429, authenticated=False)
def read_survey(token):
    """The survey a personal link opens: its form in the contact's language and its text, nothing else.

    A link unknown, changed, answered or expired is the same 404 (type survey-unavailable)."""
    _count(token)
    with _engine().transaction() as session:
        survey = surveys.survey_by_link_or_raise(session, _settings(), token)
        schema, ui_schema = surveys.survey_form(session, survey)
        return {
            "firm": surveys.firm_name(_settings()),
            "about": surveys.subject_title(session, survey),
            "locale": survey.locale,
            "schema": schema,
            "ui_schema": ui_schema,
        }


@blp.route("/<string:token>", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(SurveyAnswersSchema)
@blp.response(200, SurveyAnsweredSchema)
@errors(blp, 404, 422, 429, authenticated=False)
def answer_survey(data, token):
    """Answer the survey once: only its form's fields (any other is 422, naming it, and nothing is written)."""
    _count(token)
    with _engine().transaction() as session:
        survey = surveys.answer_survey(_engine(), session, token=token, answers=data["answers"])
        return {"answered": True, "locale": survey.locale}


@blp.route("/<string:token>/opt-out", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(SurveyOptOutSchema)
@blp.response(200, SurveyOptedOutSchema)
@errors(blp, 404, 422, 429, authenticated=False)
def opt_out(data, token):
    """Send this person no more surveys (and with care_mail, no care mail either); works after answering too."""
    _count(token)
    with _engine().transaction() as session:
        survey = surveys.opt_out_by_link(session, settings=_settings(), token=token, care_mail=data["care_mail"])
        return {"topics": ["surveys", "care_mail"] if data["care_mail"] else ["surveys"], "locale": survey.locale}
