"""BPMN timers on the injectable clock: due times of waiting timer events and timer start events.

SpiffWorkflow's timer definitions read `datetime.now()` directly; we point that module's
`datetime` at one that asks `atrium.clock`, so a test moves the clock and timers fire.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from atrium import clock


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        moment = clock.now()
        return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)


spiff_timer.datetime = _ClockDatetime


def _as_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return TimerEventDefinition.get_datetime(str(value))


def waiting_timer_due(task) -> datetime | None:
    """When a waiting timer event task is due, from the value SpiffWorkflow computed for it."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition):
        return None
    value = task._get_internal_data("event_value")
    if value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        if value.get("cycles") == 0:
            return None
        return _as_datetime(value["next"])
    if isinstance(definition, TimeDateEventDefinition):
        parsed = TimerEventDefinition.parse_time_or_duration(value) if isinstance(value, str) else value
        return _as_datetime(parsed)
    return _as_datetime(value)


def start_timer_schedule(event: dict, evaluate) -> tuple[datetime, dict | None] | None:
    """First due time of a timer start event, and its cycle ({remaining, seconds}) if repeating.

    `evaluate(expression)` evaluates the timer expression with no process data.
    """
    expression = evaluate(event["expression"])
    now = clock.now()
    kind = event["timer"]
    if kind == CycleTimerEventDefinition.__name__:
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(expression)
        if cycles == 0:
            return None
        return _as_datetime(start), {"remaining": cycles, "seconds": duration.total_seconds()}
    if kind == DurationTimerEventDefinition.__name__:
        delta = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(expression), now)
        return now + delta, None
    return _as_datetime(TimerEventDefinition.parse_time_or_duration(expression)), None


def next_cycle(due_at: datetime, cycle: dict | None) -> tuple[datetime, dict] | None:
    """The following firing of a repeating start timer, or None when its cycles are used up."""
    if not cycle:
        return None
    remaining = cycle["remaining"]
    if remaining == 1:
        return None
    return due_at + timedelta(seconds=cycle["seconds"]), {**cycle, "remaining": remaining - 1 if remaining > 0 else -1}


def after(start: datetime, duration: str) -> datetime:
    """The moment an ISO-8601 duration after `start`, months and years counted on the calendar as
    SpiffWorkflow's timers count them (P1M from 5 January is 5 February)."""
    return start + TimerEventDefinition.get_timedelta_from_start(
        TimerEventDefinition.parse_iso_duration(duration), start
    )
