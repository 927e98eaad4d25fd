"""Substring search that PostgreSQL answers from indexes: trigrams (pg_trgm) for three characters
or more, CJK grams (`atrium_cjk_grams`, migration 0006) for one or two Chinese, Japanese or
Korean characters, which trigrams cannot narrow down. Elsewhere it is a plain LIKE."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import Text, and_, cast, func
from sqlalchemy.dialects import postgresql

# The same class as `atrium_cjk_grams` in migration 0006.
CJK_CHARACTERS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
_ALL_CJK = re.compile(f"[{CJK_CHARACTERS}]+")


def normalise(text: str) -> str:
    """What searched text and needles are compared as: NFKC (full-width letters as ASCII), case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def is_cjk(text: str) -> bool:
    return bool(_ALL_CJK.fullmatch(text))


def contains_condition(column, needle: str, *, dialect: str):
    """`needle` (already normalised) as a substring of `column`, whose text is normalised too.

    On PostgreSQL the column expression needs a trigram GIN index, and a GIN index of
    atrium_cjk_grams(column) for 1- and 2-character CJK needles."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    substring = column.like(f"%{escaped}%", escape="\\")
    if dialect == "postgresql" and len(needle) <= 2 and is_cjk(needle):
        grams = func.atrium_cjk_grams(column).op("@>")(cast(postgresql.array([needle]), postgresql.ARRAY(Text)))
        return and_(grams, substring)
    return substring
