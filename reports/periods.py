"""The period a scheduled run covers, named relative to the moment it fires, in the schedule's time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("previous_month", "previous_week", "previous_day", "previous_quarter", "month_to_date", "last_30_days")


def period_dates(name: str, fired_at: datetime, timezone: str) -> tuple[date, date]:
    """(from, to) with `to` exclusive: a run firing on 1 March covers February with previous_month."""
    today = fired_at.astimezone(ZoneInfo(timezone)).date()
    month_start = today.replace(day=1)
    if name == "previous_month":
        return (month_start - timedelta(days=1)).replace(day=1), month_start
    if name == "previous_week":  # Monday to Monday
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday
    if name == "previous_day":
        return today - timedelta(days=1), today
    if name == "previous_quarter":
        quarter_start = month_start.replace(month=(today.month - 1) // 3 * 3 + 1)
        previous = (quarter_start - timedelta(days=1)).replace(day=1)
        return previous.replace(month=(previous.month - 1) // 3 * 3 + 1), quarter_start
    if name == "month_to_date":
        return month_start, today + timedelta(days=1)
    if name == "last_30_days":
        return today - timedelta(days=29), today + timedelta(days=1)
    raise ValueError(f"unknown period {name!r}; one of {', '.join(PERIODS)}")
