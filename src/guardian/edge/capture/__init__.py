"""Pi-device capture ingest: HTTP route, staging store, queue jobs, detection worker."""
