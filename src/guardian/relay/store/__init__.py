"""The relay store: enrolled edges, the event cache and the forward queue (SQLite or PostgreSQL)."""
