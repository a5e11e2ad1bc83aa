"""The edge appliance: cameras, capture ingest, detection, events, recording."""
