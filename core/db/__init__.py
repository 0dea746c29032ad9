"""Persistence: SQLModel tables, the engine/session helpers and Alembic migrations."""
