"""Knowledge-base articles: writing, changing and deleting them, each audited (`knowledge.create`,
`knowledge.update`, `knowledge.delete`) in the change's transaction. The body is summarised as changed,
never copied into the trail."""

from __future__ import annotations

from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.errors import NotFound
from storage.knowledge import KnowledgeArticle

FIELDS = ("title", "body", "tags", "service_type")


def article_target(article_id: int) -> str:
    return f"knowledge:{article_id}"


def article_or_raise(session: Session, article_id: int) -> KnowledgeArticle:
    article = session.get(KnowledgeArticle, article_id)
    if article is None:
        raise NotFound(f"knowledge-base article {article_id} not found")
    return article


def create_article(session: Session, data: dict, *, actor: str | None) -> KnowledgeArticle:
    now = clock.now()
    article = KnowledgeArticle(**data, author=actor, created_at=now, updated_at=now)
    session.add(article)
    session.flush()
    audit.record(
        session,
        "knowledge.create",
        actor=actor,
        target=article_target(article.id),
        detail={"title": article.title, "service_type": article.service_type},
    )
    return article


def update_article(session: Session, article_id: int, data: dict, *, actor: str | None) -> KnowledgeArticle:
    article = article_or_raise(session, article_id)
    before = audit.snapshot(article, FIELDS)
    for key, value in data.items():
        setattr(article, key, value)
    article.updated_at = clock.now()
    audit.record(
        session,
        "knowledge.update",
        actor=actor,
        target=article_target(article_id),
        detail={"fields": sorted(data), "changes": audit.changes(before, audit.snapshot(article, FIELDS))},
    )
    return article


def delete_article(session: Session, article_id: int, *, actor: str | None) -> None:
    article = article_or_raise(session, article_id)
    audit.record(
        session, "knowledge.delete", actor=actor, target=article_target(article_id), detail={"title": article.title}
    )
    session.delete(article)
