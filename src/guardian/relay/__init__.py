"""The per-tenant relay: enrols edges, caches their events and forwards summaries."""
