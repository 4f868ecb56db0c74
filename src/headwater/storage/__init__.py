"""Storage adapters: SQLAlchemy 2 (async) over SQLite or PostgreSQL."""
