"""Persistence: the SQLModel tables, connections and transactions (connection.py), counters and
case numbers (numbering.py), the throughput path for bulk writes, and Alembic migrations."""
