"""Persistence: SQLAlchemy models, queries and Alembic migrations. Imports nothing from engine/ or api/."""
