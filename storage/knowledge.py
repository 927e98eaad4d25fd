"""Knowledge-base articles: what the service desk is offered while working a request."""
from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy import JSON, Index, String, Text, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, BigId, UTCDateTime


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


def search_articles(session: Session, *, q: str | None, service_type: str | None, tag: str | None,
                    limit: int, offset: int) -> tuple[list[KnowledgeArticle], int]:
    """Articles matching every filter, best first when `q` is given.

    PostgreSQL ranks with full-text search (any of the words, ts_rank, title matches first);
    SQLite counts the words found in title (double) and body. Both also match `q` as a
    substring of the title, so unsegmented text (Chinese) is found too."""
    conditions = []
    if service_type:
        conditions.append(KnowledgeArticle.service_type == service_type)
    if tag:
        needle = json.dumps(tag).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(cast(KnowledgeArticle.tags, Text).like(f"%{needle}%", escape="\\"))
    rank = literal(0)
    words = [w for w in re.split(r"\W+", (q or "").casefold()) if w][:20]
    if q and words:
        title, body = func.lower(KnowledgeArticle.title), func.lower(KnowledgeArticle.body)
        phrase = title.contains(q.casefold(), autoescape=True)
        if session.get_bind().dialect.name == "postgresql":
            document = func.to_tsvector(literal_column("'simple'"), KnowledgeArticle.title + " " + KnowledgeArticle.body)
            query = func.to_tsquery(literal_column("'simple'"), " | ".join(_ts_lexeme(w) for w in words))
            conditions.append(or_(document.op("@@")(query), phrase))
            rank = func.ts_rank(document, query) + case((phrase, 1.0), else_=0.0)
        else:
            hits = [case((title.contains(w, autoescape=True), 2), else_=0) + case((body.contains(w, autoescape=True), 1),
                                                                               else_=0) for w in words]
            score = sum(hits[1:], hits[0])
            conditions.append(or_(score > 0, phrase))
            rank = score + case((phrase, 3), else_=0)
    total = session.scalar(select(func.count()).select_from(KnowledgeArticle).where(*conditions))
    rows = session.scalars(select(KnowledgeArticle).where(*conditions)
                           .order_by(rank.desc(), KnowledgeArticle.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def _ts_lexeme(word: str) -> str:
    """A word quoted as one tsquery lexeme, with a prefix match ('invoic' finds 'invoices')."""
    return "'" + word.replace("'", "''").replace("\\", "\\\\") + "':*"
