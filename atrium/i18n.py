"""Languages: which the server speaks, choosing one from Accept-Language, its message catalogues,
and how numbers, amounts and dates are written in each."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

SUPPORTED = ("en", "zh-CN")
DEFAULT = "en"
_LOCALES_DIR = Path(__file__).parent / "locales"
_Q_VALUE = re.compile(r"^q=([0-9.]+)$")


def negotiate(accept_language: str | None) -> str:
    """The supported locale a browser's Accept-Language prefers (q-values honoured); any Chinese
    (zh, zh-CN, zh-Hans, zh-TW, ...) is zh-CN, and anything else English."""
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            match = _Q_VALUE.match(param.replace(" ", ""))
            if match:
                try:
                    quality = float(match.group(1))
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.lower()))
    for _, _, tag in sorted(ranked):
        locale = supported_locale(tag)
        if locale is not None:
            return locale
    return DEFAULT


def supported_locale(tag: str) -> str | None:
    """The supported locale a language tag means, or None."""
    primary = tag.lower().replace("_", "-").split("-")[0]
    return {"zh": "zh-CN", "en": "en"}.get(primary)


@cache
def catalogue(locale: str) -> dict[str, str]:
    """A locale's server messages (atrium/locales/<locale>.json): key or English text -> text."""
    path = _LOCALES_DIR / f"{locale}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@cache
def _patterns(locale: str) -> list[tuple[re.Pattern, str]]:
    """Catalogue entries whose English has `{placeholders}`, as regular expressions matching a
    message already formatted in English (`task 42 not found`), so the raising code keeps its
    f-string and the message is still translated."""
    patterns = []
    for english, translated in catalogue(locale).items():
        if not _PLACEHOLDER.search(english):
            continue
        pieces, last = [], 0
        for match in _PLACEHOLDER.finditer(english):
            pieces.append(re.escape(english[last : match.start()]))
            pieces.append(f"(?P<{match.group(1)}>.+?)")
            last = match.end()
        pieces.append(re.escape(english[last:]))
        patterns.append((re.compile("^" + "".join(pieces) + "$", re.DOTALL), translated))
    return patterns


def translate(key_or_english: str, locale: str, **params) -> str:
    """The message in `locale`, falling back to its English text (never to a key).

    `key_or_english` is a key of the English catalogue or the English text itself; an English
    message formatted from a `{placeholder}` entry is recognised and translated with its values."""
    english = catalogue("en").get(key_or_english, key_or_english)
    text = None
    if locale != "en":
        table = catalogue(locale)
        text = table.get(key_or_english) or table.get(english)
        if text is None and not params:
            for pattern, translated in _patterns(locale):
                match = pattern.match(english)
                if match:
                    params = {name: _formatted_parts(value, locale) for name, value in match.groupdict().items()}
                    text = translated
                    break
    text = text or english
    params = localized(params, locale)
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return english
    return text


class Term:
    """A message parameter that is itself a catalogue message (with its own parameters), written in the
    reader's locale when the message is: `translate(key, "zh-CN", outcome=Term("approval.outcome.approved"))`."""

    def __init__(self, key: str, **params):
        self.key, self.params = key, params

    def __repr__(self) -> str:
        return f"Term({self.key!r}, **{self.params!r})"


def localized(params: dict, locale: str) -> dict:
    """`params` with every Term written in `locale`."""
    return {
        name: translate(value.key, locale, **localized(value.params, locale)) if isinstance(value, Term) else value
        for name, value in params.items()
    }


# How a list of reasons is joined: "; " in English, "；" in Chinese.
LIST_SEPARATOR = {"en": "; ", "zh-CN": "；"}


def _formatted_parts(value: str, locale: str) -> str:
    """A value caught by a placeholder that is itself a formatted message, or several joined by "; "
    (`client 5 cannot be erased: it has 1 open engagement(s); it has 2 running ...`), each part in
    `locale`. Only formatted messages: a plain value that happens to be a catalogue key (an id, a
    status) stays as it was."""
    parts = value.split(LIST_SEPARATOR["en"])
    translated = []
    for part in parts:
        for pattern, text in _patterns(locale):
            match = pattern.match(part)
            if match:
                try:
                    part = text.format(**{k: _formatted_parts(v, locale) for k, v in match.groupdict().items()})
                except (KeyError, IndexError, ValueError):
                    pass
                break
        translated.append(part)
    return LIST_SEPARATOR.get(locale, LIST_SEPARATOR["en"]).join(translated)


# Formats ------------------------------------------------------------------------------------
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _decimal(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def format_number(value, locale: str) -> str:
    """1234567.5 -> '1,234,567.5' (both locales group by thousands); a non-number as it is."""
    number = _decimal(value)
    if number is None:
        return str(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,f}".rstrip("0").rstrip(".")


def format_money(value, locale: str) -> str:
    """An amount in yuan: '¥42,000', '¥42,000.50' (cents shown only when there are some)."""
    number = _decimal(value)
    if number is None:
        return str(value)
    sign = "-" if number < 0 else ""
    number = abs(number).quantize(Decimal("0.01"))
    text = f"{int(number):,}" if number == number.to_integral_value() else f"{number:,.2f}"
    return f"{sign}¥{text}"


def format_date(value, locale: str) -> str:
    """A date (or the date of an ISO datetime): '29 Nov 2026', or '2026年11月29日' in Chinese."""
    day = _as_date(value)
    if day is None:
        return str(value)
    if locale == "zh-CN":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromisoformat(text).date()
        except ValueError:
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                return None
    return None
