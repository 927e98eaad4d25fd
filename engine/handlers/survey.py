"""Service tasks of the `survey` process: each a call of atrium.surveys (send, remind, expire, read the answer
from the survey's feedback row, tell the owner's manager of a low score, record the owner's follow-up), which
writes and audits in the step's transaction."""

from __future__ import annotations

from atrium import surveys

from ..services import ServiceCall, ServiceRegistry


def _survey(call: ServiceCall):
    return surveys.survey_or_raise(call.session, int(call.data["survey"]["survey_id"]))


def send(call: ServiceCall) -> dict:
    return surveys.send_for_process(
        call.engine, call.session, call.data, instance_id=call.instance_id, actor=call.actor
    )


def remind(call: ServiceCall) -> bool:
    return surveys.remind(call.session, settings=call.engine.settings, survey=_survey(call), actor=call.actor)


def expire(call: ServiceCall) -> bool:
    surveys.expire(call.session, survey=_survey(call), actor=call.actor)
    return True


def read_answer(call: ServiceCall) -> dict:
    return surveys.answer_of(call.session, settings=call.engine.settings, survey=_survey(call))


def notify_low_score(call: ServiceCall) -> dict:
    survey = _survey(call)
    answer = surveys.answer_of(call.session, settings=call.engine.settings, survey=survey)["answer"]
    return surveys.notify_low_score(
        call.session, survey=survey, answer=answer, actor=call.actor, instance_id=call.instance_id
    )


def record_follow_up(call: ServiceCall) -> dict:
    return surveys.record_follow_up(call.engine, call.session, survey=_survey(call), data=call.data, actor=call.actor)


def register(registry: ServiceRegistry) -> None:
    registry.register("survey.send", send)
    registry.register("survey.remind", remind)
    registry.register("survey.expire", expire)
    registry.register("survey.read_answer", read_answer)
    registry.register("survey.notify_low_score", notify_low_score)
    registry.register("survey.record_follow_up", record_follow_up)
