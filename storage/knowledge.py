"""Knowledge-base articles: what the service desk is offered while working a request."""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy import JSON, Index, String, Text, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, BigId, UTCDateTime
from .text_search import contains_condition, is_cjk, normalise


class KnowledgeArticle(Base):
    __tablename__ = "knowledge_articles"
    __table_args__ = (Index("ix_knowledge_articles_service_type", "service_type"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    service_type: Mapped[str | None] = mapped_column(String(100))
    author: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def search_articles(
    session: Session, *, q: str | None, service_type: str | None, tag: str | None, limit: int, offset: int
) -> tuple[list[KnowledgeArticle], int]:
    """Articles matching every filter, best first when `q` is given, else newest first.

    An article matches when it holds any of the words of `q` (or a word beginning with one), or
    its title holds `q` as it was typed, so unsegmented text (Chinese) is found too. Words in
    the title count for more than words in the body, and `q` in the title most.
    PostgreSQL answers with full-text search (the GIN index of migration 0004) and ts_rank over
    the title weighted above the body; SQLite counts the words found in title (double) and body."""
    conditions = []
    if service_type:
        conditions.append(KnowledgeArticle.service_type == service_type)
    if tag:
        needle = json.dumps(tag).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(cast(KnowledgeArticle.tags, Text).like(f"%{needle}%", escape="\\"))
    rank = literal(0)
    if q:
        dialect = session.get_bind().dialect.name
        phrase = contains_condition(func.lower(KnowledgeArticle.title), normalise(q).strip(), dialect=dialect)
        words = _words(q)
        if not words:
            conditions.append(phrase)
        elif dialect == "postgresql":
            # The same expression as the index, so the index answers the match (the phrase from
            # the title's trigram and CJK gram indexes of migration 0006).
            document = func.to_tsvector(
                literal_column("'simple'"), KnowledgeArticle.title + literal_column("' '") + KnowledgeArticle.body
            )
            query = func.to_tsquery(literal_column("'simple'"), " | ".join(_ts_lexeme(w) for w in words))
            conditions.append(or_(document.op("@@")(query), phrase))
            weighted = func.setweight(
                func.to_tsvector(literal_column("'simple'"), KnowledgeArticle.title), literal_column("'A'")
            ).op("||")(
                func.setweight(
                    func.to_tsvector(literal_column("'simple'"), KnowledgeArticle.body), literal_column("'D'")
                )
            )
            rank = func.ts_rank(weighted, query) + case((phrase, 1.0), else_=0.0)
        else:
            title, body = func.lower(KnowledgeArticle.title), func.lower(KnowledgeArticle.body)
            hits = [
                case((title.contains(w, autoescape=True), 2), else_=0)
                + case((body.contains(w, autoescape=True), 1), else_=0)
                for w in words
            ]
            score = sum(hits[1:], hits[0])
            conditions.append(or_(score > 0, phrase))
            rank = score + case((phrase, 3), else_=0)
    total = session.scalar(select(func.count()).select_from(KnowledgeArticle).where(*conditions))
    order = (
        [rank.desc(), KnowledgeArticle.id.desc()]
        if q
        else [KnowledgeArticle.created_at.desc(), KnowledgeArticle.id.desc()]
    )
    rows = session.scalars(
        select(KnowledgeArticle).where(*conditions).order_by(*order).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def _words(q: str) -> list[str]:
    """The words of `q` worth searching for (at most 20): single Latin letters ('s' of "what's") would
    match nearly every article, a single Chinese character would not."""
    words = [w for w in re.split(r"\W+", normalise(q)) if len(w) > 1 or is_cjk(w)]
    return list(dict.fromkeys(words))[:20]


def _ts_lexeme(word: str) -> str:
    """A word quoted as one tsquery lexeme, with a prefix match ('invoic' finds 'invoices')."""
    return "'" + word.replace("'", "''").replace("\\", "\\\\") + "':*"
