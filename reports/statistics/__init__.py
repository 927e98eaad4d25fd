"""Statistics computed by the database: each `name(session, filters) -> Table` (see reports/tables.py)."""
