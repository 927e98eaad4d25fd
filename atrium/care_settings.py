"""The firm's relationship-care settings: which holidays it observes, the language of a greeting to a
client with none of its own, and per tier which occasions get care, what kind (gift, greeting mail,
call) and how many days before the occasion the owner's task appears. Changes are validated (422 naming
the field) and audited as `settings.care`."""

from __future__ import annotations

import copy

from sqlalchemy.orm import Session

from atrium import audit, clock, i18n
from atrium.care_calendar import HOLIDAYS
from atrium.errors import InvalidInput
from storage.care import CARE_DATE_KINDS
from storage.firm_settings import CARE, FirmSetting, setting_value

TIERS = ("A", "B", "C")
CARE_KINDS = ("gift", "greeting_mail", "call")
# An occasion is one of the kinds of care date, or "holiday" (each holiday the firm observes).
OCCASIONS = (*CARE_DATE_KINDS, "holiday")

DEFAULTS: dict = {
    # Off until the firm switches it on: care sends mail to clients, which no deployment should start alone.
    "enabled": False,
    "holidays": ["new_year", "spring_festival", "dragon_boat", "mid_autumn", "national_day"],
    "default_locale": "zh-CN",
    "tiers": {
        "A": {"occasions": list(OCCASIONS), "care": "gift", "days_before": 14},
        "B": {
            "occasions": ["birthday", "engagement_anniversary", "holiday"],
            "care": "greeting_mail",
            "days_before": 7,
        },
        "C": {"occasions": ["holiday"], "care": "greeting_mail", "days_before": 3},
    },
}


def care_settings(session: Session) -> dict:
    """The settings in force: the firm's, or the defaults."""
    return setting_value(session, key=CARE, default=None) or copy.deepcopy(DEFAULTS)


def _problems(data: dict) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}

    def fault(path: str, message: str) -> None:
        problems.setdefault(path, []).append(message)

    for name in sorted(set(data) - set(DEFAULTS)):
        fault(name, "unknown field")
    for name in sorted(set(DEFAULTS) - set(data)):
        fault(name, "missing")
    if "enabled" in data and not isinstance(data["enabled"], bool):
        fault("enabled", "must be true or false")
    holidays = data.get("holidays")
    if "holidays" in data:
        if not isinstance(holidays, list) or not all(isinstance(h, str) for h in holidays):
            fault("holidays", "must be a list of holiday names")
        else:
            for index, key in enumerate(holidays):
                if key not in HOLIDAYS:
                    fault(f"holidays.{index}", f"unknown holiday; one of {', '.join(HOLIDAYS)}")
    if "default_locale" in data and data["default_locale"] not in i18n.SUPPORTED:
        fault("default_locale", f"must be one of {', '.join(i18n.SUPPORTED)}")
    tiers = data.get("tiers")
    if "tiers" in data and not isinstance(tiers, dict):
        fault("tiers", "must be an object with A, B and C")
        return problems
    for tier in sorted(set(tiers or {}) - set(TIERS)):
        fault(f"tiers.{tier}", "unknown tier; A, B or C")
    for tier in TIERS if "tiers" in data else ():
        rule, path = tiers.get(tier), f"tiers.{tier}"
        if not isinstance(rule, dict):
            fault(path, "missing")
            continue
        for name in sorted(set(rule) - {"occasions", "care", "days_before"}):
            fault(f"{path}.{name}", "unknown field")
        occasions = rule.get("occasions")
        if not isinstance(occasions, list) or not all(o in OCCASIONS for o in occasions):
            fault(f"{path}.occasions", f"must be a list of {', '.join(OCCASIONS)}")
        if rule.get("care") not in CARE_KINDS:
            fault(f"{path}.care", f"must be one of {', '.join(CARE_KINDS)}")
        days = rule.get("days_before")
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 60:
            fault(f"{path}.days_before", "must be a whole number of days from 0 to 60")
    return problems


def set_care_settings(engine, session: Session, data: dict, *, actor: str | None) -> dict:
    """Replace the care settings (refused naming each faulty field, nothing written); audited with what
    changed. Switching care on starts every active client's care cycle, switching it off cancels them."""
    from atrium.care_cycles import sync_all_care_cycles  # the cycles read these settings

    problems = _problems(data)
    if problems:
        raise InvalidInput("the care settings are not valid", problems)
    data = {**data, "holidays": list(dict.fromkeys(data["holidays"]))}  # each once, in the order given
    previous = care_settings(session)
    session.merge(FirmSetting(key=CARE, value=data, updated_at=clock.now(), updated_by=actor))
    session.flush()
    detail = audit.changes(previous, data)
    if data["enabled"] != previous["enabled"]:
        detail["care_cycles"] = sync_all_care_cycles(engine, session, enabled=data["enabled"], actor=actor)
    audit.record(session, "settings.care", actor=actor, target=f"settings:{CARE}", detail=detail)
    return data
