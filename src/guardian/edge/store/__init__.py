"""The edge store: tables, migrations and repositories (SQLite or PostgreSQL)."""
