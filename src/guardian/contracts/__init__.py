"""Wire contracts shared between services and devices; no I/O here."""
