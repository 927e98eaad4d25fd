"""The calendar of relationship care: the firm's holidays in a year (Chinese lunar and Gregorian, from
the maintained `holidays` library) and the Gregorian date of a yearly care date in a given year (lunar
month/day converted by `lunar_python`)."""

from __future__ import annotations

from datetime import date
from functools import cache

import holidays
from lunar_python import Lunar, LunarYear

# The holidays a firm may observe: our key -> (the `holidays` calendar, the holiday's English name there).
# The first day of the holiday counts (Spring Festival's three days are one occasion).
HOLIDAYS: dict[str, tuple[str, str]] = {
    "new_year": ("CN", "New Year's Day"),
    "spring_festival": ("CN", "Chinese New Year (Spring Festival)"),
    "dragon_boat": ("CN", "Dragon Boat Festival"),
    "mid_autumn": ("CN", "Mid-Autumn Festival"),
    "national_day": ("CN", "National Day"),
    "christmas": ("HK", "Christmas Day"),
}


@cache
def _calendar(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year, language="en_US")


@cache
def holiday_date(key: str, year: int) -> date | None:
    """The first day of holiday `key` in `year` (None if the calendar has none that year)."""
    country, name = HOLIDAYS[key]
    days = _calendar(country, year).get_named(name, lookup="exact")
    return min(days) if days else None


def lunar_to_gregorian(year: int, month: int, day: int) -> date:
    """The Gregorian date of lunar `month`/`day` in the lunar year that begins in Gregorian `year`. A 30th
    in a month of 29 days that year falls on its 29th (how families keep such birthdays)."""
    length = next(m.getDayCount() for m in LunarYear.fromYear(year).getMonthsInYear() if m.getMonth() == month)
    solar = Lunar.fromYmd(year, month, min(day, length)).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def yearly_date(calendar: str, month: int, day: int, year: int) -> date:
    """When a yearly date (Gregorian or lunar month/day) falls in `year`; 29 February falls on the 28th
    in a common year. A lunar date late in the lunar year may fall in January of the next Gregorian year:
    it is the occurrence of lunar year `year`."""
    if calendar == "lunar":
        return lunar_to_gregorian(year, month, day)
    if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    return date(year, month, day)


def next_yearly_date(calendar: str, month: int, day: int, *, on_or_after: date) -> date:
    """The first occurrence of a yearly date on or after `on_or_after`."""
    for year in (on_or_after.year - 1, on_or_after.year, on_or_after.year + 1):
        found = yearly_date(calendar, month, day, year)
        if found >= on_or_after:
            return found
    return yearly_date(calendar, month, day, on_or_after.year + 2)  # unreachable for valid dates


def next_holiday(key: str, *, on_or_after: date) -> date | None:
    for year in (on_or_after.year, on_or_after.year + 1):
        found = holiday_date(key, year)
        if found is not None and found >= on_or_after:
            return found
    return None


def valid_yearly_date(calendar: str, month: int, day: int) -> str | None:
    """Why month/day is no date in `calendar`, or None."""
    if not 1 <= month <= 12:
        return "month must be 1 to 12"
    longest = 30 if calendar == "lunar" else (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= longest:
        return f"day must be 1 to {longest} in {'lunar ' if calendar == 'lunar' else ''}month {month}"
    return None
